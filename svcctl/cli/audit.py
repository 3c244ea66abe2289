"""`svcctl audit`: is exactly one instance of each service running, launchd's own?"""

from __future__ import annotations

from pathlib import Path

import typer

from svcctl.cli import common

AUDIT_HELP = """Show, for every service on every host, launchd's instance and every stray.

Verdicts: ok (exactly one instance, launchd's own); down; stray (running, not by
launchd); duplicate (launchd's instance plus strays, or the label loaded in another
domain, idle or not); crashloop; unexpected (running on a host it is not assigned to);
blocked (launchd's job refused by the guard lock another process holds); unreachable /
uninspectable (svcctl could not see everything: never reported as clean); fenced (not
assigned here and fenced by svcctl: counts as ok); unfenced (a plist that a reboot or a
console login would load where the service must not run).

Exit codes: 0 all ok (ok or fenced); 1 any finding; 2 bad input.

Example: svcctl audit --host tesseract --service shiva --json
"""


def register(app: typer.Typer) -> None:
    @app.command(help=AUDIT_HELP)
    def audit(
        host: list[str] = common.HostOption,
        service: list[str] = typer.Option(None, "--service", "-s",
                                          help="Only these services (repeatable)."),
        as_json: bool = common.JsonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
        concurrency: int = typer.Option(32, "--concurrency", min=1, max=256,
                                        help="Hosts audited at once."),
    ) -> None:
        from svcctl import output
        from svcctl.ops.audit import relevant_services, run_audit

        inv = common.load(inventory)
        hosts = common.pick_hosts(inv, host)
        services = relevant_services(inv, common.pick_services(inv, service))
        ctx = common.run_context(inv, accept_new_host_key)
        ctx.concurrency = concurrency
        report = run_audit(ctx, hosts, services)
        labels = {s.name: s.label for s in services}
        typer.echo(output.audit_json(report, labels) if as_json else output.audit_text(report))
        raise typer.Exit(0 if report.ok else 1)
