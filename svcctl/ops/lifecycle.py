"""Stop, start and verify one service on one host: the gates deploy, adopt and restart share.

"Stopped" means the label is gone from the domain AND no matching process remains;
"started" means one stable PID, launchd's, for the stay-up window, exactly one matching
instance, no crash loop, then the health check (STYLE habit 3, FIELD A/B). Every poll is
one batched probe (`probe_host`) over the caller's open connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from svcctl.errors import CommandTimeoutError, ExitCode, SvcctlError
from svcctl.host.base import Host
from svcctl.launchd import (
    bootout_argv,
    bootstrap_argv,
    classify_launchctl_error,
    enable_argv,
    kickstart_argv,
)
from svcctl.model import Finding, HealthCheck, HostSpec, ProcInfo, ServiceSpec
from svcctl.ops.audit import probe_host
from svcctl.procs import detect_respawn, is_crashlooping, is_known_running
from svcctl.release.concrete import current_health

DEFAULT_EXIT_TIMEOUT = 5  # launchd's modern default (FACTS 4)
STOP_MARGIN = 5.0
START_GRACE = 5.0  # launchd must report a pid this soon after kickstart
POLL = 0.25

Cancelled = Callable[[], bool]


class StepFailed(SvcctlError):
    """A lifecycle step did not converge: exit 3, with what is still there."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, survivors: tuple[int, ...] = (),
                 finding: Finding | None = None) -> None:
        super().__init__(message)
        self.survivors = survivors
        self.finding = finding


@dataclass
class Target:
    """One service on one host, over one open connection."""

    spec: HostSpec
    svc: ServiceSpec
    host: Host

    @property
    def service_target(self) -> str:
        return self.spec.domain.service_target(self.svc.label)

    def observe(self) -> Finding:
        return probe_host(self.spec, [self.svc], self.host).findings[0]

    def launchctl(self, argv: list[str], verb: str, timeout: float = 30.0) -> None:
        r = self.host.run(argv, timeout=timeout)
        outcome = classify_launchctl_error(r.rc, r.stderr, verb, self.service_target)
        if not outcome.ok and not (verb == "kickstart" and outcome.cause == "already-running"):
            raise StepFailed(f"{outcome.one_line()}" +
                             (f" [{outcome.message}]" if outcome.message else ""))


def stop_bound(svc: ServiceSpec) -> float:
    """ExitTimeOut (0 means launchd never SIGKILLs, FACTS 4) plus a margin."""
    et = DEFAULT_EXIT_TIMEOUT if svc.exit_timeout is None else svc.exit_timeout
    return et + STOP_MARGIN


def describe_instances(f: Finding) -> str:
    return ", ".join(f"pid {i.proc.pid} ({'launchd' if i.managed else 'stray'}: "
                     f"{i.proc.command})" for i in f.instances) or "none"


def hidden_refusal(svc: ServiceSpec, spec: HostSpec, hidden: Sequence[ProcInfo]) -> str:
    """Why candidates whose arguments ps hides block a start, and the remedy."""
    # a Mac's ps shows only `(comm)` for another user's process (FACTS 5.2): any of them
    # may be a copy, so nothing may start beside them, whatever launchd's job is doing
    who = ", ".join(f"pid {p.pid} (user {p.user}, uid {p.uid}: {p.command})" for p in hidden)
    they = ("hides its arguments", "it is a copy") if len(hidden) == 1 else \
        ("hide their arguments", "they are copies")
    return (f"{who} {they[0]} from this user, so svcctl cannot tell whether {they[1]} of "
            f"{svc.name}: see and stop strays as root: "
            f"`svcctl adopt {svc.name} --host {spec.name} --user root`")


def stop(t: Target) -> str:
    """bootout (never `stop`, which KeepAlive undoes: FACTS 2.9), then wait until gone."""
    before = t.observe()
    if before.job is None and not before.instances:
        return f"{t.service_target} not loaded, no matching process"
    if before.job is not None:
        r = t.host.run(bootout_argv(t.spec.domain, t.svc.label))
        outcome = classify_launchctl_error(r.rc, r.stderr, "bootout", t.service_target)
        if not outcome.ok and not outcome.gone:
            raise StepFailed(outcome.one_line(), finding=before)
    bound = stop_bound(t.svc)
    deadline = time.monotonic() + bound
    while True:
        # bootout is asynchronous: the label stays `SIGTERMed` until the exit (FACTS 2.2)
        now = t.observe()
        if now.job is None and not now.instances and not now.hidden:
            killed = f"; pid {before.job.pid} gone" if before.job and before.job.pid else ""
            return f"bootout {t.service_target}{killed}; no matching process"
        if time.monotonic() >= deadline:
            survivors = tuple(i.proc.pid for i in now.instances)
            loaded = f"still loaded ({now.job.state}); " if now.job else ""
            raise StepFailed(
                f"not stopped within {bound:g} s (ExitTimeOut + {STOP_MARGIN:g}): {loaded}"
                f"survivors: {describe_instances(now)}", survivors=survivors, finding=now)
        time.sleep(POLL)


def start(t: Target, plist_path: str) -> str:
    """enable (a disabled override makes bootstrap fail, FACTS 2.1), bootstrap, kickstart."""
    t.launchctl(enable_argv(t.spec.domain, t.svc.label), "enable")
    t.launchctl(bootstrap_argv(t.spec.domain, plist_path), "bootstrap")
    # bootstrap alone may leave a KeepAlive job `not running` (FACTS 4, known flake)
    t.launchctl(kickstart_argv(t.spec.domain, t.svc.label), "kickstart")
    return f"enable, bootstrap {plist_path}, kickstart {t.service_target}"


@dataclass(frozen=True)
class Sample:
    at: float
    finding: Finding


def judge_window(samples: list[Sample], stay_up: float,
                 start_grace: float = START_GRACE) -> tuple[str, str]:
    """Pure: ("wait" | "ok" | "fail", why) for the samples taken so far after a start."""
    if not samples:
        return "wait", "no sample yet"
    first = samples[0]
    good: Sample | None = None
    for s in samples:
        f = s.finding
        why = _not_exactly_one(f)
        if why is not None:
            return "fail", why
        job = f.job
        # `xpcproxy`, `SIGTERMed` and states FACTS 3.3 does not list are not "up"
        up = job is not None and is_known_running(job) and any(i.managed for i in f.instances)
        if good is None:
            if up:
                good = s
                continue
            why = _not_started(s, first, start_grace)
            if why is not None:
                return "fail", why
            continue
        judged = _stayed_up(s, good, up, stay_up)
        if judged is not None:
            return judged
    return "wait", "within the window"


def _not_exactly_one(f: Finding) -> str | None:
    """Why one sample alone fails the window, whatever came before it."""
    strays = [i for i in f.instances if not i.managed]
    managed = [i for i in f.instances if i.managed]
    if strays:
        return f"a process launchd does not own runs: {describe_instances(f)}"
    if len(managed) > 1:
        return f"{len(managed)} instances: {describe_instances(f)}"
    if f.elsewhere:  # loaded in another domain, idle or not: not "exactly one" (issue 11)
        return f"the label is also loaded in {', '.join(f.elsewhere)}"
    return None


def _not_started(s: Sample, first: Sample, start_grace: float) -> str | None:
    """Before the job is first seen up: a crash loop or the grace running out fails it."""
    job = s.finding.job
    if job is not None and is_crashlooping(job):
        return (f"crash loop: state {job.state}, runs {job.runs}, "
                f"last exit {job.last_exit_raw}")
    if s.at - first.at > start_grace:
        state = job.state if job else "not loaded"
        return f"did not start within {start_grace:g} s ({state})"
    return None


def _stayed_up(s: Sample, good: Sample, up: bool, stay_up: float) -> tuple[str, str] | None:
    """After the job was first seen up at `good`: it must stay, the same pid, for stay_up."""
    job, first_job, hidden = s.finding.job, good.finding.job, s.finding.hidden
    assert first_job is not None
    if not up or job is None:
        state = f"{job.state}, last exit {job.last_exit_raw}" if job else "unloaded"
        return "fail", f"pid {first_job.pid} exited after {s.at - good.at:.1f} s ({state})"
    if detect_respawn(first_job, job):
        return "fail", (f"launchd restarted it: pid {first_job.pid} -> {job.pid}, "
                        f"runs {first_job.runs} -> {job.runs}")
    if s.at - good.at < stay_up:
        return None
    if hidden:  # a partial view never proves "exactly one" (FIELD K)
        return "fail", (f"pid {job.pid} stayed up, but {len(hidden)} candidate "
                        "process(es) hide their arguments: cannot prove it is the "
                        "only instance")
    return "ok", f"pid {job.pid} stayed up {s.at - good.at:.1f} s; one instance, launchd's own"


def verify(t: Target, stay_up: float | None = None, cancelled: Cancelled | None = None, *,
           check_health: bool = True) -> str:
    """Watch through the stay-up window, then run the health check."""
    window = t.svc.stay_up if stay_up is None else stay_up
    samples: list[Sample] = []
    while True:
        samples.append(Sample(time.monotonic(), t.observe()))
        verdict, why = judge_window(samples, window)
        if verdict == "fail":
            raise StepFailed(why, finding=samples[-1].finding)
        if verdict == "ok":
            break
        if cancelled is not None and cancelled():
            raise StepFailed("interrupted during the stay-up window",
                             finding=samples[-1].finding)
        time.sleep(POLL)
    check = current_health(t.svc)
    if check is not None:
        why += ("; " + health(t.host, check) if check_health else
                "; health check not run: the inventory's check is the new version's")
    return why


def health_argv(check: HealthCheck) -> list[str]:
    if check.command is not None:
        return list(check.command)
    if check.url is not None:
        return ["curl", "-fsS", "-o", "/dev/null", "--max-time", f"{check.timeout:g}",
                check.url]
    return ["nc", "-z", "-w", f"{max(1, int(check.timeout))}", "127.0.0.1",
            str(check.tcp_port)]


def health(host: Host, check: HealthCheck) -> str:
    argv = health_argv(check)
    try:
        r = host.run(argv, timeout=check.timeout + 5)
    except CommandTimeoutError as exc:
        raise StepFailed(f"health check `{' '.join(argv)}` timed out: {exc.one_line()}") from None
    if not r.ok:
        raise StepFailed(f"health check `{' '.join(argv)}` failed ({r.rc}): {r.tail()}")
    return f"health check `{' '.join(argv)}` passed"
