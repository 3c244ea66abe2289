"""The enable/disable database, persisted under `<root>/overrides/` (FACTS 2.5).

Like `/var/db/com.apple.xpc.launchd/disabled*.plist`: one plist per domain
owner mapping label -> true (disabled) / false (enabled). `user/<uid>` and
`gui/<uid>` share `disabled.<uid>.plist` (DESIGN.md). Entries are never removed.
"""

from __future__ import annotations

import logging
import os
import plistlib
from pathlib import Path

log = logging.getLogger("launchd")


class Overrides:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _file(self, kind: str, uid: int) -> Path:
        return self._dir / ("disabled.plist" if kind == "system" else f"disabled.{uid}.plist")

    def read(self, kind: str, uid: int) -> dict[str, bool]:
        path = self._file(kind, uid)
        try:
            with path.open("rb") as fh:
                data = plistlib.load(fh)
        except FileNotFoundError:
            return {}
        except (OSError, plistlib.InvalidFileException, ValueError) as exc:
            log.warning("%s: unreadable overrides (%s); treating as empty", path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, bool)}

    def lookup(self, kind: str, uid: int, label: str) -> bool | None:
        """True = disabled, False = enabled, None = no entry (the plist's Disabled key rules)."""
        return self.read(kind, uid).get(label)

    def set(self, kind: str, uid: int, label: str, disabled: bool) -> None:
        entries = self.read(kind, uid)
        entries[label] = disabled
        path = self._file(kind, uid)
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            plistlib.dump(entries, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # root-owned 0644 like the real file (FACTS 2.5)
        os.replace(tmp, path)
