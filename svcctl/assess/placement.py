"""Where the label's plists are, and what that adds to a service's verdict (pure, issue 11).

The probe lists every place a plist for the label may be (FACTS 1.2) and reads the fence
record (`svcctl.scripts.probe`'s `plist_places.sh`); `parse_places` reads that output and
`judge_places` weighs it, with the label loaded in other domains, into the finding.
"""

from __future__ import annotations

from dataclasses import replace

from svcctl import places
from svcctl.model import FenceRecord, Finding, HostSpec, ServiceSpec, Verdict

QUIET = {Verdict.OK, Verdict.DOWN, Verdict.CRASHLOOP}  # nothing else runs: places decide


def parse_places(text: str) -> tuple[tuple[str, ...], FenceRecord | None]:
    """(plists present, fence record) from the places probe's output."""
    head, sep, record = text.partition("fence\n")
    plists = tuple(line[6:] for line in head.splitlines() if line.startswith("plist "))
    return plists, (FenceRecord.parse(record) if sep else None)


def judge_places(spec: HostSpec, svc: ServiceSpec, finding: Finding) -> Finding:
    """What other domains and the plists on disk add to the verdict (issue 11).

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
        return _judge_unassigned(spec, svc, finding, found)
    return _judge_assigned(spec, svc, finding, found)


def _judge_unassigned(spec: HostSpec, svc: ServiceSpec, finding: Finding,
                      found: list[places.Place]) -> Finding:
    if found:
        where = "; ".join(p.describe(spec.domain.uid) for p in found)
        return replace(finding, verdict=Verdict.UNFENCED,
                       detail=f"not assigned to {spec.name}, but installed: {where}",
                       hint=f"svcctl fence {svc.name} --host {spec.name}")
    if finding.fence is not None:
        return replace(finding, verdict=Verdict.FENCED, detail=finding.fence.describe())
    return finding


def _judge_assigned(spec: HostSpec, svc: ServiceSpec, finding: Finding,
                    found: list[places.Place]) -> Finding:
    """Plists that would load into another domain than the host's own: a second copy."""
    risky = [p for p in found if p.autoload and p.into is not spec.domain.kind]
    if not risky:
        return finding
    where = "; ".join(p.describe(spec.domain.uid) for p in risky)
    if finding.verdict is not Verdict.OK:  # down or crash-looping says more, first
        return replace(finding, detail=f"{finding.detail}; also, a second copy would start "
                       f"beside {spec.domain.target}: {where}")
    return replace(finding, verdict=Verdict.UNFENCED,
                   detail=f"a second copy would start beside {spec.domain.target}: {where}",
                   hint=f"svcctl deploy {svc.name} --host {spec.name} (moves it aside)")
