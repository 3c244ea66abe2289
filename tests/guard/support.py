"""Helpers shared by the guard tests: spawn agents as any user and read their reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AGENT = HERE / "agent.py"
# the interpreter the hosts run; the venv's when this machine has no system python
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
OTHER_UID, OTHER_GID = 501, 20  # uid 501 / staff, as on a Mac; no passwd entry needed


def can_switch_user() -> bool:
    return os.geteuid() == 0


class Agent:
    """One agent process; `report()` reads its next JSON line."""

    def __init__(self, *args: str, uid: int | None = None, pass_fds: tuple[int, ...] = ()):
        kwargs: dict[str, Any] = {}
        if uid is not None:
            kwargs = {"user": uid, "group": OTHER_GID, "extra_groups": []}
        self.proc = subprocess.Popen(
            [PYTHON, "-I", str(AGENT), *args],
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
