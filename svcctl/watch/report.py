"""What svcctl.watch reads from an audit, as protocols (pure).

svcctl.ops.audit's `HostReport` and `AuditReport` fit these structurally. The watch's core
names only the fields it reads, so it need not import svcctl.ops (which reaches SSH and
subprocess) and stays in import-linter's pure-core contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from svcctl.model import Finding, Instance
from svcctl.procs.matching import CURRENT


class HostResult(Protocol):
    """One host's audit for one cycle (svcctl.ops.audit.HostReport)."""

    @property
    def host(self) -> str: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def findings(self) -> Sequence[Finding]: ...
    @property
    def error(self) -> str | None: ...


class AuditResult(Protocol):
    """Every audited host (svcctl.ops.audit.AuditReport)."""

    @property
    def hosts(self) -> Sequence[HostResult]: ...


def launchd_instance(finding: Finding) -> Instance | None:
    """launchd's own instance: the one whose pid launchd reports, else the first managed."""
    managed = [i for i in finding.instances if i.managed]
    pid = finding.job.pid if finding.job is not None else None
    for inst in managed:
        if inst.proc.pid == pid:
            return inst
    return managed[0] if managed else None


def running_release(finding: Finding) -> str | None:
    """The release launchd's instance runs; None: no instance, no release, or untold (a
    path through a `current` the probe did not resolve says `current`: not a release)."""
    inst = launchd_instance(finding)
    if inst is None or inst.release in (None, CURRENT):
        return None
    return inst.release


def stray_pids(finding: Finding) -> tuple[int, ...]:
    return tuple(sorted(i.proc.pid for i in finding.strays))
