"""`svcctl fence SERVICE --host HOST`: make sure SERVICE cannot run on HOST (issue 11)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from svcctl.cli import common
from svcctl.cli.deploy import printer

if TYPE_CHECKING:
    from svcctl.ops.plan import HostDeploy
    from svcctl.ops.steps import Progress

FENCE_HELP = """Fence SERVICE on hosts it is not assigned to: it cannot run there again.

On each host, under its deploy lock: survey (refused while a copy runs outside launchd,
or a process hides its arguments: nothing changed); launchctl bootout in every domain;
launchctl disable in the user's domains (persists across reboots); move every plist of
the label out of the directories launchd loads at boot and at login into
~/Library/Application Support/svcctl/fenced, with a record of who, when and why; then
prove that launchd has the label nowhere and nothing matching runs. Audit then reports
the host as `fenced`. `svcctl deploy` fences every such host itself before it starts the
service anywhere, and unfences a host that is assigned again.

Exit codes: 0 fenced (or nothing to fence); 1 refused, nothing changed; 2 bad input
(e.g. the service is assigned to the host); 3 failed (what is left is printed);
4 another deploy holds the lock.

Example: svcctl fence shiva --host tesseract --reason "moved to backup"
"""


def register(app: typer.Typer) -> None:
    @app.command(help=FENCE_HELP)
    def fence(
        service: str = typer.Argument(..., help="The service to fence (inventory name)."),
        host: list[str] = typer.Option(..., "--host", "-H",
                                       help="The host to fence it on (repeatable)."),
        reason: str = typer.Option("", "--reason", help="Why, for the record on the host."),
        dry_run: bool = common.DryRunOption,
        user: str | None = typer.Option(None, "--user",
                                        help="SSH user (root for a LaunchDaemon's plist)."),
        lock_wait: float = common.LockWaitOption,
        as_json: bool = common.JsonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl import output
        from svcctl.errors import ExitCode, HostError
        from svcctl.ops.fence import check_unassigned, fence_host
        from svcctl.ops.plan import DeployReport, HostDeploy

        inv = common.load(inventory)
        svc = common.pick_service(inv, service)
        names = common.pick_hosts(inv, host)
        for n in names:
            check_unassigned(svc, inv.hosts[n])
        why = reason or f"svcctl fence {svc.name} --host {' --host '.join(names)}"
        ctx = common.run_context(inv, accept_new_host_key, user=user)
        ctx.progress = None if as_json or dry_run else cast("Progress", printer(len(names)))
        results: list[HostDeploy] = []
        with ctx.interrupt.installed():
            for n in names:
                try:
                    with ctx.connect(inv.hosts[n]) as h:
                        results.append(fence_host(ctx, svc, inv.hosts[n], h, reason=why,
                                                  dry_run=dry_run, lock_wait=lock_wait))
                except HostError as exc:
                    results.append(HostDeploy(n, "failed", int(ExitCode.FAILED), [],
                                              error=exc.one_line()))
        report = DeployReport(svc.name, svc.label, dry_run, results)
        typer.echo(output.deploy_json(report, "fence") if as_json
                   else output.deploy_text(report, "fence"))
        sys.stdout.flush()
        raise typer.Exit(report.exit_code)
