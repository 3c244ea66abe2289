"""adopt's signal script (`kill_signal.sh`, svcctl.ops.kill) and what it says per pid.

One remote call signals every process given, each re-identified there first; the script
prints `PID TOKEN` per process, and the tokens map to `Signalled` in one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from svcctl.host.base import Host
from svcctl.model import ProcInfo
from svcctl.scripts import Script

SIGNAL = Script("kill_signal.sh", __name__)


class Signalled(Enum):
    SENT = "sent"
    ALIVE = "alive"  # signal 0: still the process identified
    GONE = "gone"
    CHANGED = "changed"  # the pid now runs another process (start time or command differ)
    REFUSED = "refused"  # PID <= 1
    LAUNCHD = "launchd"  # launchd's own pid for the label, in one of the targets
    FAILED = "failed"  # `kill` failed (why follows), or the script gave no verdict


_BY_TOKEN = {s.value: s for s in Signalled if s is not Signalled.FAILED}


@dataclass(frozen=True)
class SignalReport:
    verdict: Signalled
    why: str = ""  # FAILED: kill's error, or the script's exit

    @property
    def text(self) -> str:
        """As the script said it: `sent`, ..., `failed: why`."""
        return f"failed: {self.why}" if self.verdict is Signalled.FAILED else self.verdict.value


def parse_verdict(said: str) -> SignalReport:
    if said.startswith("failed: "):
        return SignalReport(Signalled.FAILED, said[8:])
    verdict = _BY_TOKEN.get(said)
    return SignalReport(verdict) if verdict else SignalReport(Signalled.FAILED, said)


def signal_each(host: Host, targets: Sequence[str], procs: Sequence[ProcInfo],
                sig: str) -> dict[int, SignalReport]:
    """One remote call: signal each process that still is the one identified and is not
    the label's launchd pid in any of `targets` (sig "0": only check)."""
    args = [x for p in procs for x in (str(p.pid), p.started_raw, p.command)]
    r = host.run(SIGNAL.argv(" ".join(targets), sig, *args))
    said = dict(line.partition(" ")[::2] for line in r.stdout.splitlines())
    missing = SignalReport(Signalled.FAILED, f"exit {r.rc} {r.tail()}")
    return {p.pid: parse_verdict(said[str(p.pid)]) if said.get(str(p.pid)) else missing
            for p in procs}
