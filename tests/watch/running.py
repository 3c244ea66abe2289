"""`svcctl watch` run as a user runs it: a subprocess whose event lines and log lines are
read as they come, each with the time it arrived, and its /metrics scraped over HTTP."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.service_kit import ROOT, svcctl_argv
from tests.wait import wait_until


class Watcher:
    """One `svcctl watch` process. `events`: (arrival time, event) for every stdout line."""

    def __init__(self, inventory: Path, *args: str, metrics_port: int | None = None) -> None:
        self.metrics_port = metrics_port
        extra = ["--metrics", f"127.0.0.1:{metrics_port}"] if metrics_port else []
        self.proc = subprocess.Popen(
            svcctl_argv("watch", "-i", str(inventory), *extra, *args), cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.lines: list[str] = []  # stdout, raw
        self.log: list[str] = []  # stderr
        self._readers = [threading.Thread(target=self._read_events, daemon=True),
                         threading.Thread(target=self._read_log, daemon=True)]
        for t in self._readers:
            t.start()
        wait_until(lambda: any("watching" in line for line in self.log) or self.proc.poll()
                   is not None, timeout=30)
        assert self.proc.poll() is None, self.stderr

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self.events.append((time.time(), json.loads(line)))

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.log)

    def event(self, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0,
              ) -> tuple[float, dict[str, Any]]:
        """The first event (arrival time, event) that matches, waiting for it."""
        def look() -> tuple[float, dict[str, Any]] | None:
            hit = next(((t, e) for t, e in list(self.events) if match(e)), None)
            if hit is None and self.proc.poll() is not None:
                raise AssertionError(f"watch exited {self.proc.returncode}: {self.stderr}")
            return hit

        return wait_until(look, timeout=timeout, interval=0.02)

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert reply.status == 200
            text: str = reply.read().decode()
            return text

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the exit took."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        for t in self._readers:
            t.join(5)
        return rc, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def sample(text: str, family: str, **labels: str) -> float | None:
    """One sample's value from Prometheus text, by its labels (all of them, any order)."""
    for m in re.finditer(rf"^{family}\{{([^}}]*)\}} (\S+)$", text, re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if got == labels:
            return float(m.group(2))
    return None


def no_traceback(log: str) -> None:
    assert "Traceback" not in log and "internal error" not in log, log
    for line in log.splitlines():
        assert line.startswith("svcctl watch: "), line
