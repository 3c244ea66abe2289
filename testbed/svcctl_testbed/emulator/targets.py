"""Domain and service target specifiers (FACTS 1.1)."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import EX_USAGE, LaunchctlError

_UNRECOGNIZED = (
    "Unrecognized target specifier. <service-target> takes a form of "
    "<domain-target>/<service-id>."
)
_KINDS_WITH_HANDLE = ("user", "gui", "login", "session", "pid")


@dataclass(frozen=True)
class Target:
    kind: str  # system | user | gui | login | session | pid
    handle: int  # uid, asid or pid; 0 for system
    name: str | None  # the service label, if the specifier has one

    @property
    def domain_text(self) -> str:
        return "system" if self.kind == "system" else f"{self.kind}/{self.handle}"


def parse_target(text: str, usage: str) -> Target:
    """Split `<domain>/<handle>/<label>`; unknown forms are usage errors, exit 64 (FACTS 1.1)."""
    parts = text.split("/", 2)
    kind = parts[0]
    if kind == "system":
        name = parts[1] if len(parts) > 1 and parts[1] else None
        if len(parts) == 3 and parts[2]:
            name = f"{parts[1]}/{parts[2]}"
        return Target("system", 0, name)
    if kind in _KINDS_WITH_HANDLE and len(parts) >= 2 and parts[1].isdigit():
        name = parts[2] if len(parts) == 3 and parts[2] else None
        return Target(kind, int(parts[1]), name)
    raise LaunchctlError(EX_USAGE, f"{_UNRECOGNIZED}\n{usage}")


def domain_description(kind: str, handle: int) -> str:
    """The `for ...` part of `Could not find ... domain for ...` (FACTS 1.4)."""
    if kind == "system":
        return "system"
    if kind == "gui":
        return f"user gui: {handle}"
    if kind == "user":
        return f"uid: {handle}"
    if kind in ("login", "session"):
        return f"asid: {handle}" if kind == "session" else f"login: {handle}"
    return f"pid: {handle}"
