"""Holding, releasing, dying and forking: the lock follows the process that took it."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import time

import pytest

from svcctl.guard import AlreadyRunning, acquire, lock_path, read_holder, singleton
from tests.guard.support import Agent


def test_kill_9_frees_the_lock_at_once(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva")
    try:
        assert holder.report()["pid"] == holder.pid
        with pytest.raises(AlreadyRunning):
            acquire("shiva", lock_dir=lock_dir)
        os.kill(holder.pid, signal.SIGKILL)
        holder.proc.wait(timeout=10)
        acquire("shiva", lock_dir=lock_dir).release()  # no retry, no cleanup, no wait
    finally:
        holder.kill()


def test_a_forked_child_cannot_release_the_parents_lock(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva", "--fork")
    try:
        parent = holder.report()["pid"]
        child = holder.report()
        assert child["child"] != parent
        assert child["unlock"] == "Bad file descriptor"  # its inherited copy was closed
        assert child["acquire"]["holder_pid"] == parent  # and it cannot take the lock
        # a third process, after the child's release() and exit: still the parent's
        with pytest.raises(AlreadyRunning) as exc:
            acquire("shiva", lock_dir=lock_dir)
        assert exc.value.holder is not None
        assert exc.value.holder.pid == parent
    finally:
        holder.kill()


def test_a_forked_child_does_not_hold_the_lock(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva", "--fork", "--child-stays")
    try:
        holder.report()
        child = holder.report()["child"]
        os.kill(holder.pid, signal.SIGKILL)
        holder.proc.wait(timeout=10)
        os.kill(child, 0)  # the child still runs...
        acquire("shiva", lock_dir=lock_dir).release()  # ...and holds nothing
    finally:
        holder.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_the_descriptor_is_close_on_exec(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva", "--spawn")
    try:
        holder.report()
        child = holder.report()["child"]  # `sleep`, spawned with close_fds=False
        path = lock_path("shiva", lock_dir)
        fds = []
        for n in os.listdir(f"/proc/{child}/fd"):
            # sleep's own start-up files (locale) come and go; an inherited lock fd stays
            with contextlib.suppress(FileNotFoundError):
                fds.append(os.readlink(f"/proc/{child}/fd/{n}"))
        assert path not in fds
        os.kill(holder.pid, signal.SIGKILL)
        holder.proc.wait(timeout=10)
        acquire("shiva", lock_dir=lock_dir).release()
    finally:
        holder.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_a_second_handle_in_the_same_process_is_refused(lock_dir: str) -> None:
    with singleton("shiva", lock_dir=lock_dir), pytest.raises(AlreadyRunning) as exc:
        acquire("shiva", lock_dir=lock_dir)
    assert exc.value.holder is not None
    assert exc.value.holder.pid == os.getpid()
    assert exc.value.holder.same_process is True


def test_release_keeps_the_file_and_frees_the_lock(lock_dir: str) -> None:
    guard = acquire("shiva", lock_dir=lock_dir)
    inode = os.stat(guard.path).st_ino
    assert read_holder(guard.path) is not None
    guard.release()
    guard.release()  # idempotent
    assert os.stat(guard.path).st_ino == inode  # never unlinked
    assert read_holder(guard.path) is None  # the record goes with the lock
    with acquire("shiva", lock_dir=lock_dir) as again:
        assert os.stat(again.path).st_ino == inode


def test_the_decorator_holds_the_lock_for_each_call(lock_dir: str) -> None:
    @singleton("shiva", lock_dir=lock_dir)
    def work() -> int:
        with pytest.raises(AlreadyRunning):
            acquire("shiva", lock_dir=lock_dir)
        return 7

    assert work() == 7
    assert work() == 7
    acquire("shiva", lock_dir=lock_dir).release()


def test_exit_on_conflict_exits_75_with_one_line(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva")
    try:
        pid = holder.report()["pid"]
        other = Agent("conflict", lock_dir, "shiva")
        assert other.proc.wait(timeout=20) == 75
        assert other.proc.stdout is not None
        assert other.proc.stdout.read() == ""  # the decorated function never ran
        lines = other.stderr().splitlines()
        assert len(lines) == 1, lines
        assert f"pid {pid} " in lines[0]
        assert lines[0].startswith("svcctl-guard: error: shiva is already running")
        other.kill()
    finally:
        holder.kill()


def test_exit_on_conflict_runs_when_free(lock_dir: str) -> None:
    other = Agent("conflict", lock_dir, "shiva")
    assert other.report() == {"ran": True}
    assert other.finish() == 0
    other.kill()


def test_a_lost_path_is_noticed_and_cleaners_are_kept_away(lock_dir: str) -> None:
    with acquire("shiva", lock_dir=lock_dir) as guard:
        st = os.stat(guard.path)
        assert st.st_mtime > time.time() + 365 * 86400  # never "old" to a /tmp cleaner
        assert stat.S_IMODE(st.st_mode) == 0o666
        assert guard.intact()
        os.unlink(guard.path)  # what a /tmp cleaner would do
        assert not guard.intact()


def test_an_unrelated_subprocess_can_take_it_after_release(lock_dir: str) -> None:
    guard = acquire("shiva", lock_dir=lock_dir)
    guard.release()
    holder = Agent("hold", lock_dir, "shiva")
    try:
        assert holder.report()["pid"] == holder.pid
    finally:
        assert holder.finish() == 0
        holder.kill()
