"""`svcctl stop|start|logs`: one service on one host, through the lifecycle gates.

stop = bootout + verified gone; start = enable + bootstrap + kickstart + verified (a
no-op, with its reason, when launchd's instance already runs alone). Before start changes
anything it passes the cross-host gate (`svcctl.ops.gate`): no copy may run on another
inventory host, and the label may not be loaded in another domain here (issue 11). Both
hold the deploy lock, so they never interleave with a deploy. `restart` is `run_deploy` with
`upload=False`; `status` is the audit of one service.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from svcctl.errors import ExitCode, HostError, ParseError, RefusedError, SvcctlError
from svcctl.host.quote import quote
from svcctl.model import Finding, ServiceSpec, Verdict
from svcctl.ops import gate, lifecycle
from svcctl.ops.context import RunContext
from svcctl.ops.executor import LockPolicy, Operation, execute
from svcctl.ops.lifecycle import Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT
from svcctl.ops.plan import DeployReport, HostDeploy, refusal, refusals
from svcctl.ops.steps import Interrupt, Recorder, Step
from svcctl.render import plist_path_for

# `svcctl logs` reads through these (svcctl/scripts/log_tail.sh, log_size.sh): re-exported
from svcctl.scripts.files import read_from as read_from  # noqa: PLC0414
from svcctl.scripts.files import size_of as size_of  # noqa: PLC0414

# launchd's own instance runs alone: start has nothing to start. `stale` (issue 13) is
# that too, on another release than `current`: a deploy of current (`rollback --to`), not a
# start, is its fix
RUNNING = frozenset({Verdict.OK, Verdict.STALE})


def cross_host_gate(ctx: RunContext, t: Target) -> str:
    """Before anything starts on `t`'s host: every other inventory host, over its own
    connection (`svcctl.ops.gate`). RefusedError names each host that may run a copy;
    one that cannot be reached passes only when the operator stated it fenced."""
    result = gate.check(ctx.inv, t.svc, [t.spec.name], ctx.connect, ctx.acknowledged)
    if result.blocking:
        raise RefusedError(f"{t.svc.name}: refusing to start on {t.spec.name}, nothing "
                           f"started: {refusals(t.svc, result.blocking, ctx.inv.hosts)}")
    if not result.checked:
        return "no other inventory host"
    clear = [h for h in result.checked if h not in result.acknowledged]
    parts = [f"nothing of {t.svc.name} runs on {', '.join(clear)}"] if clear else []
    parts += [f"{h} unreachable: stated powered off or cut off by the operator "
              f"(--fenced {h})" for h in result.acknowledged]
    return "; ".join(parts)


def elsewhere_refusal(t: Target, elsewhere: Sequence[str]) -> RefusedError:
    """The label loaded in another domain here, idle or not: one start there makes two."""
    return RefusedError(
        f"{t.svc.name}: refusing to start on {t.spec.name}, nothing changed: the label is "
        f"also loaded in {', '.join(elsewhere)} (idle or not, launchd may start it there "
        f"beside {t.service_target}, FACTS 1.4)",
        hint=f"boot it out with `svcctl adopt {t.svc.name} --host {t.spec.name}`")


class _Stop:
    """`svcctl stop` on one host, as an `executor.Operation`: the stop step looks for
    itself (not loaded: it only checks that nothing matching runs), so there is no survey
    before it and a signal after the lock still lets it finish (exit 3)."""

    framed = True

    def __init__(self, t: Target) -> None:
        self.t = t

    def observe(self) -> Step | None:
        return None

    def steps(self) -> list[Step]:
        t = self.t
        return [Step("stop", f"launchctl bootout {t.service_target} if loaded; wait until the "
                     f"label is gone and no matching process remains (at most "
                     f"{lifecycle.stop_bound(t.svc):g} s)", lambda: lifecycle.stop(t))]

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """A stop that did not converge is reported with what is left: nothing to undo."""


class _Start:
    """`svcctl start` on one host, as an `executor.Operation`."""

    framed = True

    def __init__(self, ctx: RunContext, t: Target) -> None:
        self.ctx, self.t = ctx, t
        self.found: Finding | None = None

    def observe(self) -> Step:
        return Step("survey", f"on {self.t.spec.name}: refuse beside a stray, a process that "
                    "hides its arguments, or the label loaded in another domain",
                    self.survey, changes=False)

    def survey(self) -> str:
        t = self.t
        f = self.found = t.observe()
        if any(not i.managed for i in f.instances):
            raise RefusedError(f"{t.svc.name}: refusing to start beside a stray: "
                               f"{refusal(t.svc, [f])}")
        if f.hidden:  # whatever the job's state: not loaded and crash-looping alike
            raise RefusedError(f"{t.svc.name}: refusing to start on {t.spec.name}, nothing "
                               f"changed: {lifecycle.hidden_refusal(t.svc, t.spec, f.hidden)}")
        if f.elsewhere:
            raise elsewhere_refusal(t, f.elsewhere)
        return f"{f.verdict.value}: " + (f"launchd pid {f.job.pid}" if f.job and f.job.pid
                                         else "loaded, not running" if f.job else "not loaded")

    def steps(self) -> list[Step]:
        t, f = self.t, self.found
        assert f is not None
        stay_up = self.ctx.stay_up
        window = t.svc.stay_up if stay_up is None else stay_up
        verify = Step("verify", f"for {window:g} s: one unchanging launchd pid, exactly one "
                      "matching process (launchd's), no crash loop",
                      lambda: lifecycle.verify(t, stay_up, self.ctx.interrupt), changes=False)
        if f.verdict in RUNNING:
            why = (f"already running: launchd pid {f.job.pid if f.job else '?'}, the only "
                   "instance")
            if f.verdict is Verdict.STALE:  # start never restarts: a deploy of current is the fix
                why += (f" ({f.detail}; `svcctl rollback {t.svc.name} --to "
                        f"{f.current_release or 'ID'} --host {t.spec.name}` runs current)")
            return [Step("start", why, skip=why), verify]
        steps = [Step("gate", f"check that no other inventory host runs {t.svc.name}",
                      lambda: cross_host_gate(self.ctx, t),
                      changes=False)]
        if f.job is not None:  # loaded but down or crash-looping
            steps.append(Step("stop", f"launchctl bootout {t.service_target}; wait until gone",
                              lambda: lifecycle.stop(t)))
        path = str(plist_path_for(t.svc, t.spec.domain, t.spec.home))
        steps.append(Step("start", f"launchctl enable {t.service_target}; launchctl bootstrap "
                          f"{t.spec.domain.target} {quote(path)}; launchctl kickstart "
                          f"{t.service_target}", lambda: lifecycle.start(t, path)))
        return [*steps, verify]

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """A start that did not converge is reported with what runs: nothing to undo."""


def control(ctx: RunContext, svc: ServiceSpec, host_names: Sequence[str], action: str, *,
            dry_run: bool = False) -> DeployReport:
    """`action` is "stop" or "start"; hosts one at a time, stopping at the first failure."""
    out: list[HostDeploy] = []
    for name in host_names:
        spec = ctx.inv.hosts[name]
        if ctx.interrupt() or any(h.exit_code for h in out):
            out.append(HostDeploy(name, "not-attempted", 0, []))
            continue
        rec = Recorder(name, ctx.progress)
        try:
            with ctx.connect(spec) as host:
                t = Target(spec, svc, host)
                op: Operation = _Stop(t) if action == "stop" else _Start(ctx, t)
                out.append(_one(op, t, rec, action, ctx.interrupt, dry_run))
        except HostError as exc:
            out.append(HostDeploy(name, "failed", int(ExitCode.FAILED), rec.steps,
                                  error=exc.one_line()))
    return DeployReport(svc.name, svc.label, dry_run, out)


def _one(op: Operation, t: Target, rec: Recorder, action: str, interrupt: Interrupt,
         dry_run: bool) -> HostDeploy:
    ran = execute(op, host=t.host, service=t.svc.name, rec=rec, interrupt=interrupt,
                  policy=LockPolicy(DEFAULT_TTL, DEFAULT_WAIT), dry_run=dry_run)
    exc = ran.error
    code, error = 0, None
    if ran.stage == "planned":
        return HostDeploy(t.spec.name, "planned", 0, rec.steps, ran.plan)
    if exc is None:
        outcome = "stopped" if action == "stop" else "started"
        if interrupt():
            outcome, code = "interrupted", int(ExitCode.FAILED)
            error = f"interrupted by {interrupt.name} after the {action} had completed"
    elif ran.stage == "lock":
        outcome, code, error = "locked", int(exc.exit_code), exc.one_line()
    else:
        outcome, code, error = ("refused" if isinstance(exc, RefusedError) else "failed",
                                int(exc.exit_code), exc.one_line())
    final = None
    with contextlib.suppress(HostError, ParseError):
        final = t.observe()
    return HostDeploy(t.spec.name, outcome, code, rec.steps, ran.plan, final=final,
                      error=error)


def log_paths(svc: ServiceSpec) -> list[str]:
    return list(dict.fromkeys(p for p in (svc.stdout_path, svc.stderr_path) if p))


def tail_argv(path: str, lines: int) -> list[str]:
    return ["tail", "-n", str(lines), path]
