"""`svcctl audit`: for every service, exactly one instance, launchd's own, where it belongs?

Per host: one connection and ONE remote command (launchctl print for each label in
each domain that matters, `ps`, and the guard lock files, batched by
`launchd.build_batch`); hosts run in parallel under a bounded pool. This module plans the
probe's commands, runs them and sorts their outputs by what each was asked; what the
outputs mean is the pure `svcctl.assess.service`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from svcctl import places
from svcctl.assess.exits import Output
from svcctl.assess.placement import judge_places as judge_places  # noqa: PLC0414  (re-exported)
from svcctl.assess.placement import parse_places as parse_places  # noqa: PLC0414  (re-exported)
from svcctl.assess.service import ProbeOutputs, ServiceOutputs, assess_host
from svcctl.errors import HostError, ParseError
from svcctl.host.base import Host
from svcctl.launchd import build_batch, print_argv, split_batch
from svcctl.model import (
    HARMLESS,
    Domain,
    DomainKind,
    Finding,
    HostSpec,
    Inventory,
    ServiceSpec,
    Verdict,
)
from svcctl.ops.context import RunContext
from svcctl.ops.lock import LockRecord, lock_path, parse_lock
from svcctl.procs import cwd_names, identity_paths
from svcctl.scripts import probe as probe_scripts
from svcctl.scripts.probe import RecordRead, probe_argv, read_record_argv, record_read

GUARD_DIR = "/tmp/svcctl-guard"  # svcctl.guard's default lock directory
# judge_places and parse_places moved to svcctl.assess.placement; re-exported for
# tests/unit/test_fencing_pure.py, which still imports them from here


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
    # seconds from asking for the connection to this report (run_audit); None: not timed.
    # A preconnected host (RunContext.preconnect) was already connecting before that.
    duration: float | None = None


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
    locks: dict[str, int]  # service -> command index of its deploy lock
    places: dict[str, int]  # service -> its plists and fence record (issue 11)

    def outputs(self, results: Sequence[Output]) -> ProbeOutputs:
        """The batch's results, by what each command was asked, for the pure assessment."""
        return ProbeOutputs(
            ps=results[self.ps],
            listings={target: results[i] for target, i in self.listings.items()},
            services={svc: ServiceOutputs(results[i], results[self.places[svc]][1],
                                          _record(results, self.guards.get(svc)))
                      for svc, i in self.prints.items()},
        )


def _record(results: Sequence[Output], index: int | None) -> str | None:
    """A record file's text, when the probe read one (svcctl.scripts.probe)."""
    if index is None:
        return None
    rc, text, _ = results[index]
    return text if record_read(rc) is RecordRead.READ else None


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


def probe_host(spec: HostSpec, services: Sequence[ServiceSpec], host: Host,
               timeout: float = 30.0) -> HostReport:
    """One batched probe; raises HostError / ParseError. The caller owns the connection."""
    plan = plan_probe(spec, services)
    batch = build_batch(plan.commands)
    result = host.run(batch.argv, timeout=timeout)
    results = split_batch(batch, result.stdout)
    findings = assess_host(spec, services, plan.outputs(results))
    return HostReport(spec.name, True, findings, locks=held_locks(plan, results))


def audit_host(inv: Inventory, spec: HostSpec, services: Sequence[ServiceSpec],
               host: Host, timeout: float = 30.0) -> HostReport:
    """`probe_host`, with failures reported as unreachable findings. Does not close `host`."""
    try:
        return probe_host(spec, services, host, timeout)
    except HostError as exc:
        return unreachable_report(spec.name, services, exc.one_line())
    except ParseError as exc:
        return unreachable_report(spec.name, services, f"the probe's output was cut short: {exc}")


def unreachable_report(host: str, services: Sequence[ServiceSpec], why: str) -> HostReport:
    findings = tuple(Finding(s.name, host, Verdict.UNREACHABLE, detail=why) for s in services)
    return HostReport(host, False, findings, why)


def held_locks(plan: _Plan, results: Sequence[Output],
               now: float | None = None) -> tuple[HeldLock, ...]:
    """The deploy locks the probe's reads found (FIELD J: audit shows a held lock); pure,
    here beside the lock's own record format (svcctl.ops.lock)."""
    now = time.time() if now is None else now
    out = []
    for service, index in plan.locks.items():
        text = _record(results, index)
        if text is None:
            continue
        record = parse_lock(text)
        out.append(HeldLock(service, record, record is None or record.expired(now)))
    return tuple(out)


def run_audit(ctx: RunContext, host_names: Sequence[str], services: Sequence[ServiceSpec], *,
              timeout: float = 30.0) -> AuditReport:
    """Every named host at once (`ctx.concurrency` at a time), one connection each."""
    specs = [ctx.inv.hosts[h] for h in host_names]

    def one(spec: HostSpec) -> HostReport:
        start = time.monotonic()
        try:
            host = ctx.connect(spec)
        except HostError as exc:
            report = unreachable_report(spec.name, services, exc.one_line())
        else:
            with host:
                report = audit_host(ctx.inv, spec, services, host, timeout)
        return replace(report, duration=time.monotonic() - start)

    return AuditReport(tuple(visible(r, services) for r in ctx.fan_out(one, specs)))


def visible(report: HostReport, services: Sequence[ServiceSpec]) -> HostReport:
    """Drop services that are neither assigned to the host nor found on it."""
    assigned = {s.name for s in services if report.host in s.hosts}
    keep = tuple(f for f in report.findings
                 if f.service in assigned or f.verdict is not Verdict.OK)
    return replace(report, findings=keep)
