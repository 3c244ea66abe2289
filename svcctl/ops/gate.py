"""The cross-host gate: nothing starts while a copy may run on another inventory host.

Every command that starts something (deploy, restart, start, adopt's kickstart) looks at
every inventory host the service is not assigned to, over its own connection, before it
starts anything (issue 11: failover without fencing). A host that cannot be reached
blocks, unless the operator stated that it is powered off or cut off (`--fenced HOST`,
as with Pacemaker's manual fencing acknowledgement).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from svcctl.errors import HostError
from svcctl.host.base import Host
from svcctl.model import HARMLESS, Finding, HostSpec, Inventory, ServiceSpec, Verdict
from svcctl.ops.audit import audit_host

Connect = Callable[[HostSpec], Host]

# nothing runs there now: a stale plist is the next deploy's to fence, not a reason to refuse.
# Verdict.STALE (issue 13) is a running copy, launchd's, and blocks; the hosts surveyed are
# those the service is not assigned to, where launchd's job there is `unexpected` anyway
PASSES = HARMLESS | {Verdict.UNFENCED}


def others(inv: Inventory, svc: ServiceSpec, here: Collection[str] = ()) -> list[str]:
    """The inventory hosts `svc` is not assigned to (and not `here`), sorted."""
    return [n for n in sorted(inv.hosts) if n not in svc.hosts and n not in here]


def survey(inv: Inventory, svc: ServiceSpec, names: Sequence[str],
           connect: Connect) -> list[Finding]:
    """One audit finding for `svc` on each named host; unreachable ones say so."""
    out = []
    for name in names:
        spec = inv.hosts[name]
        try:
            with connect(spec) as host:
                f = audit_host(inv, spec, [svc], host).findings[0]
        except HostError as exc:
            f = Finding(svc.name, name, Verdict.UNREACHABLE, detail=exc.one_line())
        out.append(f)
    return out


@dataclass(frozen=True)
class GateResult:
    checked: tuple[str, ...]
    blocking: tuple[Finding, ...]  # what refuses the start
    acknowledged: tuple[str, ...] = ()  # unreachable, stated fenced by the operator


def judge(findings: Sequence[Finding], acknowledged: Collection[str] = (),
          fencing: Collection[str] = ()) -> GateResult:
    """Pure: which findings block a start. `fencing`: hosts a fence will handle first."""
    blocking, acked = [], []
    for f in findings:
        if f.host in fencing or f.verdict in PASSES:
            continue
        if f.verdict is Verdict.UNREACHABLE and f.host in acknowledged:
            acked.append(f.host)
            continue
        blocking.append(f)
    return GateResult(tuple(f.host for f in findings), tuple(blocking), tuple(acked))


def check(inv: Inventory, svc: ServiceSpec, here: Collection[str], connect: Connect,
          acknowledged: Collection[str] = ()) -> GateResult:
    """Survey every other host and judge it (the caller refuses on `blocking`)."""
    return judge(survey(inv, svc, others(inv, svc, here), connect), acknowledged)


def unreachable_refusal(svc: ServiceSpec, f: Finding) -> str:
    return (f"unreachable {f.host}: svcctl cannot prove that {svc.name} does not run there "
            f"({f.detail}); if {f.host} is powered off or cut off, say so with "
            f"`--fenced {f.host}`")
