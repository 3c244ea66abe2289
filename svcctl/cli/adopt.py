"""`svcctl adopt`: kill the strays, keep launchd's instance, verify exactly one runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from svcctl.cli import common

if TYPE_CHECKING:
    from svcctl.ops.adopt import AdoptReport
    from svcctl.ops.steps import Progress

ADOPT_HELP = """Kill SERVICE's strays on a host and keep launchd's instance.

Each stray is re-identified (pid, start time, command line) right before each signal,
so a reused pid is never signalled: SIGTERM, then SIGKILL after --grace seconds. Never
PID 1, never launchd's instance, never a process that does not match. Afterwards the
job is loaded and exactly one instance runs, launchd's, verified (on a host the service
is not assigned to: nothing runs). The label loaded in another domain is booted out,
idle or not. Before launchd's job is started or kickstarted, every other inventory host
is checked: a copy that may run there refuses the start (one that cannot be reached
blocks unless --fenced). Without --yes: asks when interactive, otherwise prints the plan
and exits 1.

Exit codes: 0 done (or nothing to do); 1 plan printed, not confirmed, or start refused
(nothing started); 2 bad input; 3 failed (e.g. permission denied: rerun with --user
root); 4 a deploy holds the lock.

Example: svcctl adopt shiva --host tesseract --dry-run
"""


def register(app: typer.Typer) -> None:
    @app.command(help=ADOPT_HELP)
    def adopt(
        service: str = typer.Argument(...),
        host: list[str] = common.HostOption,
        dry_run: bool = common.DryRunOption,
        yes: bool = common.YesOption,
        grace: float = typer.Option(5.0, "--grace", min=0.0,
                                    help="Seconds between SIGTERM and SIGKILL."),
        user: str | None = typer.Option(None, "--user",
                                        help="SSH user (e.g. root for strays started by "
                                        "another user or with sudo)."),
        stay_up: float | None = common.StayUpOption,
        fenced: list[str] = common.FencedOption,
        as_json: bool = common.JsonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl import output
        from svcctl.ops.adopt import adopt_host

        inv = common.load(inventory)
        svc = common.pick_service(inv, service)
        names = common.pick_hosts(inv, host) if host else list(svc.hosts)
        # hosts it is not assigned to first: adopt only removes there, and a copy left
        # there would refuse the start on an assigned host (the cross-host gate)
        names.sort(key=lambda n: n in svc.hosts)
        ctx = common.run_context(inv, accept_new_host_key, user=user, fenced=fenced,
                                 stay_up=stay_up)

        def each(dry: bool) -> list[AdoptReport]:
            out = []
            with ctx.interrupt.installed():
                for n in names:
                    with ctx.connect(inv.hosts[n]) as h:
                        out.append(adopt_host(ctx, svc, inv.hosts[n], h, dry_run=dry,
                                              grace=grace))
            return out

        if dry_run or not yes:
            plans = each(True)
            typer.echo(output.adopt_json(svc.name, svc.label, plans) if as_json
                       else output.adopt_text(svc.name, plans))
            if dry_run:
                raise typer.Exit(0)
            if not sys.stdin.isatty() or as_json:
                typer.echo("not confirmed: rerun with --yes to apply", err=True)
                raise typer.Exit(1)
            if not typer.confirm("Proceed?", default=False):
                raise typer.Exit(1)
        ctx.progress = None if as_json else cast("Progress", _printer())
        reports = each(False)
        typer.echo(output.adopt_json(svc.name, svc.label, reports) if as_json
                   else output.adopt_text(svc.name, reports))
        raise typer.Exit(max((r.exit_code for r in reports), default=0))


def _printer() -> object:
    from svcctl.cli.deploy import printer

    return printer(1)
