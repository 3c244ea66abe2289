"""`svcctl releases SERVICE`: what each host holds under the service's release root.

Per host: one connection and ONE remote command (svcctl.scripts.release.releases:
release_list.sh reads current, previous, every release and its record, and which pids
run each, from one BSD ps); hosts run in parallel (`ctx.fan_out`). Read-only. A host that
cannot be listed is its own result, never an exception; rendering is the pure
svcctl.release.report.
"""

from __future__ import annotations

from collections.abc import Sequence

from svcctl.errors import BadInputError, HostError
from svcctl.model import ServiceSpec
from svcctl.ops.context import RunContext
from svcctl.release.report import HostReleases, Outcome, ReleasesReport
from svcctl.scripts.release import Listing, ListRun, releases

_OUTCOME = {Listing.LISTED: Outcome.LISTED, Listing.UNTRUSTED: Outcome.UNTRUSTED,
            Listing.PS_FAILED: Outcome.PS_FAILED, Listing.FAILED: Outcome.FAILED}


def release_root(svc: ServiceSpec) -> str:
    if svc.release is None:
        raise BadInputError(f"service {svc.name!r} has no release: in the inventory; "
                            "`svcctl releases` lists a service that has")
    return svc.release.root


def host_releases(host: str, run: ListRun) -> HostReleases:
    outcome = _OUTCOME[run.outcome]
    if outcome is Outcome.LISTED:
        return HostReleases(host, outcome, run.releases)
    why = run.problem or run.result.tail() or f"release_list.sh exited {run.result.rc}"
    said = why if run.outcome.value in why else f"{run.outcome.value}: {why}"  # the script's
    return HostReleases(host, outcome, None, said)  # stderr names it already, for rc 8 and 9


def list_releases(ctx: RunContext, svc: ServiceSpec,
                  host_names: Sequence[str]) -> ReleasesReport:
    """Every host in `host_names` (any inventory host: this only reads)."""
    root = release_root(svc)

    def one(name: str) -> HostReleases:
        try:
            with ctx.connect(ctx.inv.hosts[name]) as host:
                return host_releases(name, releases(host, root))
        except HostError as exc:
            return HostReleases(name, Outcome.UNREACHABLE, None, exc.one_line())

    return ReleasesReport(svc.name, root, tuple(ctx.fan_out(one, list(host_names))))
