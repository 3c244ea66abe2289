"""A real process for the guard tests: takes, holds, forks and races for locks.

Run by the system interpreter, as on a host: `/usr/bin/python3 -I agent.py MODE ...`.
Each report is one JSON line on stdout; a holder keeps its lock until stdin closes.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from svcctl.guard import AlreadyRunning, acquire, singleton


def say(**report: object) -> None:
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


def loser(exc: AlreadyRunning) -> dict[str, object]:
    h = exc.holder
    if h is None:
        return {"won": False, "holder_pid": None}
    return {"won": False, "holder_pid": h.pid, "alive": h.alive, "same": h.same_process}


def race(lock_dir: str, name: str, barrier: int) -> None:
    say(ready=True)
    os.read(barrier, 1)  # EOF when the test closes the write end: both go at once
    try:
        guard = acquire(name, lock_dir=lock_dir)
    except AlreadyRunning as exc:
        say(**loser(exc))
        return
    say(won=True, pid=os.getpid())
    sys.stdin.read()
    guard.release()


def hold(lock_dir: str, name: str, extra: list[str]) -> None:
    with singleton(name, lock_dir=lock_dir) as guard:
        say(pid=os.getpid(), fd=guard.fd, path=guard.path)
        if "--spawn" in extra:  # an exec'd child, fds not closed for it
            child = subprocess.Popen(["sleep", "60"], close_fds=False)
            say(child=child.pid)
        if "--fork" in extra:
            fork_child(guard.fd, guard, lock_dir, name, stay="--child-stays" in extra)
        sys.stdin.read()


def fork_child(fd: int, guard: object, lock_dir: str, name: str, *, stay: bool) -> None:
    pid = os.fork()
    if pid:
        if not stay:
            os.waitpid(pid, 0)
        return
    report: dict[str, object] = {"child": os.getpid()}
    guard.release()  # type: ignore[attr-defined]  # must be a no-op here
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)  # the inherited descriptor must be gone
        report["unlock"] = "succeeded"
    except OSError as exc:
        report["unlock"] = exc.strerror
    try:
        acquire(name, lock_dir=lock_dir).release()
        report["acquire"] = "won"
    except AlreadyRunning as exc:
        report["acquire"] = loser(exc)
    say(**report)
    if stay:
        sys.stdin.read()
    os._exit(0)


def heir(lock_dir: str, name: str) -> None:
    """Take the lock, hand it to a `sleep` that inherits the descriptor, and exit."""
    guard = acquire(name, lock_dir=lock_dir)
    child = subprocess.Popen(["sleep", "60"], pass_fds=[guard.fd])
    say(pid=os.getpid(), heir=child.pid)
    os._exit(0)


def conflict(lock_dir: str, name: str) -> None:
    @singleton(name, lock_dir=lock_dir, exit_on_conflict=True)
    def run() -> None:
        say(ran=True)

    run()


def main() -> None:
    mode, lock_dir, name, *rest = sys.argv[1:]
    if mode == "race":
        race(lock_dir, name, int(rest[0]))
    elif mode == "hold":
        hold(lock_dir, name, rest)
    elif mode == "heir":
        heir(lock_dir, name)
    elif mode == "conflict":
        conflict(lock_dir, name)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
