"""A probe command's output, and what exit statuses in it say beyond the command (pure).

A command the shell cannot find exits 127. `launchctl` is on every Mac, so a host where
the shell cannot find it is not a Mac at all: the inventory or ssh_config reaches some
other machine. Audit and deploy both read it here, from the `launchctl print` of their
batch. `launchctl print` exits 112 or 113 when the domain or the label is not there
(FACTS 2.7): nothing is loaded, which is an answer, not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

Output = tuple[int, str, str]  # one probe command's exit status, stdout and stderr

NOT_LOADED = frozenset({112, 113})  # no such domain / no such service (FACTS 2.7)


class ShellExit(IntEnum):
    NOT_EXECUTABLE = 126
    COMMAND_NOT_FOUND = 127


@dataclass(frozen=True)
class NotAMac:
    """`launchctl` was not found on `host`: how audit and deploy say it."""

    host: str

    @property
    def detail(self) -> str:
        """An audit finding's detail."""
        return f"launchctl not found on {self.host}: it is not a macOS host"

    @property
    def refusal(self) -> str:
        """A deploy's refusal, which names its host first like every other."""
        return f"{self.host}: launchctl not found: it is not a macOS host"

    @property
    def hint(self) -> str:
        return f"check which machine `{self.host}` reaches: its inventory hostname or ssh_config"


def not_a_mac(host: str, launchctl_rc: int) -> NotAMac | None:
    """The host is no Mac when the shell could not find `launchctl` (exit 127)."""
    return NotAMac(host) if launchctl_rc == ShellExit.COMMAND_NOT_FOUND else None
