"""The fence's scripts (svcctl.ops.fence): move plists aside, and clear a fence.

`fence_move.sh` moves each plist (and its `.previous`) into the fenced directory;
`fence_clear.sh` drops the fence record and the moved copies when a deploy returns.
"""

from __future__ import annotations

from enum import Enum

from svcctl.host.base import Host, Result
from svcctl.scripts import Script

MOVE = Script("fence_move.sh", __name__)
CLEAR = Script("fence_clear.sh", __name__)


class Moved(Enum):
    MOVED = "moved"  # every plist that was there is in the fenced directory
    FAILED = "failed"  # mkdir or a mv failed: stderr says why


def move_argv(fence_dir: str, moves: tuple[tuple[str, str], ...]) -> list[str]:
    return MOVE.argv(fence_dir, *(x for pair in moves for x in pair))


def move_aside(host: Host, fence_dir: str,
               moves: tuple[tuple[str, str], ...]) -> tuple[Moved, Result]:
    r = host.run(move_argv(fence_dir, moves))
    return (Moved.MOVED if r.ok else Moved.FAILED), r


def clear_argv(fence_dir: str, label: str) -> list[str]:
    """Remove `label`'s fence record and moved plists; rc 0 also when nothing is there."""
    return CLEAR.argv(fence_dir, label)
