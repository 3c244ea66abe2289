"""`svcctl adopt`: kill the strays, keep launchd's instance, verify exactly one runs.

Kill only what you can identify (STYLE habit 7, FIELD F): each signal is ONE remote
`sh -c` over every process to signal. It reads the label's launchd pid first and refuses
it, then per process re-reads `ps -o lstart=,command= -p PID` and signals only if its
start time and command, each read apart from the column gap, still equal what svcctl
parsed, so a reused pid is never signalled. A stray's descendants and process group go
with it (`family_of`), each re-identified the same way. Never PID 1, never launchd's
instance or its descendants, never a process outside the stray's tree or group. EPERM
is reported with a remedy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from svcctl.errors import ExitCode, HostError, ParseError, SvcctlError
from svcctl.host.base import Host
from svcctl.launchd import bootout_argv, classify_launchctl_error, kickstart_argv
from svcctl.model import Domain, Finding, HostSpec, Inventory, ProcInfo, ServiceSpec
from svcctl.ops import lifecycle
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, DeployLock
from svcctl.ops.steps import Interrupt, Progress, Recorder, Step, StepRecord
from svcctl.procs import parse_ps, ps_argv
from svcctl.render import plist_path_for

DEFAULT_GRACE = 5.0
KILL_WAIT = 5.0
ROUNDS = 3  # a killed stray's matching children show up as strays of their own next round

# $1 the label's service-target, $2 the signal (0: only check), then per process its pid,
# lstart and command as svcctl parsed them; prints `PID verdict` for each. It runs on the
# Mac: POSIX sh (bash 3.2), BSD ps and awk, no /proc (FACTS 5.4).
# - launchd's pid for the label is read once, first: a KeepAlive respawn between the
#   probe's `launchctl print` and its `ps` makes launchd's own instance look like a stray,
#   and launchd records a pid at spawn, so any process identified before this read that
#   is launchd's now shows here. Every top-level `pid = N` line (one tab deep, FACTS 3.3)
#   counts, so an argument that mimics one can only make the script refuse more.
# - lstart is the first 24 characters; BSD ps pads it to 28 columns before the separator,
#   procps does not (FACTS 5.2), so the gap is learnt from this ps's own lstart width
#   (`-o lstart=` alone keeps its padding) and the command compared without it.
_SIGNAL = r"""
sig=$2
owned=" $(launchctl print "$1" 2>/dev/null | awk -F' = ' '$1 == "\tpid" { printf "%s ", $2 }')"
shift 2
export LC_ALL=C TZ=UTC0
width=$(ps -o lstart= -p $$ 2>/dev/null)
gap=' '
[ "${#width}" -gt 24 ] && gap='     '
one() {
  [ "$1" -gt 1 ] 2>/dev/null || { echo refused; return; }
  case $owned in *" $1 "*) echo launchd; return ;; esac
  cur=$(ps -ww -o lstart=,command= -p "$1" 2>/dev/null) && [ -n "$cur" ] || { echo gone; return; }
  rest=${cur#????????????????????????}
  start=${cur%"$rest"}
  case $rest in "$gap"*) ;; *) echo changed; return ;; esac
  [ "$start" = "$2" ] && [ "${rest#"$gap"}" = "$3" ] || { echo changed; return; }
  [ "$sig" = 0 ] && { echo alive; return; }
  if err=$(kill -s "$sig" "$1" 2>&1); then echo sent; else echo "failed: $err"; fi
}
while [ $# -ge 3 ]; do echo "$1 $(one "$1" "$2" "$3")"; shift 3; done
"""


@dataclass(frozen=True)
class Kill:
    proc: ProcInfo
    target: str  # the label's service-target: its launchd pid is refused at signal time
    family: tuple[ProcInfo, ...] = ()  # descendants and group members that go with it

    @property
    def identity(self) -> tuple[str, str]:
        """What must still hold right before the signal: parsed lstart, and command."""
        return self.proc.started_raw, self.proc.command


def _chain(pid: int, by_pid: Mapping[int, ProcInfo]) -> list[int]:
    """pid's ancestors through the ppid chain, nearest first."""
    out: list[int] = []
    proc = by_pid.get(pid)
    while proc is not None and proc.ppid > 0 and proc.ppid not in out and proc.ppid != pid:
        out.append(proc.ppid)
        proc = by_pid.get(proc.ppid)
    return out


def family_of(stray: ProcInfo, procs: Sequence[ProcInfo],
              protected: Collection[int]) -> tuple[ProcInfo, ...]:
    """Pure: what goes with a stray, from one ps read: its descendants, and its process
    group's members when the group is the stray's (it leads it, or its leader is gone;
    a live leader is whatever started the stray: a shell, another job).

    Never PID 1, an ancestor of the stray, or a `protected` pid (launchd's for the label)
    or its descendant. Nothing when the row at the stray's pid is another process now.
    """
    by_pid = {p.pid: p for p in procs}
    now = by_pid.get(stray.pid)
    if now is None or (now.started_raw, now.command) != (stray.started_raw, stray.command):
        return ()
    above = set(_chain(stray.pid, by_pid))
    own_group = now.pgid > 1 and (now.pgid == now.pid or now.pgid not in by_pid)
    out = []
    for p in procs:
        chain = _chain(p.pid, by_pid)
        if p.pid <= 1 or p.pid == stray.pid or p.pid in above:
            continue
        if p.pid in protected or any(a in protected for a in chain):
            continue
        if stray.pid in chain or (own_group and p.pgid == now.pgid):
            out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class AdoptPlan:
    kills: tuple[Kill, ...]
    bootouts: tuple[str, ...]  # service-targets to boot out (other domains; unassigned host)
    ensure: str  # "running" | "kickstart" | "start" | "none" (unassigned: nothing may run)
    steps: tuple[Step, ...]
    protected: frozenset[int] = frozenset()  # launchd's pids for the label: never signalled


def plan_adopt(svc: ServiceSpec, spec: HostSpec, finding: Finding,
               grace: float = DEFAULT_GRACE) -> AdoptPlan:
    """Pure: what to signal and boot out, from one audit finding."""
    assigned = spec.name in svc.hosts
    own = spec.domain.service_target(svc.label)
    kills: list[Kill] = []
    bootouts: list[str] = []
    for inst in finding.instances:
        if inst.proc.pid <= 1:
            continue  # never PID 1
        if inst.owner is not None and (inst.owner != own or not assigned):
            if inst.owner not in bootouts:
                bootouts.append(inst.owner)  # launchd's job: kill would only respawn it
        elif not inst.managed:
            kills.append(Kill(inst.proc, own))
    if not assigned and finding.job is not None and own not in bootouts:
        bootouts.append(own)
    if not assigned:
        ensure = "none"
    elif finding.job is None:
        ensure = "start"
    elif finding.job.pid is None:
        ensure = "kickstart"
    else:
        ensure = "running"
    steps = [Step("kill", f"pid {k.proc.pid} ({k.proc.user}, started {k.proc.started_raw}: "
                  f"{k.proc.command}) with its descendants and process group: SIGTERM each "
                  f"whose pid, start time and command still match and that is not launchd's; "
                  f"SIGKILL after {grace:g} s") for k in kills]
    steps += [Step("bootout", f"launchctl bootout {t}") for t in bootouts]
    steps.append(Step("ensure", {
        "none": f"nothing may run on {spec.name} (not assigned): verify none does",
        "start": f"launchctl enable/bootstrap/kickstart {own}, then verify",
        "kickstart": f"launchctl kickstart {own}, then verify",
        "running": f"keep launchd's pid {finding.job.pid if finding.job else '?'}, verify",
    }[ensure]))
    protected = {i.proc.pid for i in finding.instances if i.owner is not None}
    if finding.job is not None and finding.job.pid is not None:
        protected.add(finding.job.pid)
    return AdoptPlan(tuple(kills), tuple(bootouts), ensure, tuple(steps), frozenset(protected))


@dataclass
class AdoptReport:
    host: str
    outcome: str  # adopted | clean | planned | failed | locked
    exit_code: int
    plan: list[Step]
    steps: list[StepRecord] = field(default_factory=list)
    final: Finding | None = None
    error: str | None = None


def signal_each(host: Host, target: str, procs: Sequence[ProcInfo], sig: str) -> dict[int, str]:
    """One remote call: signal each process that still is the one identified and is not
    `target`'s launchd pid. Per pid: sent | alive (sig 0) | gone | changed | refused
    (PID <= 1) | launchd | failed: why."""
    args = [x for p in procs for x in (str(p.pid), p.started_raw, p.command)]
    r = host.run(["sh", "-c", _SIGNAL, "sh", target, sig, *args])
    said = dict(line.partition(" ")[::2] for line in r.stdout.splitlines())
    missing = f"failed: exit {r.rc} {r.tail()}"
    return {p.pid: said.get(str(p.pid)) or missing for p in procs}


def signal_checked(host: Host, kill: Kill, sig: str) -> str:
    """`signal_each` for the stray alone (its family is not signalled)."""
    return signal_each(host, kill.target, [kill.proc], sig)[kill.proc.pid]


def with_families(host: Host, kills: tuple[Kill, ...],
                  protected: Collection[int]) -> tuple[Kill, ...]:
    """Each kill with its family, from one ps read just before the signals."""
    procs = parse_ps(host.check(ps_argv()).stdout)
    return tuple(replace(k, family=family_of(k.proc, procs, protected)) for k in kills)


def _remedy(svc: ServiceSpec, spec: HostSpec, p: ProcInfo, why: str) -> str:
    return (f"pid {p.pid} ({p.user}, uid {p.uid}) could not be signalled: {why}; it was "
            f"started by another user or with sudo: rerun as root: "
            f"`svcctl adopt {svc.name} --host {spec.name} --user root`")


def kill_all(host: Host, svc: ServiceSpec, spec: HostSpec, kills: tuple[Kill, ...],
             grace: float, protected: Collection[int] = frozenset()) -> str:
    """TERM each stray with its family, wait `grace`, KILL what is left: every signal one
    remote call over all of them, each re-identified there (a killed parent's children
    are orphaned at once, so the family is read before the first signal)."""
    kills = with_families(host, kills, protected)
    target = kills[0].target if kills else ""
    procs = list({p.pid: p for k in kills for p in (k.proc, *k.family)}.values())
    who = {p.pid: p for p in procs}
    notes: list[str] = []
    denied: list[str] = []
    pending: list[ProcInfo] = []
    for pid, out in signal_each(host, target, procs, "TERM").items():
        if out == "sent":
            pending.append(who[pid])
        elif out.startswith("failed"):
            denied.append(_remedy(svc, spec, who[pid], out[8:]))
        else:
            notes.append(f"pid {pid} {out}: not signalled")

    def alive(left: list[ProcInfo], wait: float) -> list[ProcInfo]:
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            now = signal_each(host, target, left, "0")
            left = [p for p in left if now[p.pid] == "alive"]
        return left

    pending = alive(pending, grace)
    if pending:
        sent = signal_each(host, target, pending, "KILL")
        notes += [f"pid {p.pid} ignored SIGTERM for {grace:g} s: SIGKILL {sent[p.pid]}"
                  for p in pending]
    pending = alive(pending, KILL_WAIT)
    if denied or pending:
        left = [f"pid {p.pid} survived SIGKILL" for p in pending]
        raise StepFailed("; ".join(denied + left))
    done = [f"pid {k.proc.pid}" + (f" (with {', '.join(str(p.pid) for p in k.family)})"
                                   if k.family else "") for k in kills]
    return "; ".join([f"terminated {', '.join(done)}" if done else "no stray", *notes])


def _bootout(host: Host, target: str) -> str:
    dom, label = target.rsplit("/", 1)
    r = host.run(bootout_argv(Domain.parse(dom), label))
    outcome = classify_launchctl_error(r.rc, r.stderr, "bootout", target)
    if not outcome.ok and not outcome.gone:
        raise StepFailed(f"{target}: {outcome.one_line()}")
    return f"bootout {target}"


def adopt_host(inv: Inventory, svc: ServiceSpec, spec: HostSpec, host: Host, *,
               dry_run: bool, grace: float = DEFAULT_GRACE,
               progress: Progress | None = None, stay_up: float | None = None) -> AdoptReport:
    """Plan from one probe; with `dry_run` return the plan; else apply it under the lock."""
    t = Target(spec, svc, host)
    finding = t.observe()
    plan = plan_adopt(svc, spec, finding, grace)
    if dry_run:
        return AdoptReport(spec.name, "planned", 0, list(plan.steps), final=finding)
    rec = Recorder(spec.name, progress)
    lock = DeployLock(host, svc.name)
    try:
        rec.run("lock", lambda: lock.acquire(ttl=DEFAULT_TTL, wait=DEFAULT_WAIT).describe())
    except SvcctlError as exc:
        return AdoptReport(spec.name, "locked", int(exc.exit_code), list(plan.steps), rec.steps,
                           finding, exc.one_line())
    interrupt = Interrupt()
    try:
        with interrupt.installed():
            return _apply(t, plan, rec, grace, stay_up, interrupt)
    finally:
        with contextlib.suppress(HostError, ParseError):
            rec.run("unlock", lock.release)


def _apply(t: Target, plan: AdoptPlan, rec: Recorder, grace: float, stay_up: float | None,
           interrupt: Interrupt) -> AdoptReport:
    svc, spec, host = t.svc, t.spec, t.host
    steps = list(plan.steps)
    try:
        current = plan
        for round_ in range(ROUNDS):
            if current.kills:
                rec.run("kill", partial(kill_all, host, svc, spec, current.kills, grace,
                                        current.protected))
            for target in current.bootouts:
                rec.run("bootout", partial(_bootout, host, target))
            if current.bootouts:
                rec.run("wait", partial(_wait_bootouts, t, current.bootouts))
            if interrupt():
                raise StepFailed(f"interrupted by {interrupt.name}")
            seen = t.observe()
            current = plan_adopt(svc, spec, seen, grace)
            if not current.kills and not current.bootouts:
                if seen.hidden:  # never signal what cannot be identified (STYLE 7)
                    raise StepFailed(lifecycle.hidden_refusal(svc, spec, seen.hidden) +
                                     "; nothing hidden was signalled")
                break
            if round_ == ROUNDS - 1:
                raise StepFailed(f"strays keep appearing: {[k.proc.pid for k in current.kills]}")
        if current.ensure == "none":
            rec.run("verify", lambda: _verify_none(t))
        else:
            if current.ensure == "start":
                path = str(plist_path_for(svc, spec.domain, spec.home))
                if not host.run(["test", "-f", path]).ok:
                    raise StepFailed(f"the strays are gone, but launchd's job is not "
                                     f"installed ({path}): run `svcctl deploy {svc.name} "
                                     f"--host {spec.name}`")
                rec.run("start", lambda: lifecycle.start(t, path))
            elif current.ensure == "kickstart":
                rec.run("start", lambda: _kickstart(t))
            rec.run("verify", lambda: lifecycle.verify(t, stay_up, interrupt))
    except (StepFailed, HostError, ParseError) as exc:
        return AdoptReport(spec.name, "failed", int(ExitCode.FAILED), steps, rec.steps,
                           _final(t), exc.one_line())
    clean = not plan.kills and not plan.bootouts
    return AdoptReport(spec.name, "clean" if clean else "adopted", 0, steps, rec.steps, _final(t))


def _final(t: Target) -> Finding | None:
    try:
        return t.observe()
    except (HostError, ParseError):
        return None


def _kickstart(t: Target) -> str:
    t.launchctl(kickstart_argv(t.spec.domain, t.svc.label), "kickstart")
    return f"kickstart {t.service_target}"


def _wait_bootouts(t: Target, targets: tuple[str, ...]) -> str:
    deadline = time.monotonic() + lifecycle.stop_bound(t.svc)
    while True:
        f = t.observe()
        left = [i for i in f.instances if i.owner in targets]
        if not left:
            return f"{', '.join(targets)}: gone"
        if time.monotonic() >= deadline:
            raise StepFailed(f"still running after bootout: {lifecycle.describe_instances(f)}")
        time.sleep(lifecycle.POLL)


def _verify_none(t: Target) -> str:
    f = t.observe()
    if f.job is not None or f.instances:
        raise StepFailed(f"{t.svc.name} still on {t.spec.name}: "
                         f"{lifecycle.describe_instances(f)}")
    return f"nothing of {t.svc.name} runs on {t.spec.name} (not assigned here)"
