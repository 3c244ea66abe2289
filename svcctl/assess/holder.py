"""Who holds a service's guard lock, as a note on the finding (pure, issue 10 §2).

The probe reads the record in `/tmp/svcctl-guard/<service>.lock` when it is a plain file;
`svcctl.guard` (the stdlib-only file that also runs on the hosts) owns the record's format,
so its pure `parse_record` and `judge` read it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC

from svcctl.guard import StartTime, judge, parse_record
from svcctl.model import Finding, ProcInfo, Verdict


def apply_guard_holder(finding: Finding, lock: bytes, procs: Sequence[ProcInfo]) -> Finding:
    """Name the guard lock's holder in the finding, when the process table already counts it.

    The guard directory is 0666 on purpose (svcctl.guard): any local user can write a
    record naming any pid. So the record is a hint, never evidence: it only adds a note
    to an instance the process table identified (launchd's, or a stray that matched the
    program), and never adds an instance nor changes the verdict (issue 10 §2).
    """
    record = parse_record(lock)
    if record is None:
        return finding  # free, or being written this instant
    known = {i.proc.pid: i for i in finding.instances}
    instance = known.get(int(record["pid"]))
    if instance is None:
        return finding  # not a process the table calls an instance: nothing to say
    proc = instance.proc
    live = None
    if proc.started is not None:
        epoch = proc.started.replace(tzinfo=UTC).timestamp()
        live = StartTime(epoch, f"lstart:{int(epoch)}")
    holder = judge(record, live, True)
    if holder.same_process is False:
        return finding  # the holder is gone and its pid reused: the lock is free
    note = (f"guard lock held by pid {holder.pid} since {holder.since} "
            f"({' '.join(holder.command) or proc.command})")
    if finding.verdict is Verdict.BLOCKED and not instance.managed:
        note = f"blocked by pid {holder.pid}: " + note
    return replace(finding, detail=f"{note}; {finding.detail}")
