"""`svcctl audit`: for every service, exactly one instance, launchd's own, where it belongs?

Per host: one connection and ONE remote command (launchctl print for each label in
each domain that matters, `ps`, and the guard lock files, batched by
`launchd.build_batch`); hosts run in parallel under a bounded pool. Reading is pure
(`assess_host`); this module only sequences the I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC

from svcctl import places
from svcctl.errors import HostError, ParseError
from svcctl.guard import StartTime, judge, parse_record
from svcctl.host.base import Host
from svcctl.launchd import (
    build_batch,
    parse_print,
    parse_print_domain,
    print_argv,
    split_batch,
)
from svcctl.model import (
    HARMLESS,
    Domain,
    DomainKind,
    FenceRecord,
    Finding,
    HostSpec,
    Inventory,
    JobState,
    ProcInfo,
    ServiceSpec,
    Verdict,
)
from svcctl.ops.lock import LockRecord, lock_path, parse_lock
from svcctl.procs import Probe, classify_service, cwd_names, identity_paths, parse_probe, probe_argv
from svcctl.scripts import probe as probe_scripts
from svcctl.scripts.probe import RecordRead, read_record_argv, record_read
from svcctl.scripts.shell import not_a_mac

GUARD_DIR = "/tmp/svcctl-guard"  # svcctl.guard's default lock directory
NOT_LOADED = {112, 113}  # no such domain / no such service (FACTS 2.7)


@dataclass(frozen=True)
class GuardHolder:
    pid: int
    command: tuple[str, ...]
    since: str


@dataclass(frozen=True)
class HeldLock:
    """A deploy lock found on the host (svcctl.ops.lock), live or expired."""

    service: str
    record: LockRecord | None  # None: a file we cannot read as a record
    expired: bool


@dataclass(frozen=True)
class HostReport:
    host: str
    reachable: bool
    findings: tuple[Finding, ...]
    error: str | None = None
    locks: tuple[HeldLock, ...] = ()


@dataclass(frozen=True)
class AuditReport:
    hosts: tuple[HostReport, ...]

    @property
    def ok(self) -> bool:
        return all(h.reachable and all(f.verdict in HARMLESS for f in h.findings)
                   for h in self.hosts)


def probe_domains(domain: Domain) -> list[Domain]:
    """The host's domain first, then the others the same label could hide in (FIELD C)."""
    out = [domain]
    if domain.uid is not None:
        other = DomainKind.GUI if domain.kind is DomainKind.USER else DomainKind.USER
        out.append(Domain(other, domain.uid))
    if not domain.is_system:
        out.append(Domain(DomainKind.SYSTEM))
    return out


def relevant_services(inv: Inventory, services: Sequence[str] | None) -> list[ServiceSpec]:
    names = list(services) if services else sorted(inv.services)
    return [inv.services[n] for n in names]


@dataclass(frozen=True)
class _Plan:
    commands: list[list[str]]
    prints: dict[str, int]  # service -> `print <domain>/<label>` in the host's domain
    listings: dict[str, int]  # other domain target -> `print <domain>` (its services block)
    guards: dict[str, int]  # service -> command index
    ps: int
    locks: dict[str, int] | None = None  # service -> command index of its deploy lock
    places: dict[str, int] | None = None  # service -> its plists and fence record (issue 11)


def plan_probe(spec: HostSpec, services: Sequence[ServiceSpec]) -> _Plan:
    """Every command of one host's probe: N label prints in the host's domain (state,
    runs, last exit), ONE listing per other domain (is the label loaded there, and its
    pid), the lock files, and ps. launchctl costs a process each, so N + 2, not 3N."""
    commands: list[list[str]] = []
    prints: dict[str, int] = {}
    listings: dict[str, int] = {}
    guards: dict[str, int] = {}
    locks: dict[str, int] = {}
    found: dict[str, int] = {}
    for dom in probe_domains(spec.domain)[1:]:
        listings[dom.target] = len(commands)
        commands.append(print_argv(dom))
    for svc in services:
        locks[svc.name] = len(commands)
        commands.append(read_record_argv(lock_path(svc.name)))
        prints[svc.name] = len(commands)
        commands.append(print_argv(spec.domain, svc.label))
        if svc.guard:
            guards[svc.name] = len(commands)
            commands.append(read_record_argv(f"{GUARD_DIR}/{svc.name}.lock"))
        found[svc.name] = len(commands)
        commands.append(places_argv(spec, svc))
    # ps, and the cwds and real paths that resolving what each process runs needs (issue 10)
    commands.append(probe_argv(cwd_names(services),
                               [p for svc in services for p in identity_paths(svc)]))
    return _Plan(commands, prints, listings, guards, len(commands) - 1, locks, found)


def places_argv(spec: HostSpec, svc: ServiceSpec) -> list[str]:
    """Every place a plist for the label may be (FACTS 1.2) and the fence record."""
    record = str(places.fence_record_path(svc.label, spec.domain, spec.home)) \
        if spec.home or spec.domain.is_system else "/nonexistent"
    plists = [p.path for p in places.places(svc.label, spec.home)]
    return probe_scripts.places_argv(record, plists)


def parse_places(text: str) -> tuple[tuple[str, ...], FenceRecord | None]:
    """Pure: (plists present, fence record) from `places_argv`'s output."""
    head, sep, record = text.partition("fence\n")
    plists = tuple(line[6:] for line in head.splitlines() if line.startswith("plist "))
    return plists, (FenceRecord.parse(record) if sep else None)


def probe_host(spec: HostSpec, services: Sequence[ServiceSpec], host: Host,
               timeout: float = 30.0) -> HostReport:
    """One batched probe; raises HostError / ParseError. The caller owns the connection."""
    plan = plan_probe(spec, services)
    batch = build_batch(plan.commands)
    result = host.run(batch.argv, timeout=timeout)
    return assess_host(spec, services, plan, split_batch(batch, result.stdout))


def audit_host(inv: Inventory, spec: HostSpec, services: Sequence[ServiceSpec],
               host: Host, timeout: float = 30.0) -> HostReport:
    """`probe_host`, with failures reported as unreachable findings. Does not close `host`."""
    try:
        return probe_host(spec, services, host, timeout)
    except HostError as exc:
        return _unreachable(spec.name, services, exc.one_line())
    except ParseError as exc:
        return _unreachable(spec.name, services, f"the probe's output was cut short: {exc}")


def _unreachable(host: str, services: Sequence[ServiceSpec], why: str) -> HostReport:
    findings = tuple(Finding(s.name, host, Verdict.UNREACHABLE, detail=why) for s in services)
    return HostReport(host, False, findings, why)


def assess_host(spec: HostSpec, services: Sequence[ServiceSpec], plan: _Plan,
                outputs: Sequence[tuple[int, str, str]]) -> HostReport:
    """Pure: the probe's outputs -> one finding per service."""
    ps_rc, ps_out, ps_err = outputs[plan.ps]
    probe: Probe | None = None
    ps_problem = f"ps failed ({ps_rc}): {ps_err.strip()[:200]}"
    if ps_rc == 0:
        try:
            probe = parse_probe(ps_out)
        except ParseError as exc:
            ps_problem = f"ps output unreadable: {exc}"
    findings = []
    for svc in services:
        if probe is None:
            findings.append(Finding(svc.name, spec.name, Verdict.UNINSPECTABLE, detail=ps_problem))
            continue
        findings.append(_assess_service(spec, svc, plan, outputs, probe))
    return HostReport(spec.name, True, tuple(findings), locks=held_locks(plan, outputs))


def held_locks(plan: _Plan, outputs: Sequence[tuple[int, str, str]],
               now: float | None = None) -> tuple[HeldLock, ...]:
    """Pure: the deploy locks the probe's `cat`s found (FIELD J: audit shows a held lock)."""
    now = time.time() if now is None else now
    out = []
    for service, index in (plan.locks or {}).items():
        rc, text, _ = outputs[index]
        if record_read(rc) is RecordRead.ABSENT:
            continue
        record = parse_lock(text)
        out.append(HeldLock(service, record, record is None or record.expired(now)))
    return tuple(out)


def _assess_service(spec: HostSpec, svc: ServiceSpec, plan: _Plan,
                    outputs: Sequence[tuple[int, str, str]], probe: Probe) -> Finding:
    procs = probe.procs
    def uninspectable(problem: str, hint: str | None = None) -> Finding:
        return Finding(svc.name, spec.name, Verdict.UNINSPECTABLE, detail=problem, hint=hint)

    def launchctl_failed(target: str, rc: int, err: str) -> Finding:
        no_mac = not_a_mac(spec.name, rc)
        if no_mac is not None:
            return uninspectable(no_mac.detail, hint=no_mac.hint)
        return uninspectable(f"launchctl print {target} exited {rc}: {err.strip()}",
                             hint=f"on {spec.name}, `launchctl print {target}` shows the error")

    expected = spec.domain.service_target(svc.label)
    job: JobState | None = None
    rc, out, err = outputs[plan.prints[svc.name]]
    if rc == 0:
        try:
            job = parse_print(out)
        except ParseError as exc:
            return uninspectable(f"cannot read launchctl print {expected}: {exc}")
    elif rc not in NOT_LOADED:
        return launchctl_failed(expected, rc, err)
    foreign: dict[str, JobState] = {}
    for target, index in plan.listings.items():
        rc, out, err = outputs[index]
        if rc in NOT_LOADED:
            continue  # that domain does not exist (no console session, FACTS 1.4)
        if rc != 0:
            return launchctl_failed(target, rc, err)
        try:
            # an unknown row about another label cannot hide this one (issue 9)
            entries = parse_print_domain(out, svc.label)
        except ParseError as exc:
            return uninspectable(f"cannot read launchctl print {target}: {exc}")
        for entry in entries:
            if entry.label == svc.label:
                dom = Domain.parse(target)
                foreign[dom.service_target(svc.label)] = JobState(
                    label=svc.label, source="print", domain=dom, domain_raw=target,
                    pid=entry.pid, last_exit_code=entry.status)
    finding = classify_service(svc, spec.name, expected, job, procs,
                               assigned=spec.name in svc.hosts, foreign_jobs=foreign,
                               real_paths=probe.real)
    finding = replace(finding, elsewhere=tuple(sorted(foreign)))
    if plan.places and svc.name in plan.places:
        plists, fence = parse_places(outputs[plan.places[svc.name]][1])
        finding = replace(finding, plists=plists, fence=fence)
    finding = judge_places(spec, svc, finding)
    if spec.name in svc.hosts:
        returns, why = places.reboot_note(spec.domain, places.starts_at_load(svc))
        finding = finding if returns else replace(finding, reboot=why)
    if svc.name in plan.guards:
        rc, out, _ = outputs[plan.guards[svc.name]]
        if record_read(rc) is RecordRead.READ:
            finding = apply_guard_holder(finding, out.encode(), procs)
    return finding


QUIET = {Verdict.OK, Verdict.DOWN, Verdict.CRASHLOOP}  # nothing else runs: places decide


def judge_places(spec: HostSpec, svc: ServiceSpec, finding: Finding) -> Finding:
    """Pure: what other domains and the plists on disk add to the verdict (issue 11).

    Where nothing else is wrong, the label loaded in another domain, idle or not, is a
    duplicate waiting to happen (FACTS 1.4). A plist launchd would load by itself where the
    service must not run (any plist, on a host it is not assigned to) makes the host
    `unfenced`: a reboot or a console login starts a copy there. A host it is not assigned
    to that has none, and a fence record, is `fenced`.
    """
    assigned = spec.name in svc.hosts
    if (finding.verdict is Verdict.UNEXPECTED and not finding.hidden
            and all(i.owner is not None for i in finding.instances)):
        # only launchd's jobs: no stray to kill, a fence takes it out for good
        return replace(finding, hint=f"svcctl fence {svc.name} --host {spec.name}")
    if finding.verdict not in QUIET:
        return finding
    if finding.elsewhere and assigned:
        return replace(finding, verdict=Verdict.DUPLICATE,
                       detail=f"also loaded in {', '.join(finding.elsewhere)}, idle or not; "
                       + finding.detail)
    by_path = {p.path: p for p in places.places(svc.label, spec.home)}
    found = [by_path[p] for p in finding.plists if p in by_path]
    if not assigned:
        if found:
            where = "; ".join(p.describe(spec.domain.uid) for p in found)
            return replace(finding, verdict=Verdict.UNFENCED,
                           detail=f"not assigned to {spec.name}, but installed: {where}",
                           hint=f"svcctl fence {svc.name} --host {spec.name}")
        if finding.fence is not None:
            return replace(finding, verdict=Verdict.FENCED, detail=finding.fence.describe())
        return finding
    own = spec.domain.kind
    risky = [p for p in found if p.autoload and p.into is not own]
    if not risky:
        return finding
    where = "; ".join(p.describe(spec.domain.uid) for p in risky)
    if finding.verdict is not Verdict.OK:  # down or crash-looping says more, first
        return replace(finding, detail=f"{finding.detail}; also, a second copy would start "
                       f"beside {spec.domain.target}: {where}")
    return replace(finding, verdict=Verdict.UNFENCED,
                   detail=f"a second copy would start beside {spec.domain.target}: {where}",
                   hint=f"svcctl deploy {svc.name} --host {spec.name} (moves it aside)")


def apply_guard_holder(finding: Finding, lock: bytes, procs: Sequence[ProcInfo]) -> Finding:
    """Name the guard lock's holder in the finding, when the process table already counts it.

    The guard directory is 0666 on purpose (svcctl.guard): any local user can write a
    record naming any pid. So the record is a hint, never evidence: it only adds a note
    to an instance the process table identified (launchd's, or a stray that matched the
    program), and never adds an instance nor changes the verdict (issue 10 §2).
    """
    record = parse_record(lock)
    if record is None:
        return finding  # free, or being written this instant
    known = {i.proc.pid: i for i in finding.instances}
    instance = known.get(int(record["pid"]))
    if instance is None:
        return finding  # not a process the table calls an instance: nothing to say
    proc = instance.proc
    live = None
    if proc.started is not None:
        epoch = proc.started.replace(tzinfo=UTC).timestamp()
        live = StartTime(epoch, f"lstart:{int(epoch)}")
    holder = judge(record, live, True)
    if holder.same_process is False:
        return finding  # the holder is gone and its pid reused: the lock is free
    note = (f"guard lock held by pid {holder.pid} since {holder.since} "
            f"({' '.join(holder.command) or proc.command})")
    if finding.verdict is Verdict.BLOCKED and not instance.managed:
        note = f"blocked by pid {holder.pid}: " + note
    return replace(finding, detail=f"{note}; {finding.detail}")


def run_audit(inv: Inventory, host_names: Sequence[str], services: Sequence[ServiceSpec],
              connect: Callable[[HostSpec], Host], *, concurrency: int = 8,
              timeout: float = 30.0) -> AuditReport:
    specs = [inv.hosts[h] for h in host_names]
    if not specs:
        return AuditReport(())

    def one(spec: HostSpec) -> HostReport:
        try:
            host = connect(spec)
        except HostError as exc:
            return _unreachable(spec.name, services, exc.one_line())
        with host:
            return audit_host(inv, spec, services, host, timeout)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(specs)))) as pool:
        reports = list(pool.map(one, specs))
    return AuditReport(tuple(_visible(r, services) for r in reports))


def _visible(report: HostReport, services: Sequence[ServiceSpec]) -> HostReport:
    """Drop services that are neither assigned to the host nor found on it."""
    assigned = {s.name for s in services if report.host in s.hosts}
    keep = tuple(f for f in report.findings
                 if f.service in assigned or f.verdict is not Verdict.OK)
    return replace(report, findings=keep)
