"""`svcctl stop|start|status|logs SERVICE`: one service, through the same gates as deploy."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from svcctl.cli import common
from svcctl.cli.deploy import EXIT_HELP, printer, service_and_hosts

if TYPE_CHECKING:
    from svcctl.host.base import Host
    from svcctl.ops.steps import Progress


def _control(action: str, service: str, host: list[str] | None, as_json: bool,
             stay_up: float | None, inventory: Path | None, accept_new_host_key: bool,
             fenced: list[str] | None = None, dry_run: bool = False) -> None:
    from svcctl import output
    from svcctl.ops.control import control

    inv = common.load(inventory)
    svc, names = service_and_hosts(inv, service, host)
    ctx = common.run_context(inv, accept_new_host_key, fenced=fenced, stay_up=stay_up)
    ctx.progress = None if as_json or dry_run else cast("Progress", printer(len(names)))
    with ctx.interrupt.installed():  # SIGINT/SIGTERM: finish the step in flight, unlock, 3
        report = control(ctx, svc, names, action, dry_run=dry_run)
    typer.echo(output.deploy_json(report, action) if as_json
               else output.deploy_text(report, action))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    _register_stop_start(app)
    _register_status(app)
    _register_logs(app)


def _register_stop_start(app: typer.Typer) -> None:
    @app.command(help=f"Stop SERVICE: bootout, then wait until the label is gone and no "
                 f"matching process remains.\n\n{EXIT_HELP}\n\n"
                 "Example: svcctl stop shiva --host tesseract")
    def stop(
        service: str = typer.Argument(...),
        host: list[str] = common.HostOption,
        as_json: bool = common.JsonOption,
        dry_run: bool = common.DryRunOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        _control("stop", service, host, as_json, None, inventory, accept_new_host_key,
                 dry_run=dry_run)

    @app.command(help=f"Start SERVICE: enable, bootstrap, kickstart, then verify one stable "
                 f"instance, launchd's own. Refused beside a stray, while the label is loaded "
                 f"in another domain (idle or not), and while a copy may run on another "
                 f"inventory host (one that cannot be reached blocks unless --fenced)."
                 f"\n\n{EXIT_HELP}\n\n"
                 "Example: svcctl start shiva --host tesseract")
    def start(
        service: str = typer.Argument(...),
        host: list[str] = common.HostOption,
        as_json: bool = common.JsonOption,
        stay_up: float | None = common.StayUpOption,
        fenced: list[str] = common.FencedOption,
        dry_run: bool = common.DryRunOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        _control("start", service, host, as_json, stay_up, inventory, accept_new_host_key,
                 fenced, dry_run)


def _register_status(app: typer.Typer) -> None:
    @app.command(help="The audit of one service on every inventory host (exit 0 ok, "
                 "1 findings).\n\nExample: svcctl status shiva --json")
    def status(
        service: str = typer.Argument(...),
        host: list[str] = common.HostOption,
        as_json: bool = common.JsonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        inv = common.load(inventory)
        svc = common.pick_service(inv, service)
        names = common.pick_hosts(inv, host) if host else sorted(inv.hosts)
        ctx = common.run_context(inv, accept_new_host_key)
        with ctx.preconnected([inv.hosts[n] for n in names]):  # overlaps the imports
            from svcctl import output
            from svcctl.ops.audit import run_audit

            report = run_audit(ctx, names, [svc])
        typer.echo(output.audit_json(report, {svc.name: svc.label}) if as_json
                   else output.audit_text(report))
        raise typer.Exit(0 if report.ok else 1)


def _register_logs(app: typer.Typer) -> None:
    @app.command(help="Tail SERVICE's StandardOutPath/StandardErrorPath over SSH "
                 "(-f to follow).\n\nExample: svcctl logs shiva --host tesseract -f")
    def logs(
        service: str = typer.Argument(...),
        host: list[str] = common.HostOption,
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
        lines: int = typer.Option(50, "--lines", "-n", min=0),
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        _logs(service, host, follow, lines, inventory, accept_new_host_key)


def _logs(service: str, host: list[str] | None, follow: bool, lines: int,
          inventory: Path | None, accept_new_host_key: bool) -> None:
    from svcctl.errors import BadInputError
    from svcctl.ops.control import log_paths, size_of, tail_argv

    inv = common.load(inventory)
    svc, names = service_and_hosts(inv, service, host)
    paths = log_paths(svc)
    if not paths:
        raise BadInputError(f"{service} has no stdout_path/stderr_path in the inventory")
    if follow and len(names) != 1:
        raise BadInputError("--follow needs exactly one --host")
    make = common.connector(inv, accept_new_host_key)
    for name in names:
        with make(inv.hosts[name]) as h:
            offsets: dict[str, int] = {}
            for p in paths:
                typer.echo(f"==> {name}:{p} <==")
                typer.echo(h.run(tail_argv(p, lines)).stdout, nl=False)
                offsets[p] = size_of(h, p)
            if follow:
                _follow(h, offsets)


def _follow(h: Host, offsets: dict[str, int]) -> None:
    """Print what each log gains, once a second, until ^C (exit 0)."""
    from svcctl.ops.control import read_from

    try:
        while True:
            time.sleep(1.0)
            for p, offset in offsets.items():
                data = read_from(h, p, offset)
                offsets[p] = offset + len(data)
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
