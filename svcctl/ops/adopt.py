"""`svcctl adopt`: kill the strays, keep launchd's instance, verify exactly one runs.

Kill only what you can identify (STYLE habit 7, FIELD F): the signals, and how each is
re-identified in the same remote call, are in `svcctl.ops.kill`. The label loaded in
another domain is booted out, idle or not (issue 11: it is a duplicate waiting to happen,
FACTS 1.4). Before a kickstart or a start, the cross-host gate (`svcctl.ops.gate`) must
pass: a copy that may run on another inventory host refuses it (exit 1, nothing started).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from svcctl.errors import ExitCode, HostError, ParseError, RefusedError, SvcctlError
from svcctl.host.base import Host
from svcctl.launchd import bootout_argv, classify_launchctl_error, kickstart_argv
from svcctl.model import Domain, Finding, HostSpec, ServiceSpec
from svcctl.ops import lifecycle
from svcctl.ops.audit import probe_domains
from svcctl.ops.context import RunContext
from svcctl.ops.control import cross_host_gate
from svcctl.ops.executor import LockPolicy, bind, execute
from svcctl.ops.kill import Kill, kill_all
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT
from svcctl.ops.steps import Interrupt, Recorder, Step, StepRecord
from svcctl.render import plist_path_for

DEFAULT_GRACE = 5.0
ROUNDS = 3  # a killed stray's matching children show up as strays of their own next round

@dataclass(frozen=True)
class AdoptPlan:
    kills: tuple[Kill, ...]
    bootouts: tuple[str, ...]  # service-targets to boot out: other domains, idle or not;
    #                            the host's own too where the service is not assigned
    ensure: str  # "running" | "kickstart" | "start" | "none" (unassigned: nothing may run)
    steps: tuple[Step, ...]
    protected: frozenset[int] = frozenset()  # launchd's pids for the label: never signalled


def plan_adopt(svc: ServiceSpec, spec: HostSpec, finding: Finding,
               grace: float = DEFAULT_GRACE) -> AdoptPlan:
    """Pure: what to signal and boot out, from one audit finding.

    Every other domain the label is loaded in (`finding.elsewhere`) is booted out, idle or
    not: audit calls that a duplicate, and a KeepAlive or a kickstart there is a second
    copy. On a host the service is not assigned to, its own domain too."""
    assigned = spec.name in svc.hosts
    own = spec.domain.service_target(svc.label)
    everywhere = tuple(d.service_target(svc.label) for d in probe_domains(spec.domain))
    kills: list[Kill] = []
    bootouts: list[str] = []
    for inst in finding.instances:
        if inst.proc.pid <= 1:
            continue  # never PID 1
        if inst.owner is not None and (inst.owner != own or not assigned):
            if inst.owner not in bootouts:
                bootouts.append(inst.owner)  # launchd's job: kill would only respawn it
        elif not inst.managed:
            kills.append(Kill(inst.proc, everywhere))
    bootouts += [t for t in finding.elsewhere if t not in bootouts]
    if not assigned and finding.job is not None and own not in bootouts:
        bootouts.append(own)
    ensure = _ensure_of(assigned, finding)
    steps = []
    if kills:
        steps.append(Step("kill", "; ".join(
            f"pid {k.proc.pid} ({k.proc.user}, started {k.proc.started_raw}: {k.proc.command})"
            for k in kills) + ": with its descendants and process group, SIGTERM each whose "
            "pid, start time and command still match and that is not launchd's; SIGKILL "
            f"after {grace:g} s"))
    steps += [Step("bootout", f"launchctl bootout {t}") for t in bootouts]
    if bootouts:
        steps.append(Step("wait", f"until no process of {', '.join(bootouts)} runs (at most "
                          f"{lifecycle.stop_bound(svc):g} s)", changes=False))
    steps.append(Step("recheck", f"probe again; kill or boot out what appeared since (a killed "
                      f"stray's children), at most {ROUNDS - 1} more rounds; refuse if a "
                      "process hides its arguments"))
    steps.append(Step("ensure", {
        "none": f"nothing may run on {spec.name} (not assigned): verify none does",
        "start": f"check that no other inventory host runs {svc.name}; launchctl "
                 f"enable/bootstrap/kickstart {own}, then verify",
        "kickstart": f"check that no other inventory host runs {svc.name}; launchctl "
                     f"kickstart {own}, then verify",
        "running": f"keep launchd's pid {finding.job.pid if finding.job else '?'}, verify",
    }[ensure], parts=True))
    protected = {i.proc.pid for i in finding.instances if i.owner is not None}
    if finding.job is not None and finding.job.pid is not None:
        protected.add(finding.job.pid)
    return AdoptPlan(tuple(kills), tuple(bootouts), ensure, tuple(steps), frozenset(protected))


def _ensure_of(assigned: bool, finding: Finding) -> str:
    if not assigned:
        return "none"
    if finding.job is None:
        return "start"
    if finding.job.pid is None:
        return "kickstart"
    return "running"


@dataclass
class AdoptReport:
    host: str
    outcome: str  # adopted | clean | planned | refused | failed | locked
    exit_code: int
    plan: list[Step]
    steps: list[StepRecord] = field(default_factory=list)
    final: Finding | None = None
    error: str | None = None


def _bootout(host: Host, target: str) -> str:
    dom, label = target.rsplit("/", 1)
    r = host.run(bootout_argv(Domain.parse(dom), label))
    outcome = classify_launchctl_error(r.rc, r.stderr, "bootout", target)
    if not outcome.ok and not outcome.gone:
        raise StepFailed(f"{target}: {outcome.one_line()}")
    return f"bootout {target}"


class _Adopt:
    """Adopting on one host, as an `executor.Operation`: its plan is the changes only."""

    framed = False

    def __init__(self, t: Target, rec: Recorder, grace: float, stay_up: float | None,
                 interrupt: Interrupt, gate: Callable[[], str]) -> None:
        self.t, self.rec, self.grace, self.stay_up = t, rec, grace, stay_up
        self.interrupt, self.gate = interrupt, gate
        self.finding: Finding | None = None
        self.plan: AdoptPlan | None = None
        self.ensure_now = "running"

    def observe(self) -> Step:
        t = self.t
        return Step("survey", f"on {t.spec.name}: launchd's jobs for {t.svc.label} in every "
                    f"domain and every process that runs {t.svc.name}", self.survey,
                    changes=False)

    def survey(self) -> str:
        self.finding = self.t.observe()
        self.plan = plan_adopt(self.t.svc, self.t.spec, self.finding, self.grace)
        self.ensure_now = self.plan.ensure
        return (f"{self.finding.verdict.value}: {len(self.plan.kills)} to kill, "
                f"{len(self.plan.bootouts)} to boot out")

    def steps(self) -> list[Step]:
        assert self.plan is not None
        t, plan = self.t, self.plan
        return bind(plan.steps, {
            "kill": partial(kill_all, t.host, t.svc, t.spec, plan.kills, self.grace,
                            plan.protected),
            "bootout": [partial(_bootout, t.host, b) for b in plan.bootouts],
            "wait": partial(_wait_bootouts, t, plan.bootouts),
            "recheck": self.recheck,
            "ensure": self.ensure,
        }, reads={"wait"})

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """Nothing to roll back: a kill or a bootout only removes what must not run."""

    def recheck(self) -> str:
        """Later rounds: a killed stray's matching children show up as strays of their own."""
        t, did = self.t, list[str]()
        for round_ in range(1, ROUNDS + 1):
            seen = t.observe()
            current = plan_adopt(t.svc, t.spec, seen, self.grace)
            self.ensure_now = current.ensure
            if not current.kills and not current.bootouts:
                if seen.hidden:  # never signal what cannot be identified (STYLE 7)
                    raise StepFailed(lifecycle.hidden_refusal(t.svc, t.spec, seen.hidden) +
                                     "; nothing hidden was signalled")
                return "; ".join([*did, "nothing left to remove"])
            if round_ == ROUNDS or self.interrupt():
                raise StepFailed(
                    f"strays keep appearing: {[k.proc.pid for k in current.kills]}"
                    + (f"; still loaded in {', '.join(current.bootouts)}"
                       if current.bootouts else "")
                    + (f" (interrupted by {self.interrupt.name})" if self.interrupt() else ""))
            did.append(self._round(current))
        raise AssertionError("unreachable")

    def _round(self, current: AdoptPlan) -> str:
        t, did = self.t, list[str]()
        if current.kills:
            did.append(kill_all(t.host, t.svc, t.spec, current.kills, self.grace,
                                current.protected))
        did += [_bootout(t.host, b) for b in current.bootouts]
        if current.bootouts:
            did.append(_wait_bootouts(t, current.bootouts))
        return "; ".join(did)

    def ensure(self) -> str:
        """Bring launchd's instance up as the last probe says (none where unassigned)."""
        t, rec = self.t, self.rec
        ensure = self.ensure_now
        if ensure == "none":
            return rec.run("verify", lambda: _verify_none(t))
        # the cross-host gate, right before a start: kills and bootouts only remove
        if ensure == "start":
            path = str(plist_path_for(t.svc, t.spec.domain, t.spec.home))
            if not t.host.run(["test", "-f", path]).ok:
                raise StepFailed(f"the strays are gone, but launchd's job is not "
                                 f"installed ({path}): run `svcctl deploy {t.svc.name} "
                                 f"--host {t.spec.name}`")
            rec.run("gate", self.gate)
            rec.run("start", lambda: lifecycle.start(t, path))
        elif ensure == "kickstart":
            rec.run("gate", self.gate)
            rec.run("start", lambda: _kickstart(t))
        return rec.run("verify", lambda: lifecycle.verify(t, self.stay_up, self.interrupt))


def adopt_host(ctx: RunContext, svc: ServiceSpec, spec: HostSpec, host: Host, *,
               dry_run: bool, grace: float = DEFAULT_GRACE) -> AdoptReport:
    """Plan from one probe; with `dry_run` return the plan; else apply it under the lock
    (`svcctl.ops.executor`: the plan printed is the list that runs). The cross-host gate
    reaches the other inventory hosts through `ctx`."""
    t = Target(spec, svc, host)
    rec = Recorder(spec.name, ctx.progress)
    op = _Adopt(t, rec, grace, ctx.stay_up, ctx.interrupt, partial(cross_host_gate, ctx, t))
    ran = execute(op, host=host, service=svc.name, rec=rec, interrupt=ctx.interrupt,
                  policy=LockPolicy(DEFAULT_TTL, DEFAULT_WAIT), dry_run=dry_run)
    exc = ran.error
    if ran.stage == "planned":
        return AdoptReport(spec.name, "planned", 0, ran.plan, rec.steps, op.finding)
    if exc is None:
        assert op.plan is not None
        clean = not op.plan.kills and not op.plan.bootouts
        return AdoptReport(spec.name, "clean" if clean else "adopted", 0, ran.plan, rec.steps,
                           _final(t))
    if ran.stage == "lock":
        outcome = "locked"
    elif isinstance(exc, RefusedError):
        outcome = "refused"
    else:
        outcome = "failed"
    code = int(exc.exit_code) if outcome != "failed" else int(ExitCode.FAILED)
    return AdoptReport(spec.name, outcome, code, ran.plan, rec.steps, _final(t),
                       exc.one_line())


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
