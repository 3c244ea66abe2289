"""`svcctl diff`: the rendered plist vs the installed file vs the job launchd has loaded.

Per host: one connection and ONE remote command (`cat <plist>` and `launchctl print
<domain>/<label>`, batched by `launchd.build_batch`); hosts run in parallel. This module
renders for every host, then runs the probe; lining the three sides up, key by key, is the
pure `svcctl.assess.drift`.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from svcctl.assess.drift import DiffReport, HostDiff, assess_drift
from svcctl.errors import HostError, ParseError
from svcctl.host.base import Host
from svcctl.launchd import build_batch, print_argv, split_batch
from svcctl.model import HostSpec, Inventory, ServiceSpec
from svcctl.ops.context import RunContext
from svcctl.render import plist_path_for, render_plist


@dataclass(frozen=True)
class _Target:
    spec: HostSpec
    rendered: dict[str, Any]
    data: bytes
    path: str

    def unreachable(self, exc: HostError | ParseError) -> HostDiff:
        return HostDiff(self.spec.name, self.spec.domain.target, self.path,
                        reachable=False, error=exc.one_line())


def plan_targets(inv: Inventory, service: ServiceSpec,
                 host_names: Sequence[str]) -> list[_Target]:
    """Render for every host first: a bad template or inventory fails before any SSH."""
    out = []
    for name in host_names:
        spec = inv.hosts[name]
        r = render_plist(service, spec.domain, inv.templates_dir, home=spec.home)
        path = str(plist_path_for(service, spec.domain, spec.home))
        # the rendered bytes as data (render_plist checked them), so keys a custom
        # template adds are compared too
        out.append(_Target(spec, plistlib.loads(r.data), r.data, path))
    return out


def diff_host(target: _Target, host: Host, timeout: float = 30.0) -> HostDiff:
    batch = build_batch([["cat", target.path],
                         print_argv(target.spec.domain, str(target.rendered["Label"]))])
    try:
        result = host.run(batch.argv, timeout=timeout)
        cat, printed = split_batch(batch, result.stdout)
    except (HostError, ParseError) as exc:
        return target.unreachable(exc)
    finally:
        host.close()
    return assess_drift(target.spec, target.rendered, target.path, cat, printed)


def run_diff(ctx: RunContext, service: ServiceSpec, host_names: Sequence[str], *,
             timeout: float = 30.0) -> DiffReport:
    targets = plan_targets(ctx.inv, service, host_names)

    def one(target: _Target) -> HostDiff:
        try:
            host = ctx.connect(target.spec)
        except HostError as exc:
            return target.unreachable(exc)
        return diff_host(target, host, timeout)

    diffs = tuple(ctx.fan_out(one, targets))
    first = targets[0].data if targets else b""
    return DiffReport(service.name, service.label, first, diffs)
