"""`svcctl releases SERVICE`: per host, which releases are there and which pids run each."""

from __future__ import annotations

from pathlib import Path

import typer

from svcctl.cli import common
from svcctl.errors import BadInputError

RELEASES_HELP = """List SERVICE's releases on each host: id, when and by whom it was made
(and from which CI run), which is current and previous, and which pids run each.

Read-only, one SSH call per host (default: the service's hosts; --host may name any
inventory host). Newest release first, by its record's time. Warnings: `current` that is
not a symlink or points outside releases/, uploads left incoming, records that do not
parse. A pid is any process whose command names the release's directory, launchd's and
strays' alike.

Exit codes: 0 every host listed; 1 a host could not be listed (unreachable, ps failed,
releases/ not a plain directory: as status and diff, what could not be seen is never
reported as clean); 2 bad input (unknown service or host, a service without release:).

Example: svcctl releases shiva --host tesseract --json
"""


def register(app: typer.Typer) -> None:
    @app.command(help=RELEASES_HELP)
    def releases(
        service: str = typer.Argument(..., help="Service name from the inventory."),
        host: list[str] = common.HostOption,
        as_json: bool = common.JsonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.ops.releases import list_releases, release_root
        from svcctl.release.report import releases_json, releases_text

        inv = common.load(inventory)
        svc = common.pick_service(inv, service)
        release_root(svc)  # no release: is bad input before any host is picked
        names = common.pick_hosts(inv, host or list(svc.hosts))
        if not names:
            raise BadInputError(f"service {service!r} has no hosts; pass --host")
        report = list_releases(common.run_context(inv, accept_new_host_key), svc, names)
        typer.echo(releases_json(report) if as_json else releases_text(report))
        raise typer.Exit(int(report.exit_code))
