#!/usr/bin/env python3
"""shiva: a stand-in for a stateful trading bot, for svcctl's demo and runbooks.

It "trades" on a timer: each tick appends a line to its log and refreshes a
heartbeat file. SIGTERM makes it finish the tick and exit 0, as launchd.plist(5)
asks. `main.py --health` exits 0 when the heartbeat is fresh (the health check
svcctl deploy runs on the host). Standard library only: it runs on the Mac's
/usr/bin/python3.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEARTBEAT = HERE / "heartbeat"
VERSION = (HERE / "VERSION").read_text().strip() if (HERE / "VERSION").exists() else "dev"
TICK = float(os.environ.get("SHIVA_TICK", "1"))


def health() -> int:
    try:
        age = time.time() - HEARTBEAT.stat().st_mtime
    except FileNotFoundError:
        print("no heartbeat yet")
        return 1
    print(f"heartbeat {age:.1f}s old")
    return 0 if age < 5 * TICK + 5 else 1


def main() -> int:
    if sys.argv[1:] == ["--health"]:
        return health()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    mode = os.environ.get("SHIVA_MODE", "paper")
    print(f"shiva {VERSION} pid {os.getpid()} mode {mode}: started", flush=True)
    while not stopping:
        HEARTBEAT.touch()
        print(f"shiva {VERSION} pid {os.getpid()}: tick", flush=True)
        time.sleep(TICK)
    print(f"shiva {VERSION} pid {os.getpid()}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
