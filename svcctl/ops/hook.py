"""`svcctl watch --on-change CMD`: the command run once per event, in order, in a thread of
its own so that a slow or hung hook never stalls probing. Each run is `/bin/sh -c CMD` in
a session of its own (so a timeout kills the shell and its children, and nothing else),
with the event's JSON on stdin and `Event.env()` in its environment; its stdout goes to
our stderr, because stdout carries the events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from queue import SimpleQueue

from svcctl.watch.state import Event

Log = Callable[[str], None]


class HookRunner:
    """`--on-change`: CMD through /bin/sh per event, in order, in a thread of its own; the
    event on stdin and in the environment, its stdout to our stderr (stdout is events)."""

    def __init__(self, command: str, timeout: float, log: Log) -> None:
        self.command, self.timeout, self._log = command, timeout, log
        self._queue: SimpleQueue[Event | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="watch-hook", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> None:
        self._queue.put(event)

    def close(self, timeout: float) -> None:
        """Run what is queued (each run within its own timeout), up to `timeout` in all."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._log("--on-change: exiting with hook runs still queued")

    def _loop(self) -> None:
        while (event := self._queue.get()) is not None:
            why = self.run(event)
            if why:
                self._log(f"--on-change failed for the {event.kind} event of {event.host}"
                          f"{'/' + event.service if event.service else ''}: {why}")

    def run(self, event: Event) -> str | None:
        """One run; None when it exited 0, else why not."""
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE,
                                    stdout=2, env={**os.environ, **event.env()},
                                    start_new_session=True)
        except OSError as exc:
            return f"cannot run /bin/sh: {exc.strerror or exc}"
        try:
            proc.communicate((event.to_json() + "\n").encode(), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its session: the shell and its children
            proc.wait()
            return f"killed after {self.timeout:g} s"
        return None if proc.returncode == 0 else f"exited {proc.returncode}"
