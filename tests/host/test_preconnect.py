"""RunContext.preconnected: the SSH handshakes start before anyone asks for the hosts.

Real sshd on the simulated hosts, real paramiko; a port nobody listens on for the
unreachable case. What must hold: each host is connected in the background (not by the
thread that later claims it), a claim hands over that open Host, a failed connect is
raised at the claim as the HostError a first use would raise, and on leaving, hosts
nobody claimed are closed and `connect` is the plain connector again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from svcctl.errors import HostUnreachableError
from svcctl.host.base import Host
from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.model import Domain, HostSpec, Inventory
from svcctl.ops.context import RunContext
from tests.conftest import Hosts
from tests.service_kit import free_port


class Noting(SSHHost):
    """An SSHHost that notes which thread opened it."""

    def __init__(self, name: str, target: SSHTarget, opened_by: dict[str, str]) -> None:
        super().__init__(name, target)
        self.opened_by = opened_by

    def open(self) -> None:
        self.opened_by[self.name] = threading.current_thread().name
        super().open()


class Recorder:
    """The plain connector, keeping every host it made."""

    def __init__(self, ssh_config: Path, ghost_port: int) -> None:
        self.ssh_config = ssh_config
        self.ghost_port = ghost_port
        self.made: dict[str, SSHHost] = {}
        self.opened_by: dict[str, str] = {}

    def __call__(self, spec: HostSpec) -> Host:
        target = (SSHTarget("ghost", hostname="127.0.0.1", port=self.ghost_port,
                            connect_timeout=5) if spec.name == "ghost"
                  else SSHTarget(spec.name, ssh_config=self.ssh_config))
        host = self.made[spec.name] = Noting(spec.name, target, self.opened_by)
        return host


def _specs(*names: str) -> list[HostSpec]:
    return [HostSpec(n, Domain.parse("user/501")) for n in names]


@pytest.fixture
def ctx_and_recorder(hosts: Hosts, tmp_path: Path) -> tuple[RunContext, Recorder]:
    recorder = Recorder(hosts.ssh_config, free_port())
    inv = Inventory(tmp_path / "inventory.yaml", {}, {}, tmp_path)
    return RunContext(inv, recorder), recorder


def test_claimed_hosts_come_open_from_the_background(
        ctx_and_recorder: tuple[RunContext, Recorder]) -> None:
    ctx, rec = ctx_and_recorder
    tesseract, backup = _specs("tesseract", "backup")
    claimed = {}
    with ctx.preconnected([tesseract, backup]):
        for spec in (tesseract, backup):
            host = claimed[spec.name] = ctx.connect(spec)
            assert host is rec.made[spec.name]
            assert rec.opened_by[spec.name].startswith("svcctl-connect")
            transport = rec.made[spec.name]._client.get_transport()  # type: ignore[union-attr]
            assert transport is not None and transport.is_active()
            assert host.run(["echo", spec.name]).stdout == f"{spec.name}\n"
            host.close()
        # claimed once: asking again connects afresh, through the plain connector
        again = ctx.connect(tesseract)
        assert again is rec.made["tesseract"] and again is not claimed["tesseract"]
        again.close()


def test_a_failed_connect_is_raised_at_the_claim(
        ctx_and_recorder: tuple[RunContext, Recorder]) -> None:
    ctx, rec = ctx_and_recorder
    [ghost] = _specs("ghost")
    with (ctx.preconnected([ghost]),
          pytest.raises(HostUnreachableError, match=f"127.0.0.1:{rec.ghost_port}")):
        ctx.connect(ghost)
    assert rec.made["ghost"]._client is None  # nothing left half-open


def test_hosts_nobody_claims_are_closed_on_leaving(
        ctx_and_recorder: tuple[RunContext, Recorder]) -> None:
    ctx, rec = ctx_and_recorder
    tesseract, backup, ghost = _specs("tesseract", "backup", "ghost")
    with (pytest.raises(RuntimeError, match="an early error"),
          ctx.preconnected([tesseract, backup, ghost])):
        with ctx.connect(tesseract) as host:
            assert host.run(["true"]).rc == 0
        raise RuntimeError("an early error")
    # backup was opened, ghost failed: leaving closed the one and did not raise for the other
    first = rec.made["backup"]
    assert rec.opened_by["backup"].startswith("svcctl-connect")
    assert first._client is None
    fresh = ctx.connect(backup)  # the plain connector again: a new Host, not yet connected
    assert fresh is rec.made["backup"] and fresh is not first and fresh._client is None  # type: ignore[attr-defined]
