"""`python -m svcctl.guard NAME -- PROGRAM`: the exec'd program holds the lock, same pid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from svcctl.guard import ENV_FD, AlreadyRunning, acquire, lock_path, read_holder
from tests.guard.support import PYTHON, REPO, run_guard, start, stop, wait_for_exec

CLI = (
    "import sys, typer\n"
    "from svcctl.cli.guard import register\n"
    "app = typer.Typer()\n"
    "app.callback()(lambda: None)\n"
    "register(app)\n"
    "app(prog_name='svcctl')\n"
)


def assert_held_by(proc: subprocess.Popen[str], lock_dir: str, command: tuple[str, ...]) -> None:
    with pytest.raises(AlreadyRunning) as exc:
        acquire("shiva", lock_dir=lock_dir)
    holder = exc.value.holder
    assert holder is not None
    assert (holder.pid, holder.alive, holder.same_process) == (proc.pid, True, True)
    assert holder.command == command


@pytest.mark.parametrize("entry", ["module", "cli", "standalone"])
def test_the_program_keeps_the_lock_across_exec(lock_dir: str, tmp_path: Path, entry: str) -> None:
    guarded = ["--", "sleep", "30"]
    if entry == "module":
        argv = [sys.executable, "-m", "svcctl.guard", "shiva", "--lock-dir", lock_dir, *guarded]
    elif entry == "cli":
        argv = [sys.executable, "-c", CLI, "guard", "shiva", "--lock-dir", lock_dir, *guarded]
    else:  # a bare copy run by the system python, as on a host: no svcctl package
        shutil.copy(REPO / "svcctl" / "guard.py", tmp_path / "guard.py")
        assert subprocess.run([PYTHON, "-I", "-c", "import svcctl"], check=False).returncode
        argv = [PYTHON, "-I", str(tmp_path / "guard.py"), "shiva", "--lock-dir", lock_dir, *guarded]
    proc = start(argv)
    try:
        wait_for_exec(proc, "sleep")  # same pid, now `sleep`
        assert_held_by(proc, lock_dir, ("sleep", "30"))
        fd = dict(
            line.split("=", 1)
            for line in Path(f"/proc/{proc.pid}/environ").read_text().split("\0")
            if "=" in line
        )[ENV_FD]
        assert os.readlink(f"/proc/{proc.pid}/fd/{fd}") == lock_path("shiva", lock_dir)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        acquire("shiva", lock_dir=lock_dir).release()  # freed with the program
    finally:
        stop(proc)


def test_a_second_wrapper_exits_75_with_one_line(lock_dir: str, tmp_path: Path) -> None:
    proc = start(
        [sys.executable, "-m", "svcctl.guard", "shiva", "--lock-dir", lock_dir, "--", "sleep", "30"]
    )
    try:
        wait_for_exec(proc, "sleep")
        marker = tmp_path / "ran"
        second = run_guard("shiva", "--lock-dir", lock_dir, "--", "touch", str(marker))
        assert second.returncode == 75
        assert not marker.exists()
        assert second.stdout == ""
        lines = second.stderr.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("svcctl-guard: error: shiva is already running: ")
        assert f"pid {proc.pid} " in lines[0]
        assert "command sleep 30 (alive)" in lines[0]
        cli = subprocess.run(
            [sys.executable, "-c", CLI, "guard", "shiva", "--lock-dir", lock_dir, "--", "true"],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=REPO,
            check=False,
        )
        assert cli.returncode == 75
        assert cli.stderr.count("\n") == 1
        assert cli.stderr.startswith("svcctl guard: error: shiva is already running")
    finally:
        stop(proc)


def test_the_program_runs_and_its_exit_code_is_kept(lock_dir: str) -> None:
    done = run_guard("shiva", "--lock-dir", lock_dir, "--", "sh", "-c", "exit 9")
    assert done.returncode == 9
    holder = read_holder(lock_path("shiva", lock_dir))
    assert holder is not None
    assert holder.command == ("sh", "-c", "exit 9")
    assert holder.alive is False  # the record stays; the lock does not


def test_a_missing_program_exits_127_like_a_shell(lock_dir: str) -> None:
    done = run_guard("shiva", "--lock-dir", lock_dir, "--", "no-such-program-xyz")
    assert done.returncode == 127
    assert done.stderr == "svcctl-guard: error: no-such-program-xyz: command not found\n"
    assert not os.path.exists(lock_path("shiva", lock_dir))  # checked before locking


def test_a_program_that_cannot_be_executed_exits_126(lock_dir: str, tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    done = run_guard("shiva", "--lock-dir", lock_dir, "--", str(script))
    assert done.returncode == 126
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [["shiva", "sleep", "1"], ["--", "sleep"], ["shiva", "--"], ["a", "b", "--", "true"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    done = run_guard(*args)
    assert done.returncode == 2
    assert "usage: svcctl guard NAME" in done.stderr


def test_the_cli_help_names_exit_75() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CLI, "guard", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0
    assert "75" in done.stdout
    assert "--lock-dir" in done.stdout
