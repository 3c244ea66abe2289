"""`svcctl deploy` and `svcctl restart`: the write side, one host at a time."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from svcctl.cli import common

if TYPE_CHECKING:
    from svcctl.model import Inventory, ServiceSpec
    from svcctl.ops.plan import DeployOptions, DeployReport
    from svcctl.ops.steps import StepRecord

EXIT_HELP = ("Exit codes: 0 success; 1 refused (strays, unreachable domain: nothing "
             "changed); 2 bad input; 3 failed (did not converge, rolled back, or interrupted "
             "by SIGINT/SIGTERM: both outcomes printed); 4 another deploy holds the lock.")

DEPLOY_HELP = f"""Deploy SERVICE's plist and restart it so that exactly one instance runs.

First, on every inventory host SERVICE is not assigned to but is installed, loaded or
running on: fence it (as `svcctl fence`: bootout everywhere, disable, move its plists out
of launchd's auto-load directories, prove nothing runs). A host that cannot be reached
blocks the deploy, unless you state it is powered off or cut off with --fenced HOST.

Then on each host: lock; pre-flight (domain reachable, plist valid, no stray anywhere in the
inventory); upload (temp + rename, previous kept); stop (bootout, wait until gone);
start (enable, bootstrap, kickstart); verify (one stable launchd pid for the stay-up
window, no crash loop, health check); unlock. Any failure after the upload rolls back
to the previous plist through the same gates. --dry-run prints the exact steps.

A service with `release:` ships its code too: its source is read once, before any host
(--release ID, by default the artifact's sha256 or the source's git commit); pre-flight
checks whether the host has that release already; upload sends it (unless the same id and
checksum are there; other content under the id is refused, exit 2), then the plist naming
<root>/releases/<id>; between stop and start, `current` is switched to it; after verify,
old releases are pruned (keep, current, previous and running ones stay). A rollback
switches `current` back before restoring the previous plist.

{EXIT_HELP}

Example: svcctl deploy shiva --host tesseract --dry-run
"""

ROLLBACK_HELP = f"""Deploy a release of SERVICE that is still on its hosts, through deploy's gates.

For a service with `release:`. On each host it goes back to `previous` (the release
`current` pointed to before the last switch: `svcctl releases SERVICE` shows it), or to
--to ID. Nothing is sent: the release must be one svcctl published there, whose manifest
is still the one its record names. Then as a deploy: lock; pre-flight (no stray anywhere,
hosts SERVICE is not assigned to fenced); upload the plist naming that release (the
installed one kept); stop; switch `current`; start; verify; unlock. A failure rolls back
to what ran before. Nothing is pruned. A failed deploy puts `previous` back as it was, so
a rollback never goes back to the release whose deploy failed.

{EXIT_HELP} A host without the release (or with no previous one) is bad input: exit 2.

Example: svcctl rollback shiva --to 3f2a9c1 --dry-run
"""

RESTART_HELP = f"""Restart SERVICE through deploy's gates, without uploading anything.

{EXIT_HELP}

Example: svcctl restart shiva --host tesseract
"""


def service_and_hosts(inv: Inventory, service: str,
                      hosts: list[str] | None) -> tuple[ServiceSpec, list[str]]:
    from svcctl.errors import BadInputError

    svc = common.pick_service(inv, service)
    names = common.pick_hosts(inv, hosts) if hosts else list(svc.hosts)
    unassigned = [h for h in names if h not in svc.hosts]
    if unassigned:
        raise BadInputError(f"{service} is not assigned to {unassigned[0]} (its hosts: "
                            f"{', '.join(svc.hosts)})",
                            hint=f"to remove it there: svcctl adopt {service} "
                            f"--host {unassigned[0]}")
    return svc, names


def printer(total: int, targets: Collection[str] = ()) -> object:
    """Step lines as they happen, under `[n/total] host`; `[fence] host` for a host that
    is not one of the `targets` (deploy fences those first)."""
    seen: list[str] = []

    def show(host: str, record: StepRecord) -> None:
        from svcctl import output

        if host not in seen:
            seen.append(host)
            if targets and host not in targets:
                typer.echo(f"[fence] {host}")
            else:
                n = sum(1 for h in seen if not targets or h in targets)
                typer.echo(f"[{n}/{total}] {host}")
        typer.echo(output.step_line(host, record))
        sys.stdout.flush()

    return show


def run(service: str, host: list[str] | None, opts: DeployOptions, as_json: bool, yes: bool,
        inventory: Path | None, accept_new_host_key: bool, command: str,
        fenced: list[str] | None, stay_up: float | None) -> None:
    from dataclasses import replace
    from typing import cast

    from svcctl import output
    from svcctl.ops.deploy import run_deploy, shipping
    from svcctl.ops.steps import Progress

    inv = common.load(inventory)
    svc, names = service_and_hosts(inv, service, host)
    if (opts.release_id is not None or opts.rollback) and svc.release is None:
        from svcctl.errors import BadInputError

        what = "svcctl rollback" if opts.rollback else "--release"
        raise BadInputError(f"service {svc.name!r} has no release: in the inventory; "
                            f"{what} is for one that has")
    ctx = common.run_context(inv, accept_new_host_key, fenced=fenced, stay_up=stay_up)
    # a service with `release:`: its source is read once, before any host (bad: exit 2)
    with shipping(svc, opts) as ship, ctx.interrupt.installed():
        if not opts.dry_run and not yes and sys.stdin.isatty() and not as_json:
            plan = run_deploy(ctx, svc, names, replace(opts, dry_run=True), ship)
            typer.echo(output.deploy_text(plan, command))
            if plan.exit_code != 0 or not typer.confirm("Proceed?", default=False):
                raise typer.Exit(plan.exit_code or 1)
        ctx.progress = None if as_json else cast("Progress", printer(len(names), names))
        report: DeployReport = run_deploy(ctx, svc, names, opts, ship)
    typer.echo(output.deploy_json(report, command) if as_json
               else output.deploy_text(report, command))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    @app.command(help=DEPLOY_HELP)
    def deploy(
        service: str = typer.Argument(..., help="The service to deploy (inventory name)."),
        host: list[str] = common.HostOption,
        dry_run: bool = common.DryRunOption,
        as_json: bool = common.JsonOption,
        yes: bool = common.YesOption,
        parallel: int = typer.Option(1, "--parallel", min=1, max=64,
                                     help="Hosts deployed at once (default: one at a time, "
                                     "stopping at the first failure)."),
        break_lock: bool = typer.Option(False, "--break-lock",
                                        help="Take over a live deploy lock (the holder must "
                                        "be dead)."),
        lock_ttl: float = typer.Option(900.0, "--lock-ttl", min=1.0,
                                       help="Seconds after which our lock counts as expired."),
        lock_wait: float = common.LockWaitOption,
        stay_up: float | None = common.StayUpOption,
        fenced: list[str] = common.FencedOption,
        reason: str = common.FenceReasonOption,
        release: str | None = typer.Option(None, "--release", metavar="ID",
                                           help="The release id, for a service with "
                                           "`release:` [default: the artifact's sha256, or "
                                           "the source's git commit]."),
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.ops.plan import DeployOptions

        opts = DeployOptions(dry_run=dry_run, break_lock=break_lock, lock_ttl=lock_ttl,
                             lock_wait=lock_wait, parallel=parallel, reason=reason,
                             release_id=release)
        run(service, host, opts, as_json, yes, inventory, accept_new_host_key, "deploy",
            fenced, stay_up)

    @app.command(help=ROLLBACK_HELP)
    def rollback(
        service: str = typer.Argument(..., help="The service to roll back."),
        host: list[str] = common.HostOption,
        to: str | None = typer.Option(None, "--to", metavar="ID",
                                      help="The release to go back to [default: each host's "
                                      "previous one]."),
        dry_run: bool = common.DryRunOption,
        as_json: bool = common.JsonOption,
        yes: bool = common.YesOption,
        lock_wait: float = common.LockWaitOption,
        stay_up: float | None = common.StayUpOption,
        fenced: list[str] = common.FencedOption,
        reason: str = common.FenceReasonOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.ops.plan import DeployOptions
        from svcctl.release.manifest import check_id

        opts = DeployOptions(dry_run=dry_run, lock_wait=lock_wait, reason=reason,
                             release_id=None if to is None else check_id(to), rollback=True)
        run(service, host, opts, as_json, yes, inventory, accept_new_host_key, "rollback",
            fenced, stay_up)

    @app.command(help=RESTART_HELP)
    def restart(
        service: str = typer.Argument(..., help="The service to restart."),
        host: list[str] = common.HostOption,
        dry_run: bool = common.DryRunOption,
        as_json: bool = common.JsonOption,
        yes: bool = common.YesOption,
        stay_up: float | None = common.StayUpOption,
        fenced: list[str] = common.FencedOption,
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.ops.plan import DeployOptions

        opts = DeployOptions(dry_run=dry_run, upload=False)
        run(service, host, opts, as_json, yes, inventory, accept_new_host_key, "restart",
            fenced, stay_up)
