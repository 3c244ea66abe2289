"""Managed vs stray instances, and the audit verdict for one service on one host.

PPID 1 proves nothing (FACTS 5.1): an instance is *managed* only when it is launchd's pid
for the label in the expected domain, or descends from it through the ppid chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from svcctl.model import Finding, Instance, JobState, ProcInfo, ServiceSpec, Verdict
from svcctl.procs.matching import (
    Match,
    Matcher,
    describe_run,
    match_process,
    matcher_for,
    release_of,
)


def _ancestors(pid: int, by_pid: Mapping[int, ProcInfo]) -> Iterable[int]:
    seen = {pid}
    proc = by_pid.get(pid)
    while proc is not None and proc.ppid not in seen and proc.ppid > 0:
        seen.add(proc.ppid)
        yield proc.ppid
        proc = by_pid.get(proc.ppid)


def find_instances(
    procs: Sequence[ProcInfo],
    m: Matcher,
    owners: Mapping[int, str],
    expected_owner: str | None,
    ignore_pids: frozenset[int] = frozenset(),
) -> tuple[list[Instance], list[ProcInfo]]:
    """Instances (each with its matching descendants folded in) and hidden candidates.

    `owners` maps launchd's pid for the label, in each domain that has it loaded, to that
    service-target; those pids count as instances even if their command does not match.
    """
    by_pid = {p.pid: p for p in procs}
    kinds = {p.pid: match_process(p, m) for p in procs if p.pid not in ignore_pids}
    candidates = {pid for pid, k in kinds.items() if k is Match.INSTANCE}
    candidates |= {pid for pid in owners if pid in by_pid}
    hidden = [by_pid[pid] for pid, k in kinds.items() if k is Match.HIDDEN]
    out = []
    for pid in sorted(candidates):
        chain = list(_ancestors(pid, by_pid))
        if any(a in candidates for a in chain):
            continue  # folded into its matching ancestor's instance
        owner = next((owners[p] for p in (pid, *chain) if p in owners), None)
        kids = tuple(c for c in sorted(candidates) if pid in _ancestors(c, by_pid))
        if owner is None:
            reason = "not started by launchd for this label (stray)"
        elif owner == expected_owner:
            reason = f"launchd's own ({owner})"
        else:
            reason = f"launchd's job in another domain ({owner})"
        if pid in owners and kinds.get(pid) is not Match.INSTANCE:
            reason += "; it does not run the service's program"
        reason += f"; {describe_run(by_pid[pid], m)}"  # the evidence (issue 10)
        out.append(
            Instance(
                by_pid[pid], owner == expected_owner and owner is not None, owner, kids, reason,
                release_of(by_pid[pid], m),
            )
        )
    return out, hidden


def is_crashlooping(job: JobState) -> bool:
    """One snapshot's evidence of a respawn loop (FACTS 3.3 `spawn scheduled`, FIELD G).

    Never `successive crashes`: macOS 13 and later omit it even at 22138 runs (FACTS 3.3
    corrections). `spawn scheduled` is launchd waiting out the throttle after a run that
    ended too soon; `list <label>` has no state, so there it is KeepAlive with a failed
    last exit and no process.
    """
    if job.pid is not None:
        return False
    if job.state == "spawn scheduled":
        return True
    failed = (job.last_exit_code or 0) != 0 or job.last_signal is not None
    return job.on_demand is False and failed  # `list <label>`: KeepAlive yet not running


def is_known_running(job: JobState) -> bool:
    """launchd runs the job: a pid, and no `state` other than `running` (FACTS 3.3).

    launchd has more states than are documented (`xpcproxy` between spawn and exec,
    `SIGTERMed` while stopping); any state but `running` is not known to be running.
    `list <label>` prints no state at all, so there the pid alone decides.
    """
    return job.pid is not None and job.state in (None, "running")


def detect_respawn(before: JobState, after: JobState) -> bool:
    """Two snapshots across a stay-up window: launchd started the job again in between."""
    if before.pid is not None and after.pid is not None and before.pid != after.pid:
        return True
    return before.runs is not None and after.runs is not None and after.runs > before.runs


def _describe(instances: Sequence[Instance]) -> str:
    return "; ".join(
        f"pid {i.proc.pid} (user {i.proc.user}, ppid {i.proc.ppid}, "
        f"started {i.proc.started_raw}): {i.reason}"
        for i in instances
    )


Judgement = tuple[Verdict, str]  # a verdict and its detail line


def classify_service(
    service: ServiceSpec,
    host: str,
    expected_target: str,
    job: JobState | None,
    procs: Sequence[ProcInfo],
    *,
    assigned: bool,
    foreign_jobs: Mapping[str, JobState] | None = None,
    ignore_pids: frozenset[int] = frozenset(),
    real_paths: Mapping[str, str] | None = None,
) -> Finding:
    """The verdict for one service on one host from launchd's record and the process table.

    `job` is launchd's record for the label in the host's domain (None: not loaded);
    `foreign_jobs` the same label loaded in other domains, keyed by service-target;
    `real_paths` the real path of files the probe resolved (symlinks followed); through
    `<root>/current` they also tell the current release (`Finding.current_release`, issue
    13), which `svcctl.assess.release` weighs once the rest of the verdict is known.
    """
    foreign = dict(foreign_jobs or {})
    owners = {j.pid: t for t, j in foreign.items() if j.pid is not None}
    if job is not None and job.pid is not None:
        owners[job.pid] = expected_target
    m = matcher_for(service, real_paths)
    instances, hidden = find_instances(procs, m, owners, expected_target, ignore_pids)
    if assigned:
        verdict, detail = _seen(instances, hidden, job) or _unseen(
            hidden, job, foreign, expected_target
        )
    else:
        verdict, detail = _unassigned(instances, hidden, job, foreign, host, expected_target)
    return Finding(service.name, host, verdict, tuple(instances), job, tuple(hidden), detail,
                   current_release=m.current_release)


def _unassigned(
    instances: Sequence[Instance], hidden: Sequence[ProcInfo], job: JobState | None,
    foreign: Mapping[str, JobState], host: str, expected_target: str,
) -> Judgement:
    """A host the service is not assigned to: anything of it there is unexpected."""
    if instances or job is not None or foreign:
        loaded = ", ".join(t for t in [expected_target if job else "", *foreign] if t)
        what = f"loaded in {loaded}" if loaded else "not loaded"
        return (
            Verdict.UNEXPECTED,
            f"not assigned to {host} but {what}; " + (_describe(instances) or "no process"),
        )
    if hidden:
        return Verdict.UNINSPECTABLE, f"{len(hidden)} process(es) hide their args"
    return Verdict.OK, "not assigned here, and not running"


def _seen(
    instances: Sequence[Instance], hidden: Sequence[ProcInfo], job: JobState | None
) -> Judgement | None:
    """An assigned host's verdict from the instances ps shows; None when it shows none."""
    managed = [i for i in instances if i.managed]
    strays = [i for i in instances if not i.managed]
    if job is not None and job.pid is None and job.last_exit_code == 75:
        return (
            Verdict.BLOCKED,
            "launchd's job exits 75 (EX_TEMPFAIL): another "
            "instance holds the lock. " + _describe(strays),
        )
    if managed and strays:
        return Verdict.DUPLICATE, _describe(instances)
    if strays:
        return Verdict.STRAY, _describe(strays)
    if managed and job is not None and not is_known_running(job):
        return (
            Verdict.DOWN,
            f"launchd's pid {job.pid} is in state {job.state!r}, not known to be running; "
            + _describe(managed),
        )
    if managed:
        if hidden:
            return (
                Verdict.UNINSPECTABLE,
                f"launchd's instance runs, but "
                f"{len(hidden)} candidate process(es) hide their arguments",
            )
        return Verdict.OK, _describe(managed)
    return None


def _unseen(
    hidden: Sequence[ProcInfo], job: JobState | None, foreign: Mapping[str, JobState],
    expected_target: str,
) -> Judgement:
    """An assigned host where ps shows no instance of the service."""
    if job is not None and is_crashlooping(job):
        return (
            Verdict.CRASHLOOP,
            f"state {job.state or '?'}, runs {job.runs}, last exit {job.last_exit_raw}",
        )
    if hidden:  # nothing visible runs, but any of these may be a copy (FIELD K)
        return (
            Verdict.UNINSPECTABLE,
            f"no instance visible, but {len(hidden)} candidate process(es) hide their "
            "arguments: " + ", ".join(f"pid {h.pid} {h.command}" for h in hidden),
        )
    if job is None:
        elsewhere = f"; loaded in {', '.join(foreign)} instead" if foreign else ""
        return Verdict.DOWN, f"not loaded in {expected_target}{elsewhere}"
    if job.pid is not None:
        return Verdict.DOWN, f"launchd reports pid {job.pid}, which ps does not show"
    return Verdict.DOWN, f"loaded but not running (state {job.state or '?'})"
