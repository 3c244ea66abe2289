"""Inventory hosts -> Host objects. paramiko is imported only when a host is remote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from svcctl.host.base import Host
from svcctl.model import HostSpec, Inventory

LOCAL_NAMES = frozenset({"localhost", "local"})
USER_SSH_CONFIG = Path("~/.ssh/config")


@dataclass(frozen=True)
class ConnectOptions:
    accept_new_host_key: bool = False
    connect_timeout: float = 10.0
    user: str | None = None  # overrides the inventory's and ssh_config's user


def connect(inv: Inventory, spec: HostSpec, opts: ConnectOptions, *,
            user: str | None = None) -> Host:
    """A Host for the inventory host `spec` (not yet connected: that happens on first use)."""
    if spec.hostname in LOCAL_NAMES or (spec.hostname is None and spec.name in LOCAL_NAMES):
        from svcctl.host.local import LocalHost  # noqa: PLC0415 - keep start-up light

        return LocalHost(spec.name)
    from svcctl.host.ssh import SSHHost, SSHTarget  # noqa: PLC0415 - paramiko only when remote

    ssh_config: Path | None = spec.ssh_config or inv.ssh_config
    if ssh_config is None and USER_SSH_CONFIG.expanduser().is_file():
        ssh_config = USER_SSH_CONFIG.expanduser()  # as ssh(1) would
    return SSHHost(spec.name, SSHTarget(
        alias=spec.name,
        ssh_config=ssh_config,
        user=user or opts.user or spec.user,
        hostname=spec.hostname,
        port=spec.port,
        accept_new_host_key=opts.accept_new_host_key,
        connect_timeout=opts.connect_timeout,
    ))
