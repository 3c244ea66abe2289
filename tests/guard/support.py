"""Helpers shared by the guard tests: spawn agents as any user and read their reports."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from svcctl_testbed.userland import find_mac_python

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AGENT = HERE / "agent.py"
# the interpreter the hosts run; the venv's when this machine has no system python
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
OTHER_UID, OTHER_GID = 501, 20  # uid 501 / staff, as on a Mac; no passwd entry needed
MAC_PYTHON_ENV = "SVCCTL_MAC_PYTHON"


@functools.lru_cache(maxsize=1)
def mac_python() -> str:
    """A real Python 3.9, the Mac's /usr/bin/python3 (FACTS §5.4), or fail the test.

    $SVCCTL_MAC_PYTHON, else the newest /root/.pyenv/versions/3.9.*/bin/python3.9, else
    `python3.9` on PATH. It must really be 3.9. The answer is the interpreter's own
    `sys.executable`, not a wrapper such as a pyenv shim that execs it.
    """
    mac = find_mac_python()  # the same interpreter the simulated hosts give /usr/bin/python3
    if mac is None:
        pytest.fail(
            f"no Python 3.9 to run the guard as a Mac would (set {MAC_PYTHON_ENV}, or install "
            "/root/.pyenv/versions/3.9.*/bin/python3.9 or python3.9 on PATH)",
            pytrace=False,
        )
    found = str(mac.prefix / "bin" / "python3.9")
    out = subprocess.run(
        [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)"],
        capture_output=True,
        text=True,
        check=False,
    )
    version, _, executable = out.stdout.strip().partition(" ")
    if version != "3.9":
        said = " ".join((out.stdout or out.stderr).split())  # one line, whatever it said
        pytest.fail(f"{found} is not Python 3.9: {said}", pytrace=False)
    return executable


def can_switch_user() -> bool:
    return os.geteuid() == 0


class Agent:
    """One agent process; `report()` reads its next JSON line."""

    def __init__(
        self,
        *args: str,
        uid: int | None = None,
        pass_fds: tuple[int, ...] = (),
        python: str = PYTHON,
        entry: Sequence[str] = ("-I", str(AGENT)),  # or ("-m", "tests.guard.agent")
    ):
        kwargs: dict[str, Any] = {}
        if uid is not None:
            kwargs = {"user": uid, "group": OTHER_GID, "extra_groups": []}
        self.argv = [python, *entry, *args]
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=pass_fds,
            **kwargs,
        )
        self.pid = self.proc.pid

    def report(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise AssertionError(f"agent {self.pid} said nothing: {self.stderr()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        text: str = self.proc.stderr.read()
        return text

    def finish(self, timeout: float = 10) -> int:
        """Close stdin (a holder releases and exits) and wait."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def run_guard(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """`python -m svcctl.guard ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "svcctl.guard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def which(program: str) -> str:
    path = shutil.which(program)
    assert path, program
    return path


def start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_exec(proc: subprocess.Popen[str], comm: str, timeout: float = 10) -> None:
    """Until the wrapper's pid runs `comm` (it has exec'd); no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with open(f"/proc/{proc.pid}/comm") as f:
            if f.read().strip() == comm:
                return
        time.sleep(0.01)
    raise AssertionError(f"{proc.pid} never became {comm}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)
