"""Shared fixtures: simulated macOS hosts reached over real SSH."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcctl.host.quote import join, quote
from svcctl_testbed.control import Testbed


def _have_testbed_privileges() -> bool:
    return os.geteuid() == 0


class Hosts:
    """A running testbed plus helpers that go through the real `ssh` client."""

    def __init__(self, tb: Testbed) -> None:
        self.tb = tb

    @property
    def ssh_config(self) -> Path:
        return self.tb.layout.ssh_config

    def ssh(self, host: str, command: str | list[str], user: str = "ops", *,
            check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if isinstance(command, list):
            command = join(command)
        proc = subprocess.run(self.tb.ssh_argv(host, command, user=user), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ssh {user}@{host} {command!r} -> {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def put(self, host: str, path: str, data: str, user: str = "ops", mode: str = "644") -> None:
        """Write a file on the host over SSH, as `user` (its directory made if missing)."""
        parent = path.rsplit("/", 1)[0] or "/"
        cmd = (f"umask 022 && mkdir -p {quote(parent)} && cat > {quote(path)} && "
               f"chmod {quote(mode)} {quote(path)}")
        proc = subprocess.run(self.tb.ssh_argv(host, cmd, user=user), input=data,
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="session")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    """Two simulated hosts, `tesseract` and `backup`, for the whole session."""
    if not _have_testbed_privileges():
        pytest.fail("the testbed needs root (PID and mount namespaces); run the suite as root")
    tb = Testbed(tmp_path_factory.mktemp("testbed"))
    try:
        tb.up(["tesseract", "backup"])
        yield Hosts(tb)
    finally:
        tb.down()
