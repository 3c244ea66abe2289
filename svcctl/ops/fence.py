"""`svcctl fence` and deploy's fence phase: make sure a service cannot run on a host.

Per host, under the host's deploy lock: survey -> bootout in every domain -> disable
wherever a plist could load it -> move every plist out of the auto-load directories into
svcctl's fenced directory, with a record (who, when, why) -> prove that nothing matching
runs and launchd has the label nowhere (issue 11: failover without fencing). A reboot or a
console login then starts nothing there. `plan_fence` is pure and is what `--dry-run`
prints; a later deploy to the host, once it is assigned again, undoes it (`unfence_argv`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath

from svcctl import places
from svcctl.errors import (
    BadInputError,
    ExitCode,
    HostError,
    LockHeldError,
    ParseError,
    RefusedError,
    SvcctlError,
)
from svcctl.host.base import Host
from svcctl.host.quote import quote
from svcctl.launchd import bootout_argv, classify_launchctl_error, disable_argv
from svcctl.model import (
    Domain,
    DomainKind,
    FenceRecord,
    Finding,
    HostSpec,
    ServiceSpec,
    Verdict,
)
from svcctl.ops import lifecycle
from svcctl.ops.context import RunContext
from svcctl.ops.executor import LockPolicy, Ran, bind, execute, whole_plan
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, operator
from svcctl.ops.plan import HostDeploy
from svcctl.ops.steps import Interrupt, Recorder, Step
from svcctl.scripts import fence as fence_scripts
from svcctl.scripts.fence import Moved
from svcctl.scripts.fence import move_argv as move_argv  # noqa: PLC0414  (re-exported)

# gui/<uid> exists only with a console login (FACTS 1.4): 112 there means nothing to disable
NO_DOMAIN = 112
_TAGS = {"/Library/LaunchDaemons": "LaunchDaemons", "/Library/LaunchAgents": "Library-Agents"}


@dataclass(frozen=True)
class FencePlan:
    bootouts: tuple[str, ...]  # service-targets
    disables: tuple[Domain, ...]
    moves: tuple[tuple[str, str], ...]  # (plist, where it goes); `.previous` copies follow
    record: str
    steps: tuple[Step, ...]  # the whole plan, lock to unlock
    rest: tuple[Step, ...] = ()  # the steps after the survey


def disable_domains(spec: HostSpec) -> tuple[Domain, ...]:
    """Where the connected user can disable the label: its own domains (FACTS 1.3, 2.5)."""
    if spec.domain.is_system:
        return (spec.domain,)
    uid = spec.domain.uid
    return (Domain(DomainKind.USER, uid), Domain(DomainKind.GUI, uid))


def fenced_name(label: str, path: str) -> str:
    """The name a moved plist gets: it never ends in `.plist`, nothing loads it."""
    parent = str(PurePosixPath(path).parent)
    tag = _TAGS.get(parent) or ("LaunchAgents" if parent.endswith("/Library/LaunchAgents")
                                else "svcctl")
    return f"{label}.plist@{tag}"


def aside_moves(svc: ServiceSpec, spec: HostSpec,
                paths: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Pure: where each plist goes in the fenced directory (deploy's move aside too)."""
    fdir = places.fence_dir(spec.domain, spec.home)
    return tuple((p, str(fdir / fenced_name(svc.label, p))) for p in paths)


def move_plists(host: Host, spec: HostSpec, moves: tuple[tuple[str, str], ...]) -> str:
    """Move plists (and their `.previous`) into the fenced directory; StepFailed says why."""
    if not moves:
        return "no plist to move"
    fdir = str(places.fence_dir(spec.domain, spec.home))
    moved, r = fence_scripts.move_aside(host, fdir, moves)
    if moved is Moved.FAILED:
        hint = ("; a LaunchDaemon or /Library/LaunchAgents plist needs root "
                "(`--user root`)") if "ermission" in r.stderr else ""
        raise StepFailed(f"could not move the plists aside ({r.rc}): {r.tail()}{hint}")
    return "; ".join(f"{src} -> {dst}" for src, dst in moves)


SURVEY = "only launchd's jobs run {svc}, no process hides its arguments (else refuse: " \
    "nothing changed)"


def survey_step(svc: ServiceSpec, spec: HostSpec) -> Step:
    return Step("survey", f"on {spec.name}: " + SURVEY.format(svc=svc.name), changes=False)


def plan_fence(svc: ServiceSpec, spec: HostSpec, finding: Finding, reason: str,
               bound: float, policy: LockPolicy | None = None) -> FencePlan:
    """Pure: the steps that fence `svc` on `spec`, from one survey (`steps`: the whole plan
    as `--dry-run` prints it; `rest`: what runs after the survey)."""
    own = spec.domain.service_target(svc.label)
    bootouts = ([own] if finding.job is not None else []) + \
        [t for t in finding.elsewhere if t != own]
    moves = aside_moves(svc, spec, finding.plists)
    record = str(places.fence_record_path(svc.label, spec.domain, spec.home))
    disables = disable_domains(spec)
    if finding.fence is not None and not needs_fence(finding):
        done = f"already {finding.fence.describe()}; nothing to do"
        rest = [Step("fence", done, skip=done)]
    else:
        rest = [Step("bootout", f"launchctl bootout {t}") for t in bootouts] or \
            [Step("bootout", f"{svc.label} is loaded in no domain: nothing to boot out",
                  skip=f"{svc.label} is loaded in no domain")]
        rest.append(Step("disable", "launchctl disable " + ", ".join(
            d.service_target(svc.label) for d in disables) + " (persists across reboots, "
            "FACTS 2.5; gui/<uid> only while a console session exists)"))
        rest += [Step("move", f"move {quote(src)} to {quote(dst)}") for src, dst in moves]
        rest.append(Step("record", f"write {quote(record)}: who, when, why ({reason})"))
        rest.append(Step("prove", f"for at most {bound:g} s: {svc.label} loaded in no domain, "
                         "no matching process, no plist launchd would load", changes=False))
    steps = whole_plan(svc.name, policy or LockPolicy(), survey_step(svc, spec), rest)
    return FencePlan(tuple(bootouts), disables, moves, record, tuple(steps), tuple(rest))


def fence_refusal(svc: ServiceSpec, f: Finding) -> str | None:
    """Why a survey forbids fencing (None: go). Strays are adopt's: fence never kills."""
    if f.verdict in (Verdict.UNREACHABLE, Verdict.UNINSPECTABLE):
        return f"{f.verdict.value} on {f.host}: {f.detail}"
    strays = [i for i in f.instances if i.owner is None]
    if strays:
        pids = ", ".join(f"pid {i.proc.pid} ({i.proc.user}: {i.proc.command})" for i in strays)
        return (f"{pids} on {f.host} runs {svc.name} outside launchd: stop it first with "
                f"`svcctl adopt {svc.name} --host {f.host}`")
    if f.hidden:
        who = ", ".join(f"pid {p.pid} ({p.user})" for p in f.hidden)
        return (f"{who} on {f.host} hide their arguments: fence as a user who sees them "
                f"(`--user root`)")
    return None


def needs_fence(f: Finding) -> bool:
    """A survey of a host the service is not assigned to: is there anything to fence?"""
    return f.job is not None or bool(f.elsewhere or f.plists or f.instances)


def unfence_argv(svc: ServiceSpec, spec: HostSpec) -> list[str]:
    """A deploy to a host that was fenced: drop the record and the moved copies."""
    return fence_scripts.clear_argv(str(places.fence_dir(spec.domain, spec.home)), svc.label)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Fence:
    """Fencing one host, as an `executor.Operation`."""

    framed = True

    def __init__(self, svc: ServiceSpec, spec: HostSpec, host: Host, reason: str,
                 interrupt: Interrupt, policy: LockPolicy) -> None:
        self.svc, self.spec, self.host, self.reason = svc, spec, host, reason
        self.interrupt, self.policy = interrupt, policy
        self.target = Target(spec, svc, host)
        self.plan: FencePlan | None = None
        self.disabled: list[str] = []
        self.found: Finding | None = None

    def observe(self) -> Step:
        return replace(survey_step(self.svc, self.spec), run=self.survey)

    def steps(self) -> list[Step]:
        assert self.plan is not None
        return bind(self.plan.rest, {
            "bootout": [partial(self.bootout, t) for t in self.plan.bootouts],
            "disable": self.disable,
            "move": [partial(self.move, m) for m in self.plan.moves],
            "record": self.record,
            "prove": partial(self.prove, self.interrupt),
        }, reads={"prove"})

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """Nothing to roll back: each step leaves the host more fenced than before."""

    def survey(self) -> str:
        f = self.target.observe()
        self.found = f
        why = fence_refusal(self.svc, f)
        if why is not None:
            raise RefusedError(f"{self.svc.name}: refusing to fence {self.spec.name}, nothing "
                               f"changed: {why}")
        self.plan = plan_fence(self.svc, self.spec, f, self.reason,
                               lifecycle.stop_bound(self.svc), self.policy)
        running = ", ".join(f"pid {i.proc.pid} ({i.owner})" for i in f.instances)
        return (f"loaded in {', '.join(self.plan.bootouts) or 'no domain'}; "
                f"running: {running or 'nothing'}; plists: {', '.join(f.plists) or 'none'}")

    def bootout(self, target: str) -> str:
        dom, label = target.rsplit("/", 1)
        r = self.host.run(bootout_argv(Domain.parse(dom), label))
        outcome = classify_launchctl_error(r.rc, r.stderr, "bootout", target)
        if not outcome.ok and not outcome.gone:
            raise StepFailed(f"{target}: {outcome.one_line()}")
        return f"bootout {target}"

    def disable(self) -> str:
        done, absent = [], []
        for dom in disable_domains(self.spec):
            target = dom.service_target(self.svc.label)
            r = self.host.run(disable_argv(dom, self.svc.label))
            if r.rc == NO_DOMAIN and dom.kind is DomainKind.GUI:
                absent.append(dom.target)
                continue
            if r.rc != 0:
                outcome = classify_launchctl_error(r.rc, r.stderr, "disable", target)
                raise StepFailed(f"{target}: {outcome.one_line()}")
            done.append(target)
        self.disabled = done
        gone = f"; {', '.join(absent)} does not exist now (no console login): its " \
            "auto-load directories hold no plist of it" if absent else ""
        return f"disabled {', '.join(done)}{gone}"

    def move(self, move: tuple[str, str]) -> str:
        return move_plists(self.host, self.spec, (move,))

    def record(self) -> str:
        assert self.plan is not None
        rec = FenceRecord(self.svc.name, self.svc.label, self.spec.name, operator(),
                          now_iso(), self.reason, self.plan.moves, tuple(self.disabled))
        parent = str(PurePosixPath(self.plan.record).parent)
        self.host.check(["mkdir", "-p", parent])
        self.host.write_file(self.plan.record, rec.dumps().encode(), 0o644)
        return f"{self.plan.record}: {rec.describe()}"

    def prove(self, interrupt: Interrupt) -> str:
        deadline = time.monotonic() + lifecycle.stop_bound(self.svc)
        while True:
            f = self.target.observe()
            left = []
            if f.job is not None or f.elsewhere:
                left.append("loaded in " + ", ".join(
                    ([self.spec.domain.service_target(self.svc.label)] if f.job else [])
                    + list(f.elsewhere)))
            if f.instances:
                left.append("running: " + lifecycle.describe_instances(f))
            if f.hidden:
                left.append(f"{len(f.hidden)} process(es) hide their arguments")
            if f.plists:
                left.append("plists: " + ", ".join(f.plists))
            if not left:
                return (f"{self.svc.label} loaded in no domain; no matching process; "
                        "no plist launchd would load")
            if time.monotonic() >= deadline or interrupt():
                raise StepFailed(f"{self.svc.name} not fenced on {self.spec.name}: "
                                 + "; ".join(left))
            time.sleep(lifecycle.POLL)


def check_unassigned(svc: ServiceSpec, spec: HostSpec) -> None:
    if spec.name in svc.hosts:
        raise BadInputError(f"{svc.name} is assigned to {spec.name}: fencing it there would "
                            "fight the inventory",
                            hint=f"remove {spec.name} from {svc.name}'s hosts first "
                            f"({svc.source or 'inventory.yaml'})")


def fence_host(ctx: RunContext, svc: ServiceSpec, spec: HostSpec, host: Host, *, reason: str,
               dry_run: bool = False, lock_wait: float = DEFAULT_WAIT,
               break_lock: bool = False) -> HostDeploy:
    """Fence `svc` on one host it is not assigned to; the caller owns the connection."""
    check_unassigned(svc, spec)
    interrupt = ctx.interrupt
    rec = Recorder(spec.name, ctx.progress)
    policy = LockPolicy(DEFAULT_TTL, lock_wait, break_lock)
    run = _Fence(svc, spec, host, reason, interrupt, policy)
    ran = execute(run, host=host, service=svc.name, rec=rec, interrupt=interrupt,
                  policy=policy, dry_run=dry_run)
    outcome, code, error = _outcome(ran, interrupt)
    final = None
    with contextlib.suppress(HostError, ParseError):
        final = run.target.observe()
    return HostDeploy(spec.name, outcome, code, rec.steps, ran.plan, final=final, error=error)


def _outcome(ran: Ran, interrupt: Interrupt) -> tuple[str, int, str | None]:
    exc = ran.error
    if ran.stage == "planned":
        return "planned", 0, None
    if ran.stage == "done":
        if interrupt():
            return ("interrupted", int(ExitCode.FAILED),
                    f"interrupted by {interrupt.name} after the fence had completed")
        return "fenced", 0, None
    assert exc is not None
    if ran.stage == "lock":
        code = ExitCode.LOCKED if isinstance(exc, LockHeldError) else exc.exit_code
        return ("locked" if code == ExitCode.LOCKED else "failed"), int(code), exc.one_line()
    if ran.stage == "observe":
        return ("refused" if isinstance(exc, RefusedError) else "failed",
                int(exc.exit_code), exc.one_line())
    return "failed", int(ExitCode.FAILED), exc.one_line()
