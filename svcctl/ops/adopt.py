"""`svcctl adopt`: kill the strays, keep launchd's instance, verify exactly one runs.

Kill only what you can identify (STYLE habit 7, FIELD F): the signals, and how each is
re-identified in the same remote call, are in `svcctl.ops.kill`. The label loaded in
another domain is booted out, idle or not (issue 11: it is a duplicate waiting to happen,
FACTS 1.4). Before a kickstart or a start, the cross-host gate (`svcctl.ops.gate`) must
pass: a copy that may run on another inventory host refuses it (exit 1, nothing started).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial

from svcctl.errors import ExitCode, HostError, ParseError, RefusedError, SvcctlError
from svcctl.host.base import Host
from svcctl.launchd import bootout_argv, classify_launchctl_error, kickstart_argv
from svcctl.model import Domain, Finding, HostSpec, Inventory, ServiceSpec
from svcctl.ops import lifecycle
from svcctl.ops.audit import probe_domains
from svcctl.ops.control import Connect, cross_host_gate
from svcctl.ops.kill import Kill, kill_all
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, DeployLock
from svcctl.ops.steps import Interrupt, Progress, Recorder, Step, StepRecord
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
    steps = [Step("kill", f"pid {k.proc.pid} ({k.proc.user}, started {k.proc.started_raw}: "
                  f"{k.proc.command}) with its descendants and process group: SIGTERM each "
                  f"whose pid, start time and command still match and that is not launchd's; "
                  f"SIGKILL after {grace:g} s") for k in kills]
    steps += [Step("bootout", f"launchctl bootout {t}") for t in bootouts]
    steps.append(Step("ensure", {
        "none": f"nothing may run on {spec.name} (not assigned): verify none does",
        "start": f"check that no other inventory host runs {svc.name}; launchctl "
                 f"enable/bootstrap/kickstart {own}, then verify",
        "kickstart": f"check that no other inventory host runs {svc.name}; launchctl "
                     f"kickstart {own}, then verify",
        "running": f"keep launchd's pid {finding.job.pid if finding.job else '?'}, verify",
    }[ensure]))
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


def adopt_host(inv: Inventory, svc: ServiceSpec, spec: HostSpec, host: Host, *,
               dry_run: bool, connect: Connect, acknowledged: Collection[str] = (),
               grace: float = DEFAULT_GRACE, progress: Progress | None = None,
               stay_up: float | None = None) -> AdoptReport:
    """Plan from one probe; with `dry_run` return the plan; else apply it under the lock.

    `connect` reaches the other inventory hosts for the cross-host gate; `acknowledged`:
    hosts the operator stated are powered off or cut off (`--fenced`)."""
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
            return _apply(t, plan, rec, grace, stay_up, interrupt,
                          partial(cross_host_gate, inv, t, connect, acknowledged))
    finally:
        with contextlib.suppress(HostError, ParseError):
            rec.run("unlock", lock.release)


def _apply(t: Target, plan: AdoptPlan, rec: Recorder, grace: float, stay_up: float | None,
           interrupt: Interrupt, gate: Callable[[], str]) -> AdoptReport:
    spec = t.spec
    steps = list(plan.steps)
    try:
        current = _clear(t, plan, rec, grace, interrupt)
        _ensure(t, current.ensure, rec, stay_up, interrupt, gate)
    except RefusedError as exc:
        return AdoptReport(spec.name, "refused", int(exc.exit_code), steps, rec.steps,
                           _final(t), exc.one_line())
    except (StepFailed, HostError, ParseError) as exc:
        return AdoptReport(spec.name, "failed", int(ExitCode.FAILED), steps, rec.steps,
                           _final(t), exc.one_line())
    clean = not plan.kills and not plan.bootouts
    return AdoptReport(spec.name, "clean" if clean else "adopted", 0, steps, rec.steps, _final(t))


def _clear(t: Target, plan: AdoptPlan, rec: Recorder, grace: float,
           interrupt: Interrupt) -> AdoptPlan:
    """Kill and boot out, re-probing after each round, until nothing is left to remove;
    the plan from the last probe (its `ensure` is what comes next)."""
    svc, spec, host = t.svc, t.spec, t.host
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
            raise StepFailed(f"strays keep appearing: {[k.proc.pid for k in current.kills]}"
                             + (f"; still loaded in {', '.join(current.bootouts)}"
                                if current.bootouts else ""))
    return current


def _ensure(t: Target, ensure: str, rec: Recorder, stay_up: float | None,
            interrupt: Interrupt, gate: Callable[[], str]) -> None:
    """Bring launchd's instance up as `ensure` says (none must run where unassigned), verify."""
    svc, spec, host = t.svc, t.spec, t.host
    if ensure == "none":
        rec.run("verify", lambda: _verify_none(t))
        return
    # the cross-host gate, right before a start: kills and bootouts only remove
    if ensure == "start":
        path = str(plist_path_for(svc, spec.domain, spec.home))
        if not host.run(["test", "-f", path]).ok:
            raise StepFailed(f"the strays are gone, but launchd's job is not "
                             f"installed ({path}): run `svcctl deploy {svc.name} "
                             f"--host {spec.name}`")
        rec.run("gate", gate)
        rec.run("start", lambda: lifecycle.start(t, path))
    elif ensure == "kickstart":
        rec.run("gate", gate)
        rec.run("start", lambda: _kickstart(t))
    rec.run("verify", lambda: lifecycle.verify(t, stay_up, interrupt))


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
