"""adopt's identity check, run by a real `sh` against real processes on this machine.

`signal_checked` sends one `sh -c` script that re-reads the pid's start time and command
and signals only if both still equal what the audit parsed. A Mac runs it with bash as
POSIX sh and BSD ps (lstart padded to 28 columns, FACTS 5.2/5.4); this machine has dash
and procps. Each case runs under both shells and both layouts: `bsd_ps.py` prints the
real process table in BSD's layout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from svcctl.host.local import LocalHost
from svcctl.model import ProcInfo
from svcctl.ops.kill import Kill, signal_checked
from svcctl.procs import parse_ps, ps_argv
from tests.unit import bsd_ps

ODD_ARG = 'x  "y" $HOME * \\n'  # two spaces, quotes, words sh would expand


@pytest.fixture(params=[("bash", "bsd"), ("bash", "procps"), ("dash", "bsd"), ("dash", "procps")],
                ids=lambda p: f"{p[0]}-as-sh+{p[1]}")
def userland(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> str:
    """PATH with `sh` as bash (POSIX mode, as on a Mac) or dash, and BSD-layout or procps ps."""
    shell, layout = request.param
    real = shutil.which(shell)
    if real is None or shutil.which("ps") is None:
        pytest.fail(f"{shell} and procps ps are needed on the test machine")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to(real)  # bash run as `sh` is bash in POSIX mode
    if layout == "bsd":
        bsd_ps.install(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return str(layout)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", ODD_ARG],
                            stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()

# the label whose launchd pid the script refuses; this machine has no launchctl, so none is
TARGET = "user/501/com.example.identity"


def audited(pid: int) -> ProcInfo:
    """The process as audit sees it: the real probe, through whichever ps is on PATH."""
    out = subprocess.run(ps_argv(), capture_output=True, text=True, check=True, timeout=30)
    return {p.pid: p for p in parse_ps(out.stdout)}[pid]


def test_the_probe_row_is_what_is_compared(userland: str,
                                           sleeper: subprocess.Popen[bytes]) -> None:
    proc = audited(sleeper.pid)
    assert proc.command == f"{sys.executable} -c import time; time.sleep(120) {ODD_ARG}"
    assert len(proc.started_raw) == 24


def test_an_unchanged_process_is_alive_and_gets_the_signal(
    userland: str, sleeper: subprocess.Popen[bytes]
) -> None:
    host = LocalHost()
    kill = Kill(audited(sleeper.pid), (TARGET,))
    assert signal_checked(host, kill, "0") == "alive"
    assert signal_checked(host, kill, "TERM") == "sent"
    assert sleeper.wait(timeout=10) == -15
    assert signal_checked(host, kill, "0") == "gone"


def test_another_start_or_command_is_changed_and_not_signalled(
    userland: str, sleeper: subprocess.Popen[bytes]
) -> None:
    host = LocalHost()
    proc = audited(sleeper.pid)
    others = [
        replace(proc, started_raw="Mon Jan  1 00:00:00 2001"),
        replace(proc, command=proc.command + " x"),
        replace(proc, command=proc.command[:-1]),
        replace(proc, command="    " + proc.command),  # the gap is not part of the command
        replace(proc, command=""),
    ]
    for other in others:
        assert signal_checked(host, Kill(other, (TARGET,)), "TERM") == "changed", other
    time.sleep(0.2)
    assert sleeper.poll() is None  # none of them signalled it


def test_pid_one_is_refused_and_a_failed_kill_is_reported(
    userland: str, sleeper: subprocess.Popen[bytes]
) -> None:
    host = LocalHost()
    init = ProcInfo(1, 0, 0, "root", 1, None, "Thu Jan  1 00:00:00 1970", "/sbin/launchd")
    assert signal_checked(host, Kill(init, (TARGET,)), "0") == "refused"
    out = signal_checked(host, Kill(audited(sleeper.pid), (TARGET,)), "NOSUCHSIGNAL")
    assert out.startswith("failed: "), out
    assert sleeper.poll() is None
