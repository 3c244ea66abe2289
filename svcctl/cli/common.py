"""Options and plumbing shared by the commands that read the inventory."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from svcctl.errors import BadInputError

if TYPE_CHECKING:
    from svcctl.host.base import Host
    from svcctl.model import HostSpec, Inventory, ServiceSpec
    from svcctl.ops.context import RunContext

InventoryOption = typer.Option(
    None, "--inventory", "-i", envvar="SVCCTL_INVENTORY",
    help="inventory.yaml to use [default: $SVCCTL_INVENTORY, else ./inventory.yaml].",
)
HostOption = typer.Option(None, "--host", "-H", help="Only these hosts (repeatable).")
AcceptNewOption = typer.Option(
    False, "--accept-new-host-key",
    help="Trust a host key seen for the first time and remember it (a changed key is "
    "still refused).",
)
DryRunOption = typer.Option(
    False, "--dry-run", help="Print the steps; change nothing.")
JsonOption = typer.Option(False, "--json", help="Machine-readable output (stable schema).")
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
LockWaitOption = typer.Option(5.0, "--lock-wait", min=0.0,
                              help="Seconds to wait for another deploy's lock.")
StayUpOption = typer.Option(None, "--stay-up", min=0.0,
                            help="Stay-up window [default: the service's].")
FenceReasonOption = typer.Option("", "--reason",
                                 help="Why, for the records of fences and of --fenced.")
FencedOption = typer.Option(
    None, "--fenced", metavar="HOST",
    help="HOST is powered off or cut off (checked by you): its being unreachable does not "
    "block; recorded (repeatable).",
)


def load(inventory: Path | None) -> Inventory:
    from svcctl.inventory import load_inventory, resolve_inventory_path

    path = resolve_inventory_path(str(inventory) if inventory else None, dict(os.environ))
    return load_inventory(path)


def _pick(kind: str, known: Collection[str], wanted: Sequence[str] | None) -> list[str]:
    """All known names (sorted) when none are asked for; else the asked ones, each once."""
    if not wanted:
        return sorted(known)
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise BadInputError(f"unknown {kind} {unknown[0]!r} (inventory has: "
                            f"{', '.join(sorted(known))})")
    return list(dict.fromkeys(wanted))


def pick_hosts(inv: Inventory, hosts: Sequence[str] | None) -> list[str]:
    return _pick("host", inv.hosts, hosts)


def pick_services(inv: Inventory, services: Sequence[str] | None) -> list[str]:
    return _pick("service", inv.services, services)


def pick_fenced(inv: Inventory, fenced: Sequence[str] | None) -> list[str]:
    """`--fenced` hosts: inventory hosts, each once; none when the option is not given."""
    return _pick("host", inv.hosts, fenced) if fenced else []


def pick_service(inv: Inventory, name: str) -> ServiceSpec:
    return inv.services[pick_services(inv, [name])[0]]


def connector(inv: Inventory, accept_new_host_key: bool,
              user: str | None = None) -> Callable[[HostSpec], Host]:
    """HostSpec -> Host for this run's options (nothing connects until first use)."""
    from svcctl.ops.connect import ConnectOptions, connect

    opts = ConnectOptions(accept_new_host_key=accept_new_host_key, user=user)

    def make(spec: HostSpec) -> Host:
        return connect(inv, spec, opts)

    return make


def run_context(inv: Inventory, accept_new_host_key: bool, *, user: str | None = None,
                fenced: Sequence[str] | None = None,
                stay_up: float | None = None) -> RunContext:
    """The one run context of a command (`svcctl.ops.context`): every operation gets its
    connector, interrupt flag, `--fenced` hosts and `--stay-up` from here. The caller
    installs `ctx.interrupt` around the work and sets `ctx.progress` for live step lines."""
    from svcctl.ops.context import RunContext

    return RunContext(inv, connector(inv, accept_new_host_key, user=user),
                      acknowledged=frozenset(pick_fenced(inv, fenced)), stay_up=stay_up)
