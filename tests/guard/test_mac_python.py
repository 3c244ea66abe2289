"""The guard under a real Python 3.9, which is what /usr/bin/python3 runs on a Mac (FACTS §5.4).

Real processes under the real interpreter: a refused start exits 75 (3.9 has no `int | float`
for isinstance, which made it exit 1 with a traceback), and library mode records the command
line it was started with (3.9 has no `sys.orig_argv`, which made it crash holding the lock).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from svcctl.guard import AlreadyRunning, acquire
from tests.guard.support import AGENT, REPO, Agent, mac_python, start, stop, wait_for_exec

SHIVA = REPO / "testbed" / "svcctl_testbed" / "demo" / "shiva"


def holder_of(lock_dir: str) -> tuple[int, tuple[str, ...], bool | None]:
    """(pid, command, same process) of the lock's holder, read as any contender does."""
    with pytest.raises(AlreadyRunning) as exc:
        acquire("shiva", lock_dir=lock_dir)
    holder = exc.value.holder
    assert holder is not None, exc.value.one_line()
    return holder.pid, holder.command, holder.same_process


def assert_one_refusal_line(stderr: str, pid: int) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr  # not a traceback
    assert lines[0].startswith(f"svcctl-guard: error: shiva is already running: pid {pid} ")
    return lines[0]


def test_a_refused_wrapper_exits_75_under_3_9(lock_dir: str, tmp_path: Path) -> None:
    """`guard: true`: /usr/bin/python3 runs the copy deploy installs, named svcctl-guard."""
    python = mac_python()
    wrapper = tmp_path / "svcctl-guard"  # render.GUARD_SUBPATH's name: no svcctl package
    shutil.copy(REPO / "svcctl" / "guard.py", wrapper)
    guard = [python, "-I", str(wrapper), "shiva", "--lock-dir", lock_dir, "--"]
    first = start([*guard, "sleep", "30"])
    try:
        wait_for_exec(first, "sleep")
        assert holder_of(lock_dir) == (first.pid, ("sleep", "30"), True)
        marker = tmp_path / "ran"
        second = subprocess.run(
            [*guard, "touch", str(marker)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert (second.returncode, second.stdout) == (75, ""), second.stderr
        assert "command sleep 30 (alive)" in assert_one_refusal_line(second.stderr, first.pid)
        assert not marker.exists()
    finally:
        stop(first)


def test_a_refused_library_start_exits_75_under_3_9(lock_dir: str) -> None:
    """`@singleton(..., exit_on_conflict=True)` in a program /usr/bin/python3 runs."""
    with acquire("shiva", lock_dir=lock_dir):
        refused = Agent("conflict", lock_dir, "shiva", python=mac_python())
        try:
            code = refused.proc.wait(timeout=20)
            assert refused.proc.stdout is not None
            out, err = refused.proc.stdout.read(), refused.stderr()
            assert (code, out) == (75, ""), err  # exits 75; the guarded function never ran
            assert_one_refusal_line(err, os.getpid())
        finally:
            refused.kill()


ENTRIES = {
    "script -I": ("-I", str(AGENT)),
    "script -E -S": ("-E", "-S", str(AGENT)),
    "-m module": ("-m", "tests.guard.agent"),
}


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("python", ["3.9", "this"])
def test_library_mode_records_its_command_line(lock_dir: str, python: str, entry: str) -> None:
    """The record names the argv the process was started with, on 3.9 as on 3.10+."""
    interpreter = mac_python() if python == "3.9" else sys.executable
    agent = Agent("hold", lock_dir, "shiva", python=interpreter, entry=ENTRIES[entry])
    try:
        assert agent.report()["pid"] == agent.pid  # took the lock and lived on
        assert holder_of(lock_dir) == (agent.pid, tuple(agent.argv), True)
        assert agent.finish() == 0
    finally:
        agent.kill()


@pytest.mark.parametrize("python", ["3.9", "this"])
def test_only_inline_code_is_lost_on_3_9(python: str) -> None:
    """`-c CODE`: 3.9 keeps no copy of the code, so the record says <code> instead."""
    interpreter = mac_python() if python == "3.9" else sys.executable
    code = "import json; from svcctl.guard import own_command; print(json.dumps(own_command()))"
    out = subprocess.run(
        [interpreter, "-c", code, "a b", "c"],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
        check=True,
    )
    shown = code if python == "this" else "<code>"
    assert json.loads(out.stdout) == [interpreter, "-c", shown, "a b", "c"]


def test_the_demo_bot_runs_under_3_9(tmp_path: Path) -> None:
    """testbed/svcctl_testbed/demo/shiva/main.py is what the demo and runbooks run with
    /usr/bin/python3."""
    python = mac_python()
    bot = tmp_path / "shiva"
    shutil.copytree(SHIVA, bot, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.Popen(
        [python, str(bot / "main.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"SHIVA_TICK": "0.1", "PATH": "/usr/bin:/bin"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().endswith(": started\n")
        assert proc.stdout.readline().endswith(": tick\n")  # the heartbeat is written by now
        health = subprocess.run(
            [python, str(bot / "main.py"), "--health"], capture_output=True, text=True, timeout=20
        )
        assert health.returncode == 0, health.stdout + health.stderr
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert out.endswith(": stopped\n")
    finally:
        stop(proc)
