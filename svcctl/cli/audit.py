"""`svcctl audit`: is exactly one instance of each service running, launchd's own?"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from svcctl.cli import common


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    PROMETHEUS = "prometheus"


AUDIT_HELP = """Show, for every service on every host, launchd's instance and every stray.

Verdicts: ok (exactly one instance, launchd's own); down; stray (running, not by
launchd); duplicate (launchd's instance plus strays, or the label loaded in another
domain, idle or not); crashloop; unexpected (running on a host it is not assigned to);
blocked (launchd's job refused by the guard lock another process holds); unreachable /
uninspectable (svcctl could not see everything: never reported as clean); fenced (not
assigned here and fenced by svcctl: counts as ok); unfenced (a plist that a reboot or a
console login would load where the service must not run).

--format prometheus writes the families of `svcctl watch --metrics` once, for
node_exporter's textfile collector (runbooks/monitoring.md); there the probe duration
counts connecting too.

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
        fmt: Format | None = typer.Option(
            None, "--format", case_sensitive=False,
            help="text (default), json (the same as --json) or prometheus."),
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
        concurrency: int = typer.Option(32, "--concurrency", min=1, max=256,
                                        help="Hosts audited at once."),
    ) -> None:
        inv = common.load(inventory)
        hosts = common.pick_hosts(inv, host)
        picked = common.pick_services(inv, service)
        ctx = common.run_context(inv, accept_new_host_key)
        ctx.concurrency = concurrency
        chosen = pick_format(fmt, as_json)
        if chosen is Format.PROMETHEUS:  # its probe durations count connecting
            import time

            from svcctl.ops.audit import relevant_services, run_audit
            from svcctl.watch.metrics import audit_text

            report = run_audit(ctx, hosts, relevant_services(inv, picked))
            durations = {h.host: h.duration for h in report.hosts if h.duration is not None}
            typer.echo(audit_text(report, durations, time.time()), nl=False)
            raise typer.Exit(0 if report.ok else 1)
        # every input is checked: the handshakes run while the rest is imported
        with ctx.preconnected([inv.hosts[h] for h in hosts]):
            from svcctl import output
            from svcctl.ops.audit import relevant_services, run_audit

            services = relevant_services(inv, picked)
            report = run_audit(ctx, hosts, services)
        labels = {s.name: s.label for s in services}
        typer.echo(output.audit_json(report, labels) if chosen is Format.JSON
                   else output.audit_text(report))
        raise typer.Exit(0 if report.ok else 1)


def pick_format(fmt: Format | None, as_json: bool) -> Format:
    """--json is --format json; with another --format it is a contradiction (exit 2)."""
    if as_json and fmt not in (None, Format.JSON):
        from svcctl.errors import BadInputError

        raise BadInputError(f"--json and --format {fmt} contradict each other; pick one")
    return Format.JSON if as_json else (fmt or Format.TEXT)
