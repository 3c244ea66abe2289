"""Audit's judgement: one host's probe outputs -> one finding per service (pure).

`svcctl.ops.audit` runs the probe, one batched remote command per host, and hands its
outputs over as `ProbeOutputs`, already sorted by what each command was asked; every
decision about what they mean is here. A launchctl answer svcctl cannot read makes the
service `uninspectable`, never clean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from svcctl import places
from svcctl.assess.exits import NOT_LOADED, Output, not_a_mac
from svcctl.assess.holder import apply_guard_holder
from svcctl.assess.placement import judge_places, parse_places
from svcctl.assess.release import judge_release
from svcctl.errors import ParseError
from svcctl.launchd import parse_print, parse_print_domain
from svcctl.model import Domain, Finding, HostSpec, JobState, ServiceSpec, Verdict
from svcctl.procs import Probe, classify_service, parse_probe


@dataclass(frozen=True)
class ServiceOutputs:
    """What the probe read about one service."""

    job: Output  # `launchctl print <domain>/<label>` in the host's own domain
    places: str  # the plists present and the fence record (svcctl.scripts.probe)
    guard: str | None = None  # the guard lock's record, when one was there to read


@dataclass(frozen=True)
class ProbeOutputs:
    """One host's probe, by what each command was asked."""

    ps: Output  # ps, with the cwds and real paths of the rows that need them (procs)
    listings: Mapping[str, Output]  # each other domain's target -> `launchctl print <domain>`
    services: Mapping[str, ServiceOutputs]


class _Uninspectable(Exception):
    """A launchctl answer that cannot be read: the service cannot be judged."""

    def __init__(self, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def assess_host(spec: HostSpec, services: Sequence[ServiceSpec],
                outputs: ProbeOutputs) -> tuple[Finding, ...]:
    """The probe's outputs -> one finding per service, in the order of `services`."""
    rc, out, err = outputs.ps
    problem = f"ps failed ({rc}): {err.strip()[:200]}"
    if rc == 0:
        try:
            probe = parse_probe(out)
        except ParseError as exc:
            problem = f"ps output unreadable: {exc}"
        else:
            return tuple(assess_service(spec, svc, outputs, probe) for svc in services)
    return tuple(Finding(svc.name, spec.name, Verdict.UNINSPECTABLE, detail=problem)
                 for svc in services)


def assess_service(spec: HostSpec, svc: ServiceSpec, outputs: ProbeOutputs,
                   probe: Probe) -> Finding:
    """One service: launchd's job in every domain, the process table, its plists, the
    release launchd's instance runs against `current`, its guard."""
    mine = outputs.services[svc.name]
    expected = spec.domain.service_target(svc.label)
    try:
        job = read_job(spec.name, expected, mine.job)
        foreign = read_foreign(spec.name, svc.label, outputs.listings)
    except _Uninspectable as exc:
        return Finding(svc.name, spec.name, Verdict.UNINSPECTABLE, detail=exc.detail,
                       hint=exc.hint)
    finding = classify_service(svc, spec.name, expected, job, probe.procs,
                               assigned=spec.name in svc.hosts, foreign_jobs=foreign,
                               real_paths=probe.real)
    plists, fence = parse_places(mine.places)
    finding = replace(finding, elsewhere=tuple(sorted(foreign)), plists=plists, fence=fence)
    finding = note_reboot(spec, svc, judge_places(spec, svc, finding))
    # after placement: a second copy waiting in another domain says more than `stale`
    finding = judge_release(finding)
    if mine.guard is not None:
        finding = apply_guard_holder(finding, mine.guard.encode(), probe.procs)
    return finding


def read_job(host: str, target: str, output: Output) -> JobState | None:
    """`launchctl print <service-target>`: the job, or None where it is not loaded."""
    rc, out, err = output
    if rc in NOT_LOADED:
        return None
    if rc != 0:
        raise _launchctl_failed(host, target, rc, err)
    try:
        return parse_print(out)
    except ParseError as exc:
        raise _Uninspectable(f"cannot read launchctl print {target}: {exc}") from None


def read_foreign(host: str, label: str, listings: Mapping[str, Output]) -> dict[str, JobState]:
    """The label loaded in the other domains: service-target -> what the listing shows."""
    foreign: dict[str, JobState] = {}
    for target, (rc, out, err) in listings.items():
        if rc in NOT_LOADED:
            continue  # that domain does not exist (no console session, FACTS 1.4)
        if rc != 0:
            raise _launchctl_failed(host, target, rc, err)
        try:
            # an unknown row about another label cannot hide this one (issue 9)
            entries = parse_print_domain(out, label)
        except ParseError as exc:
            raise _Uninspectable(f"cannot read launchctl print {target}: {exc}") from None
        for entry in entries:
            if entry.label == label:
                dom = Domain.parse(target)
                foreign[dom.service_target(label)] = JobState(
                    label=label, source="print", domain=dom, domain_raw=target,
                    pid=entry.pid, last_exit_code=entry.status)
    return foreign


def _launchctl_failed(host: str, target: str, rc: int, err: str) -> _Uninspectable:
    no_mac = not_a_mac(host, rc)
    if no_mac is not None:
        return _Uninspectable(no_mac.detail, hint=no_mac.hint)
    return _Uninspectable(f"launchctl print {target} exited {rc}: {err.strip()}",
                          hint=f"on {host}, `launchctl print {target}` shows the error")


def note_reboot(spec: HostSpec, svc: ServiceSpec, finding: Finding) -> Finding:
    """On an assigned host, why launchd will not bring the service back after a reboot."""
    if spec.name not in svc.hosts:
        return finding
    returns, why = places.reboot_note(spec.domain, places.starts_at_load(svc))
    return finding if returns else replace(finding, reboot=why)
