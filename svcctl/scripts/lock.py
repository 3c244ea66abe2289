"""The deploy lock's remote scripts (svcctl.ops.lock) and what their exits mean.

Four scripts, run in the shared lock directory: `lock_acquire.sh` (an `ln`, no breaker)
and `lock_takeover.sh`, `lock_renew.sh`, `lock_release.sh`, which first take the
service's breaker (`lock_breaker.sh`). All start with `lock_common.sh`'s checks. Their
exit codes map to a `LockOutcome` in one table, `_BY_RC`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from svcctl.host.base import Host, Result
from svcctl.scripts import Script

ACQUIRE = Script("lock_acquire.sh", __name__)
TAKEOVER = Script("lock_takeover.sh", __name__)
RENEW = Script("lock_renew.sh", __name__)
RELEASE = Script("lock_release.sh", __name__)


class LockOutcome(Enum):
    DONE = "done"  # taken, taken over, renewed or released
    HELD = "held"  # acquire: another record is there (on stdout, its file's owner on stderr)
    CHANGED = "changed"  # the file holds another record than the one expected (on stdout)
    GONE = "gone"  # release: no lock file
    BUSY = "busy"  # another takeover or release kept the breaker for ~5 s
    STALE_BREAKER = "stale breaker"  # old, and cannot be removed (refused)
    CANNOT_WRITE = "cannot write"
    UNTRUSTED_DIR = "untrusted directory"  # a link, not ours, or others may write (refused)
    NOT_PLAIN = "not a plain file"  # the lock file is a link, FIFO, ... (refused)
    FAILED = "failed"  # any other exit: the shell's or the transport's

    @property
    def refused(self) -> bool:
        """The script named a path it will not touch, and its owner (on stderr)."""
        return self in _REFUSED


_BY_RC = {0: LockOutcome.DONE, 3: LockOutcome.HELD, 4: LockOutcome.CHANGED,
          5: LockOutcome.GONE, 6: LockOutcome.BUSY, 7: LockOutcome.STALE_BREAKER,
          70: LockOutcome.CANNOT_WRITE, 71: LockOutcome.UNTRUSTED_DIR,
          72: LockOutcome.NOT_PLAIN}
_REFUSED = frozenset({LockOutcome.STALE_BREAKER, LockOutcome.UNTRUSTED_DIR,
                      LockOutcome.NOT_PLAIN})


@dataclass(frozen=True)
class LockRun:
    outcome: LockOutcome
    result: Result  # stdout: the record found, where the outcome says one is there


def run(host: Host, script: Script, directory: str, *args: str) -> LockRun:
    """Run one lock script: `directory`, then the script's own arguments."""
    r = host.run(script.argv(directory, *args))
    return LockRun(_BY_RC.get(r.rc, LockOutcome.FAILED), r)


def acquire(host: Host, directory: str, lock: str, template: str, record: str) -> LockRun:
    """DONE, or HELD (the holder's record on stdout)."""
    return run(host, ACQUIRE, directory, lock, template, record)


def take_over(host: Host, directory: str, breaker: str, lock: str, expected: str,
              template: str, record: str) -> LockRun:
    """Replace exactly `expected` with `record`: DONE, CHANGED or BUSY."""
    return run(host, TAKEOVER, directory, breaker, lock, expected, template, record)


def renew(host: Host, directory: str, breaker: str, lock: str, ours: str, template: str,
          renewed: str) -> LockRun:
    """Replace our record with `renewed`: DONE, CHANGED (not ours any more) or BUSY."""
    return run(host, RENEW, directory, breaker, lock, ours, template, renewed)


def release(host: Host, directory: str, breaker: str, lock: str, ours: str) -> LockRun:
    """Remove the lock if it holds our record: DONE, CHANGED, GONE or BUSY."""
    return run(host, RELEASE, directory, breaker, lock, ours)
