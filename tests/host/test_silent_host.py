"""A host that accepts the TCP connection and never says a word (a hung sshd, a
half-dead VPN): ssh_config's ConnectTimeout bounds the wait, and Ctrl-C never waits for it.

Before, `svcctl audit` went on for the whole connect timeout after Ctrl-C: the handshake
ran in a pool thread (audit's preconnect, the fan-out over hosts) that the interpreter
joins at exit. Real TCP listener, real paramiko, a real svcctl process and a real SIGINT.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcctl.errors import HostUnreachableError
from svcctl.host.ssh import SSHHost, SSHTarget, resolve
from svcctl.model import Inventory
from svcctl.ops.context import RunContext
from tests.service_kit import Blackhole
from tests.wait import wait_until


@pytest.fixture
def silent() -> Iterator[Blackhole]:
    s = Blackhole()
    yield s
    s.close()


def _config(tmp_path: Path, port: int, timeout: str, *aliases: str) -> Path:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host {' '.join(aliases)}\n  HostName 127.0.0.1\n  Port {port}\n  User ops\n"
                   f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
                   f"  ConnectTimeout {timeout}\n")
    return cfg


def test_connect_timeout_from_ssh_config_bounds_a_silent_host(silent: Blackhole,
                                                              tmp_path: Path) -> None:
    cfg = _config(tmp_path, silent.port, "2", "quiet")
    start = time.monotonic()
    with pytest.raises(HostUnreachableError, match=f"127.0.0.1:{silent.port}"):
        SSHHost("quiet", SSHTarget("quiet", ssh_config=cfg)).run(["true"])  # default: 10 s
    took = time.monotonic() - start
    assert 1.5 < took < 8, took  # ConnectTimeout's 2 s, not the default 10


@pytest.mark.parametrize("value", ["soon", "1.5", "-3", "1m30x", "m"])
def test_a_bad_connect_timeout_is_a_typed_error(tmp_path: Path, value: str) -> None:
    cfg = _config(tmp_path, 1, value, "odd")
    with pytest.raises(HostUnreachableError, match=f"bad ConnectTimeout '{value}'"):
        SSHHost("odd", SSHTarget("odd", ssh_config=cfg)).run(["true"])


# what OpenSSH's `ssh -G -o ConnectTimeout=...` reads, and svcctl's own 10 s where OpenSSH
# would have no timeout at all
@pytest.mark.parametrize("value, seconds", [
    ("90", 90.0), ("1m30", 90.0), ("2S", 2.0), ("1h", 3600.0), ("0", 10.0), ("none", 10.0)])
def test_connect_timeout_reads_openssh_time_values(tmp_path: Path, value: str,
                                                   seconds: float) -> None:
    cfg = _config(tmp_path, 1, value, "odd")
    assert resolve(SSHTarget("odd", ssh_config=cfg)).connect_timeout == seconds


@pytest.mark.parametrize("hosts, extra", [
    (["quiet"], []),  # one host: audit's preconnect
    (["quiet", "hush"], []),  # two: the fan-out
    (["quiet", "hush"], ["--format", "prometheus"]),  # the fan-out without preconnect
])
def test_ctrl_c_ends_audit_at_once_while_a_handshake_hangs(
        silent: Blackhole, tmp_path: Path, hosts: list[str], extra: list[str]) -> None:
    cfg = _config(tmp_path, silent.port, "120", *hosts)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"ssh_config: {cfg}\nhosts:\n"
                   + "".join(f"  {h}: {{domain: user/501}}\n" for h in hosts)
                   + "services:\n  bot:\n    label: com.example.bot\n"
                   f"    hosts: [{hosts[0]}]\n    program: [/bin/sleep, '600']\n")
    proc = subprocess.Popen([sys.executable, "-m", "svcctl.cli.main", "audit", "-i", str(inv),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(silent.accepted) == len(hosts), timeout=30)  # all hanging
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        # before: the exit waited out the 120 s ConnectTimeout
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - start
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    print(f"exit {took:.2f} s after SIGINT")


def test_fan_out_lets_running_calls_finish_before_raising(tmp_path: Path) -> None:
    """Not interrupted but failed: a call already running (a deploy on another host) is
    never cut off; what has not started does not start."""
    ctx = RunContext(Inventory(tmp_path / "inventory.yaml", {}, {}, tmp_path),
                     lambda spec: pytest.fail("no host wanted"), concurrency=2)
    started, finished = [], []
    release = threading.Event()

    def call(x: int) -> int:
        started.append(x)
        if x == 0:
            wait_until(lambda: 1 in started, timeout=10)
            release.set()
            raise RuntimeError("host 0 failed")
        release.wait(10)
        time.sleep(0.3)  # still running when the failure reaches the caller
        finished.append(x)
        return x

    with pytest.raises(RuntimeError, match="host 0 failed"):
        ctx.fan_out(call, [0, 1, 2, 3])
    assert 1 in finished  # raised only once the running call had returned
    assert set(started) <= {0, 1, 2} and 3 not in started, started
