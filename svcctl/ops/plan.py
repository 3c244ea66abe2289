"""What a deploy will do and what it reports: the plan, the report types, the refusal.

Pure: no I/O. `plan_deploy` is exactly what `--dry-run` prints; `svcctl.ops.deploy`
carries it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from svcctl.errors import ExitCode
from svcctl.model import Finding, HostSpec, ServiceSpec, Verdict
from svcctl.ops import lifecycle
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, lock_path
from svcctl.ops.steps import Step, StepRecord

PREVIOUS_SUFFIX = ".previous"  # not `*.plist`: launchd never loads it at login
ALLOWED_HERE = {Verdict.OK, Verdict.DOWN, Verdict.CRASHLOOP}

@dataclass(frozen=True)
class DeployOptions:
    dry_run: bool = False
    upload: bool = True  # False: `svcctl restart`, deploy's gates without the upload
    break_lock: bool = False
    lock_ttl: float = DEFAULT_TTL
    lock_wait: float = DEFAULT_WAIT
    parallel: int = 1
    stay_up: float | None = None  # None: the service's own


@dataclass
class Rollback:
    outcome: str  # "restored" | "nothing-running" | "failed"
    detail: str
    steps: list[StepRecord] = field(default_factory=list)


@dataclass
class HostDeploy:
    host: str
    outcome: str  # deployed | restarted | planned | refused | locked | bad-input | failed |
    #               rolled-back | interrupted | not-attempted
    exit_code: int
    steps: list[StepRecord]
    plan: list[Step] = field(default_factory=list)
    rollback: Rollback | None = None
    final: Finding | None = None
    error: str | None = None


@dataclass
class DeployReport:
    service: str
    label: str
    dry_run: bool
    hosts: list[HostDeploy]

    @property
    def exit_code(self) -> int:
        codes = {h.exit_code for h in self.hosts}
        for code in (ExitCode.FAILED, ExitCode.LOCKED, ExitCode.FINDINGS, ExitCode.BAD_INPUT):
            if code in codes:
                return int(code)
        return 0


def plan_deploy(svc: ServiceSpec, spec: HostSpec, path: str, *, loaded: bool,
                installed: bool, opts: DeployOptions, hosts_checked: Sequence[str]) -> list[Step]:
    """Pure: the exact steps for one host, from what pre-flight observed."""
    dom = spec.domain
    target = dom.service_target(svc.label)
    window = svc.stay_up if opts.stay_up is None else opts.stay_up
    steps = [
        Step("lock", f"take {lock_path(svc.name)} (expires after {opts.lock_ttl:g} s)"),
        Step("preflight", f"{dom.target} reachable as its owner; plist renders and validates; "
             f"no stray of {svc.name} on {', '.join(hosts_checked)}"),
    ]
    if opts.upload:
        keep = (f"keep the installed one as {path}{PREVIOUS_SUFFIX}" if installed
                else "no previous version (first deploy)")
        if svc.guard:
            keep += "; install the guard wrapper"
        steps.append(Step("upload", f"write {path} (temp name + rename, mode 0644); {keep}"))
    bound = lifecycle.stop_bound(svc)
    if loaded:
        steps.append(Step("stop", f"launchctl bootout {target}; wait until the label is gone "
                          f"and no matching process remains (at most {bound:g} s)"))
    else:
        steps.append(Step("stop", f"{target} is not loaded: check no matching process remains"))
    steps.append(Step("start", f"launchctl enable {target}; launchctl bootstrap {dom.target} "
                      f"{path}; launchctl kickstart {target}"))
    check = f"; then health check {' '.join(lifecycle.health_argv(svc.health))}" \
        if svc.health else ""
    steps.append(Step("verify", f"for {window:g} s: one unchanging launchd pid, exactly one "
                      f"matching process (launchd's), no crash loop{check}"))
    steps.append(Step("unlock", f"remove {lock_path(svc.name)}"))
    return steps


def expected_uid(spec: HostSpec) -> int:
    return 0 if spec.domain.uid is None else spec.domain.uid


def refusal(svc: ServiceSpec, bad: Sequence[Finding]) -> str:
    parts = []
    for f in bad:
        strays = ", ".join(f"pid {i.proc.pid} ({i.proc.user}: {i.proc.command})"
                           for i in f.instances if not i.managed or f.verdict is Verdict.UNEXPECTED)
        what = f"{f.verdict.value} on {f.host}: {strays or f.detail}"
        if f.verdict in (Verdict.STRAY, Verdict.DUPLICATE, Verdict.UNEXPECTED, Verdict.BLOCKED):
            what += f"; fix with `svcctl adopt {svc.name} --host {f.host}`"
        parts.append(what)
    return "; ".join(parts)
