"""Reboots of simulated hosts, and a process sampler that watches every host at once.

A testbed host's reboot is `down` then `up`: its PID 1 (the launchd emulator) and every
process in its pid namespace die, and a new namespace boots from the same HOSTDIR. What a
Mac keeps on disk survives (/Users, /Library, the enable/disable overrides under
/run/testbed/overrides); nothing that ran survives, and launchd loads /Library/LaunchDaemons
into `system` at boot, and the LaunchAgents directories into `gui/<uid>` only with a console
login (FACTS 1.2, 1.4). The host's sshd comes back on a new loopback address; the testbed
rewrites ssh_config, so `-F ssh_config` keeps working.

Other tests share the session's hosts and expect `gui/501` absent: wrap every reboot in
`headless_after`, which leaves each host up again without a console session.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator

from tests.conftest import Hosts
from tests.service_kit import SAMPLER_PY, Sampler, Service

SSH_TIMEOUT = 30.0


def wait_for_ssh(hosts: Hosts, name: str, timeout: float = SSH_TIMEOUT) -> None:
    """Until `ssh ops@name true` succeeds: sshd's banner alone is not a login."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = hosts.ssh(name, "true", check=False, timeout=10)
        if last.returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name}: ssh as ops never answered after boot: {last}")


def reboot(hosts: Hosts, name: str, *, console: bool) -> None:
    """Power-cycle one host; with `console`, ops logs in at the console as it boots."""
    hosts.tb.down([name])
    hosts.tb.up([name], console=console)
    wait_for_ssh(hosts, name)


def ensure_headless(hosts: Hosts, names: Iterable[str] = ("tesseract", "backup")) -> None:
    """Each host up (booted again if a reboot failed half-way), with no console login."""
    records = {s.record.name: s for s in hosts.tb.status()}
    for name in names:
        status = records.get(name)
        if status is None or not status.running:
            hosts.tb.up([name], console=False)
            wait_for_ssh(hosts, name)
        elif status.record.console:
            hosts.tb.set_console(name, False)


@contextlib.contextmanager
def headless_after(hosts: Hosts, names: Iterable[str] = ("tesseract", "backup")) -> Iterator[None]:
    """Whatever the block did (or where it failed), `ensure_headless` at its end."""
    try:
        yield
    finally:
        ensure_headless(hosts, names)


class FleetSampler(Sampler):
    """`Sampler`, over every process of this machine: all testbed hosts at once.

    It runs SAMPLER_PY here without SAMPLER_PIDNS, so the script's ps branch scans the
    real machine's process table, which holds every pid namespace: a copy on any host
    counts, and so does the copy a host's reboot brings back in its new namespace. Pids are
    the machine's (a host's own pids repeat from host to host and from boot to boot). A
    scan takes ~10 ms here (procps over /proc), not the few ms of the per-host branch.
    """

    def __init__(self, svc: Service) -> None:
        super().__init__(svc)
        self.host = "*"

    def __enter__(self) -> FleetSampler:
        env = {k: v for k, v in os.environ.items() if k != "SAMPLER_PIDNS"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SAMPLER_PY], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(self.svc.script + "\n")
        self.proc.stdin.flush()
        first = self.proc.stdout.readline()
        if first != "sampling\n":
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"the fleet sampler did not start: {first!r} {err}")
        return self
