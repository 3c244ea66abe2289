"""What a deploy will do and what it reports: the plan, the report types, the refusal.

Pure: no I/O. `plan_deploy` is exactly what `--dry-run` prints; `svcctl.ops.deploy`
gives each step what runs it and `svcctl.ops.executor` runs that same list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from svcctl import places
from svcctl.errors import ExitCode
from svcctl.host.quote import quote
from svcctl.model import FenceRecord, Finding, HostSpec, ReleaseSpec, ServiceSpec, Verdict
from svcctl.ops import gate, lifecycle
from svcctl.ops.executor import LockPolicy, whole_plan
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT
from svcctl.ops.steps import Step, StepRecord
from svcctl.release.concrete import current_health, release_path

PREVIOUS_SUFFIX = ".previous"  # not `*.plist`: launchd never loads it at login
# UNFENCED on an assigned host: a plist another domain would load; the upload moves it aside
# STALE: launchd's one instance on another release than `current`: deploy is its fix
ALLOWED_HERE = {Verdict.OK, Verdict.DOWN, Verdict.CRASHLOOP, Verdict.UNFENCED, Verdict.STALE}

@dataclass(frozen=True)
class DeployOptions:
    dry_run: bool = False
    upload: bool = True  # False: `svcctl restart`, deploy's gates without the upload
    break_lock: bool = False
    lock_ttl: float = DEFAULT_TTL
    lock_wait: float = DEFAULT_WAIT
    parallel: int = 1
    # dry run: hosts the fence phase would fence first, so the gate lets them pass
    fencing: frozenset[str] = frozenset()
    # the operator's statements, recorded on every host deployed to
    acknowledgements: tuple[FenceRecord, ...] = ()
    reason: str = ""  # `--reason`: why, for the fence and acknowledgement records
    release_id: str | None = None  # `--release ID`; None: the id the source gives (issue 13)
    # `svcctl rollback`: deploy a release already on the host (`release_id`, `--to ID`;
    # None: the one `current` pointed to before the last switch), sending nothing
    rollback: bool = False


@dataclass(frozen=True)
class ReleaseHere:
    """What pre-flight saw of the release a deploy ships (issue 13): its id, and whether
    the host already holds it under that id with the same checksum (nothing to send)."""

    release_id: str
    present: bool
    why: str = ""  # a rollback's target: how it was chosen (`--to`, or the previous one)


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
    reboot: tuple[bool, str] | None = None  # (comes back by itself, why): places.reboot_note
    release: str | None = None  # the release deployed (issue 13): shipped, or rolled back to


@dataclass
class DeployReport:
    service: str
    label: str
    dry_run: bool
    hosts: list[HostDeploy]
    fences: list[HostDeploy] = field(default_factory=list)  # hosts fenced first (issue 11)
    acknowledged: list[FenceRecord] = field(default_factory=list)  # `--fenced HOST`

    @property
    def exit_code(self) -> int:
        codes = {h.exit_code for h in [*self.fences, *self.hosts]}
        for code in (ExitCode.FAILED, ExitCode.LOCKED, ExitCode.FINDINGS, ExitCode.BAD_INPUT):
            if code in codes:
                return int(code)
        return 0


def plan_deploy(svc: ServiceSpec, spec: HostSpec, path: str, *, loaded: bool,
                installed: bool, opts: DeployOptions, hosts_checked: Sequence[str],
                here: Finding | None = None, stay_up: float | None = None,
                shipped: ReleaseHere | None = None) -> list[Step]:
    """Pure: the exact steps for one host, from what pre-flight observed (`here`,
    `shipped`): what `--dry-run` prints and what `svcctl.ops.deploy` runs, through
    `svcctl.ops.executor`."""
    return whole_plan(svc.name, lock_policy(opts), preflight_step(svc, spec, opts, hosts_checked),
                      deploy_steps(svc, spec, path, loaded=loaded, installed=installed,
                                   opts=opts, here=here, stay_up=stay_up, shipped=shipped))


def lock_policy(opts: DeployOptions) -> LockPolicy:
    return LockPolicy(opts.lock_ttl, opts.lock_wait, opts.break_lock)


def preflight_step(svc: ServiceSpec, spec: HostSpec, opts: DeployOptions,
                   hosts_checked: Sequence[str]) -> Step:
    acked = "".join(f"; {a.host} stated fenced by the operator, recorded here"
                    for a in opts.acknowledgements)
    rel = svc.release
    there = ""
    if rel is not None and opts.rollback:
        want = f"release {opts.release_id}" if opts.release_id else \
            "the release current pointed to before the last switch"
        there = f"; release root {rel.root} listed: {want} is there, its manifest the one " \
            "its record names"
    elif rel is not None and opts.upload:
        there = f"; release root {rel.root} checked: is the release there, same checksum"
    return Step("preflight", f"{spec.domain.target} reachable as its owner; plist renders and "
                f"validates; no stray of {svc.name} on {', '.join(hosts_checked)}{acked}{there}",
                changes=False)


def deploy_steps(svc: ServiceSpec, spec: HostSpec, path: str, *, loaded: bool,
                 installed: bool, opts: DeployOptions, here: Finding | None,
                 stay_up: float | None = None, shipped: ReleaseHere | None = None
                 ) -> list[Step]:
    """Pure: the steps after pre-flight (upload unless a restart, stop, start, verify);
    `stay_up`: the operator's window (`--stay-up`), else the service's own. A deploy of a
    service with `release:` (`shipped`: what pre-flight saw of it) uploads the release
    before the plist, switches `current` between stop and start, and prunes after verify."""
    dom = spec.domain
    target = dom.service_target(svc.label)
    window = svc.stay_up if stay_up is None else stay_up
    qpath = quote(path)
    rel = svc.release if opts.upload else None
    ship_to = None if rel is None or shipped is None else release_words(rel, shipped)
    steps = []
    if opts.upload:
        keep = (f"keep the installed one as {quote(path + PREVIOUS_SUFFIX)}" if installed
                else "no previous version (first deploy)")
        if svc.guard:
            keep += "; install the guard wrapper"
        for p in aside(svc, spec, here):
            keep += f"; move {quote(p)} aside: launchd would load it into another domain"
        if here is not None and here.fence is not None:
            keep += f"; unfence: remove the record ({here.fence.describe()})"
        ship = "" if ship_to is None else f"{ship_to[0]}; then "
        steps.append(Step("upload", f"{ship}write {qpath} (temp name + rename, mode 0644); "
                          f"{keep}"))
    bound = lifecycle.stop_bound(svc)
    if loaded:
        steps.append(Step("stop", f"launchctl bootout {target}; wait until the label is gone "
                          f"and no matching process remains (at most {bound:g} s)"))
    else:
        steps.append(Step("stop", f"{target} is not loaded: check no matching process remains"))
    if ship_to is not None:
        steps.append(Step("switch", ship_to[1]))
    steps.append(Step("start", f"launchctl enable {target}; launchctl bootstrap {dom.target} "
                      f"{qpath}; launchctl kickstart {target}"))
    health = current_health(svc)
    check = f"; then health check {' '.join(lifecycle.health_argv(health))}" \
        if health is not None else ""
    steps.append(Step("verify", f"for {window:g} s: one unchanging launchd pid, exactly one "
                      f"matching process (launchd's), no crash loop{check}", changes=False))
    if ship_to is not None and not opts.rollback:  # a rollback adds no release: none to prune
        steps.append(Step("prune", ship_to[2]))
    return steps


def release_words(rel: ReleaseSpec, shipped: ReleaseHere) -> tuple[str, str, str]:
    """The upload's release half, the switch and the prune, as the plan says them."""
    rid = shipped.release_id
    where = quote(release_path(rel, rid))
    send = (f"release {rid} ({shipped.why}): already at {where}, nothing to send"
            if shipped.why else
            f"release {rid}: already at {where} with the same checksum, nothing to send"
            if shipped.present else
            f"release {rid}: send it to {where} (one tar stream, published only once the "
            "host's manifest matches)")
    current = quote(f"{rel.root.rstrip('/')}/current")
    switch = (f"point {current} at releases/{rid} (one rename, mv -h); remember the "
              "previous target for a rollback")
    prune = (f"keep the newest {rel.keep} releases under {quote(rel.root)}, and current, "
             "previous and any a process runs; delete the rest (checked again before each "
             "rm)")
    return send, switch, prune


def aside(svc: ServiceSpec, spec: HostSpec, here: Finding | None) -> list[str]:
    """Plists on an assigned host that launchd would load into another domain (issue 11)."""
    if here is None:
        return []
    by_path = {p.path: p for p in places.places(svc.label, spec.home)}
    return [p for p in here.plists
            if p in by_path and by_path[p].autoload and by_path[p].into is not spec.domain.kind]


def reboot_note(svc: ServiceSpec, spec: HostSpec) -> tuple[bool, str]:
    return places.reboot_note(spec.domain, places.starts_at_load(svc))


def expected_uid(spec: HostSpec) -> int:
    return 0 if spec.domain.uid is None else spec.domain.uid


def refusals(svc: ServiceSpec, bad: Sequence[Finding], hosts: Mapping[str, HostSpec]) -> str:
    """`refusal`, plus why hidden candidates block, for a gate that refuses a start."""
    hidden = [lifecycle.hidden_refusal(svc, hosts[f.host], f.hidden) for f in bad if f.hidden]
    return "; ".join([refusal(svc, bad), *hidden])


def refusal(svc: ServiceSpec, bad: Sequence[Finding]) -> str:
    parts = []
    for f in bad:
        if f.verdict is Verdict.UNREACHABLE:
            parts.append(gate.unreachable_refusal(svc, f))
            continue
        strays = ", ".join(f"pid {i.proc.pid} ({i.proc.user}: {i.proc.command})"
                           for i in f.instances if not i.managed or f.verdict is Verdict.UNEXPECTED)
        what = f"{f.verdict.value} on {f.host}: {strays or f.detail}"
        if f.verdict in (Verdict.STRAY, Verdict.DUPLICATE, Verdict.UNEXPECTED, Verdict.BLOCKED):
            what += f"; fix with `svcctl adopt {svc.name} --host {f.host}`"
        parts.append(what)
    return "; ".join(parts)
