"""Emulator configuration: `<root>/emulator.json` plus command-line paths (DESIGN.md)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("launchd")

# Alternatives FACTS lists for behaviours whose real value is unconfirmed.
_CHOICES: dict[str, tuple[object, ...]] = {
    "already_loaded_code": (5, 17, 37),  # FACTS 2.1
    "session_mismatch_code": (134, 5),  # FACTS 1.4
    "kickstart_running_code": (0, 37),  # FACTS 2.3
    "print_disabled_style": ("ventura", "legacy"),  # FACTS 2.6
    "bootstrap_disabled_fails": (True, False),  # FACTS 2.1 (muxa outlier)
}


@dataclass(frozen=True)
class Config:
    root: Path
    passwd: Path = Path("/etc/passwd")
    group: Path = Path("/etc/group")
    library: Path = Path("/Library")
    console_uids: tuple[int, ...] = ()
    exit_timeout: int = 5  # FACTS 4: modern captures show `exit timeout = 5`
    throttle_interval: int = 10  # FACTS 4: ThrottleInterval default
    already_loaded_code: int = 5
    session_mismatch_code: int = 134
    kickstart_running_code: int = 0
    print_disabled_style: str = "ventura"
    bootstrap_disabled_fails: bool = True
    pathstate_poll: float = 0.5
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def socket_path(self) -> Path:
        return self.root / "launchd.sock"

    @property
    def overrides_dir(self) -> Path:
        return self.root / "overrides"


def _read_raw(path: Path) -> dict[str, object]:
    """The JSON object in `path`; {} when it is missing, unreadable or not an object."""
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s), using defaults", path, exc)
        return {}
    if not isinstance(loaded, dict):
        log.warning("%s: not a JSON object, using defaults", path)
        return {}
    return loaded


def _chosen_values(raw: dict[str, object]) -> dict[str, object]:
    """The FACTS alternatives that `raw` picks; a value not among them is warned about."""
    kwargs: dict[str, object] = {}
    for key, choices in _CHOICES.items():
        if key in raw:
            if raw[key] in choices and type(raw[key]) is type(choices[0]):
                kwargs[key] = raw[key]
            else:
                log.warning("emulator.json: %s=%r not in %r, using default", key, raw[key], choices)
    return kwargs


def _tuning_values(raw: dict[str, object]) -> dict[str, object]:
    """Timings and console logins from `raw`; a value of the wrong type or sign is dropped."""
    kwargs: dict[str, object] = {}
    for key in ("exit_timeout", "throttle_interval"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            kwargs[key] = value
    poll = raw.get("pathstate_poll")
    if isinstance(poll, int | float) and not isinstance(poll, bool) and poll > 0:
        kwargs["pathstate_poll"] = float(poll)
    uids = raw.get("console_uids", [])
    if isinstance(uids, list) and all(isinstance(u, int) for u in uids):
        kwargs["console_uids"] = tuple(uids)
    return kwargs


def load_config(root: Path, passwd: Path, group: Path, library: Path) -> Config:
    """Read `<root>/emulator.json`; a missing file, key or bad value means the default."""
    raw = _read_raw(root / "emulator.json")
    defaults = Config(root=root)
    kwargs = _chosen_values(raw) | _tuning_values(raw)
    cfg = Config(
        root=root,
        passwd=passwd,
        group=group,
        library=library,
        extra={k: v for k, v in raw.items() if not hasattr(defaults, k)},
        **kwargs,  # type: ignore[arg-type]
    )
    return cfg
