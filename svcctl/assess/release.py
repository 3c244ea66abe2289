"""Deployed but not restarted: launchd's instance runs another release than `current`
(pure, issue 13).

Every instance carries the release it runs (`Instance.release`, read from the path it
runs: the plist names the concrete `<root>/releases/<id>`) and the finding the release
`<root>/current` links to (`Finding.current_release`, from the real path the probe
resolved through it). When both are known and differ, the service was deployed (or
`current` switched by hand) and launchd's job never restarted: `stale`. Only where the
rest of the verdict is `ok`: a stray, a duplicate, a second copy waiting in another
domain say more, and keep their verdict (the detail still notes the old release). An
untold release or an untold `current` is never a guess: no `stale`.
"""

from __future__ import annotations

from dataclasses import replace

from svcctl.model import Finding, Instance, Verdict
from svcctl.procs.matching import CURRENT

# verdicts whose detail gains the note: launchd's instance runs beside what they report
NOTED = frozenset({Verdict.DUPLICATE, Verdict.UNFENCED})


def stale_instance(finding: Finding) -> Instance | None:
    """launchd's instance when it runs a known release other than the known current one."""
    current = finding.current_release
    if current is None or current == CURRENT:
        return None
    for inst in finding.instances:
        # `current` as an instance's release: its path went through a `current` the probe
        # did not resolve, so which release it runs is untold
        if inst.managed and inst.release not in (None, CURRENT, current):
            return inst
    return None


def stale_detail(inst: Instance, current: str) -> str:
    return (f"deployed but not restarted: launchd's pid {inst.proc.pid} runs release "
            f"{inst.release}, current is {current}")


def judge_release(finding: Finding) -> Finding:
    """`ok` becomes `stale` when launchd's instance runs an old (or other) release; a
    duplicate or an unfenced host keeps its verdict, with the same words in its detail."""
    inst = stale_instance(finding)
    if inst is None or finding.current_release is None:
        return finding
    words = stale_detail(inst, finding.current_release)
    if finding.verdict is Verdict.OK:
        return replace(finding, verdict=Verdict.STALE, detail=words)
    if finding.verdict in NOTED:
        return replace(finding, detail=f"{finding.detail}; also, {words}")
    return finding
