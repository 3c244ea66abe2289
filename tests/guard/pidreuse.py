"""Real PID reuse, run as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`).

A takes the lock, hands the descriptor to a `sleep` heir and exits; then B, an unrelated
process, is given A's pid through /proc/sys/kernel/ns_last_pid. A contender must report
the recorded pid first as gone, then as alive but not the same process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from svcctl.guard import AlreadyRunning, acquire


def contender(lock_dir: str) -> dict[str, object]:
    try:
        acquire("shiva", lock_dir=lock_dir).release()
    except AlreadyRunning as exc:
        h = exc.holder
        assert h is not None
        return {"pid": h.pid, "alive": h.alive, "same": h.same_process, "line": exc.one_line()}
    return {"won": True}


def main() -> None:
    lock_dir = sys.argv[1]
    r, w = os.pipe()
    a = os.fork()
    if a == 0:
        guard = acquire("shiva", lock_dir=lock_dir, command=["holder-a"])
        sleeper = subprocess.Popen(["sleep", "60"], pass_fds=[guard.fd])
        os.write(w, str(sleeper.pid).encode())
        os._exit(0)
    os.close(w)
    heir = int(os.read(r, 32))
    os.waitpid(a, 0)  # A is gone and reaped: its pid is free
    report: dict[str, object] = {"a": a, "dead": contender(lock_dir)}
    time.sleep(0.05)  # B must start at a later clock tick than A did
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(a - 1))
    b = subprocess.Popen(["sleep", "60"])
    report["b"] = b.pid
    report["reused"] = contender(lock_dir)
    b.kill()
    b.wait()
    os.kill(heir, 9)
    os.waitpid(heir, 0)
    report["after"] = contender(lock_dir)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
