"""Shared fixtures: simulated macOS hosts reached over real SSH.

The suite runs in parallel (pytest-xdist, scripts/test): every worker is its own pytest
session, so each gets its own `hosts` testbed (its own DIR, addresses, keys and
known_hosts) and its own default testbed DIR; no two workers share a file or a host.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcctl.host.quote import join, quote
from svcctl_testbed.control import Testbed
from tests.postmortem import pytest_runtest_makereport  # noqa: F401  (a hook: pytest finds it here)

# The longest tests first (measured: a runbook takes up to 4 minutes under load, the demo
# and the reboot scenarios 1-2), then the rest of what runs on hosts, the quick pure tests
# last: handed out one at a time in this order (scripts/test: --maxschedchunk 1), no
# worker is left running a long test while the others have finished.
LONGEST_FIRST = (
    "tests/runbooks/",
    "tests/demo/",
    "tests/deploy/test_fencing.py",
    "tests/deploy/test_reboot_system.py",
    "tests/guard/test_race.py",
    "tests/deploy/",
    "tests/watch/",
    "tests/cli/",
    "tests/ops/",
    "tests/guard/",
    "tests/emulator/",
    "tests/testbed/",
    "tests/host/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist only: order the tests longest first (LONGEST_FIRST)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return  # a plain run keeps pytest's order

    def rank(item: pytest.Item) -> int:
        where = item.nodeid
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if where.startswith(prefix)),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: each group keeps its order


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


@pytest.fixture(scope="session", autouse=True)
def private_testbed_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$SVCCTL_TESTBED_DIR for this session (this worker) only.

    `svcctl testbed` and `svcctl demo` without --dir use it (else the user's cache dir):
    a shared one would let two workers, or a test and the user's own testbed, stop each
    other's hosts. Laid out as the cache dir is, so the demo's default DIR/../demo is
    private too.
    """
    path = tmp_path_factory.getbasetemp() / "cache" / "svcctl" / "testbed"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SVCCTL_TESTBED_DIR", str(path))
        yield path


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
