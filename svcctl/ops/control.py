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
from collections.abc import Callable, Collection, Sequence

from svcctl.errors import ExitCode, HostError, ParseError, RefusedError, SvcctlError
from svcctl.host.base import Host
from svcctl.model import HostSpec, Inventory, ServiceSpec, Verdict
from svcctl.ops import gate, lifecycle
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, DeployLock
from svcctl.ops.plan import DeployReport, HostDeploy, refusal, refusals
from svcctl.ops.steps import Interrupt, Progress, Recorder
from svcctl.render import plist_path_for

# `svcctl logs` reads through these (svcctl/scripts/log_tail.sh, log_size.sh): re-exported
from svcctl.scripts.files import read_from as read_from  # noqa: PLC0414
from svcctl.scripts.files import size_of as size_of  # noqa: PLC0414

Connect = Callable[[HostSpec], Host]


def _stop(t: Target, rec: Recorder) -> str:
    rec.run("stop", lambda: lifecycle.stop(t))
    return "stopped"


def cross_host_gate(inv: Inventory, t: Target, connect: Connect,
                    acknowledged: Collection[str] = ()) -> str:
    """Before anything starts on `t`'s host: every other inventory host, over its own
    connection (`svcctl.ops.gate`). RefusedError names each host that may run a copy."""
    result = gate.check(inv, t.svc, [t.spec.name], connect, acknowledged)
    if result.blocking:
        raise RefusedError(f"{t.svc.name}: refusing to start on {t.spec.name}, nothing "
                           f"started: {refusals(t.svc, result.blocking, inv.hosts)}")
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


def _start(inv: Inventory, t: Target, rec: Recorder, stay_up: float | None,
           interrupt: Interrupt, connect: Connect, acknowledged: Collection[str]) -> str:
    f = t.observe()
    if any(not i.managed for i in f.instances):
        raise RefusedError(f"{t.svc.name}: refusing to start beside a stray: "
                           f"{refusal(t.svc, [f])}")
    if f.hidden:  # whatever the job's state: not loaded and crash-looping alike
        raise RefusedError(f"{t.svc.name}: refusing to start on {t.spec.name}, nothing "
                           f"changed: {lifecycle.hidden_refusal(t.svc, t.spec, f.hidden)}")
    if f.elsewhere:
        raise elsewhere_refusal(t, f.elsewhere)
    if f.verdict is Verdict.OK:
        rec.skip("start", f"already running: launchd pid {f.job.pid if f.job else '?'}, "
                 "the only instance")
    else:
        rec.run("gate", lambda: cross_host_gate(inv, t, connect, acknowledged))
        if f.job is not None:
            rec.run("stop", lambda: lifecycle.stop(t))  # loaded but down or crash-looping
            if interrupt():
                raise StepFailed(f"interrupted by {interrupt.name} after stop (nothing started)")
        path = str(plist_path_for(t.svc, t.spec.domain, t.spec.home))
        rec.run("start", lambda: lifecycle.start(t, path))
    rec.run("verify", lambda: lifecycle.verify(t, stay_up, interrupt))
    return "started"


def control(inv: Inventory, svc: ServiceSpec, host_names: Sequence[str], connect: Connect,
            action: str, *, stay_up: float | None = None, progress: Progress | None = None,
            acknowledged: Collection[str] = ()) -> DeployReport:
    """`action` is "stop" or "start"; hosts one at a time, stopping at the first failure.

    `acknowledged`: hosts the operator stated are powered off or cut off (`--fenced`):
    their being unreachable does not block a start (`svcctl.ops.gate.judge`)."""
    out: list[HostDeploy] = []
    interrupt = Interrupt()  # SIGINT/SIGTERM: finish the step in flight, unlock, exit 3
    with interrupt.installed():
        for name in host_names:
            spec = inv.hosts[name]
            if interrupt() or any(h.exit_code for h in out):
                out.append(HostDeploy(name, "not-attempted", 0, []))
                continue
            rec = Recorder(name, progress)
            try:
                with connect(spec) as host:
                    out.append(_one(inv, Target(spec, svc, host), rec, action, stay_up,
                                    interrupt, connect, acknowledged))
            except HostError as exc:
                out.append(HostDeploy(name, "failed", int(ExitCode.FAILED), rec.steps,
                                      error=exc.one_line()))
    return DeployReport(svc.name, svc.label, False, out)


def _one(inv: Inventory, t: Target, rec: Recorder, action: str, stay_up: float | None,
         interrupt: Interrupt, connect: Connect, acknowledged: Collection[str]) -> HostDeploy:
    lock = DeployLock(t.host, t.svc.name)
    try:
        rec.run("lock", lambda: lock.acquire(ttl=DEFAULT_TTL, wait=DEFAULT_WAIT).describe())
    except SvcctlError as exc:
        return HostDeploy(t.spec.name, "locked", int(exc.exit_code), rec.steps,
                          error=exc.one_line())
    try:
        outcome = _stop(t, rec) if action == "stop" else \
            _start(inv, t, rec, stay_up, interrupt, connect, acknowledged)
        code, error = 0, None
        if interrupt():
            outcome, code = "interrupted", int(ExitCode.FAILED)
            error = f"interrupted by {interrupt.name} after the {action} had completed"
    except (SvcctlError, ParseError) as exc:
        outcome, code, error = ("refused" if isinstance(exc, RefusedError) else "failed",
                                int(exc.exit_code), exc.one_line())
    finally:
        with contextlib.suppress(HostError):
            rec.run("unlock", lock.release)
    final = None
    with contextlib.suppress(HostError, ParseError):
        final = t.observe()
    return HostDeploy(t.spec.name, outcome, code, rec.steps, final=final, error=error)


def log_paths(svc: ServiceSpec) -> list[str]:
    return list(dict.fromkeys(p for p in (svc.stdout_path, svc.stderr_path) if p))


def tail_argv(path: str, lines: int) -> list[str]:
    return ["tail", "-n", str(lines), path]
