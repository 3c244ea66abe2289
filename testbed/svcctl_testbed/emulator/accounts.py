"""User and group lookups from passwd/group files.

The files are read directly (not through NSS) so a dev harness can point the
emulator at its own `--passwd`/`--group` without touching the machine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def _rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


class Accounts:
    """Re-reads the files on every lookup: they are small and may change at runtime."""

    def __init__(self, passwd: Path, group: Path) -> None:
        self._passwd = passwd
        self._group = group

    def _all(self) -> list[Account]:
        out = []
        for row in _rows(self._passwd):
            if len(row) >= 7 and row[2].isdigit() and row[3].isdigit():
                out.append(Account(row[0], int(row[2]), int(row[3]), row[5], row[6]))
        return out

    def by_uid(self, uid: int) -> Account | None:
        return next((a for a in self._all() if a.uid == uid), None)

    def by_name(self, name: str) -> Account | None:
        return next((a for a in self._all() if a.name == name), None)

    def group_gid(self, name: str) -> int | None:
        for row in _rows(self._group):
            if len(row) >= 3 and row[0] == name and row[2].isdigit():
                return int(row[2])
        return None

    def group_name(self, gid: int) -> str | None:
        for row in _rows(self._group):
            if len(row) >= 3 and row[2] == str(gid):
                return row[0]
        return None

    def supplementary_gids(self, account: Account) -> list[int]:
        """Primary gid plus every group listing the user as a member (like initgroups)."""
        gids = [account.gid]
        for row in _rows(self._group):
            if len(row) >= 4 and row[2].isdigit() and account.name in row[3].split(","):
                gid = int(row[2])
                if gid not in gids:
                    gids.append(gid)
        return gids
