"""What a person at a terminal sees: the confirmation prompts and `logs -f`.

The prompts are answered through a real pseudo-terminal, as a person types them;
`logs -f` follows a real file on the host over SSH and stops on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from tests.service_kit import ROOT, Service, wait_line
from tests.wait import wait_until

pytestmark = pytest.mark.testbed


class Terminal:
    """svcctl run with its stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                                     env={**os.environ, "COLUMNS": "200"})
        os.close(slave)
        self.seen = ""

    def expect(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"{needle!r} never shown:\n{self.seen}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the other end closed: svcctl exited
                chunk = b""
            if not chunk:
                raise AssertionError(f"{needle!r} never shown before exit:\n{self.seen}")
            self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 120) -> int:
        rc = self.proc.wait(timeout=timeout)
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        os.close(self.master)
        return rc


def test_deploy_at_a_terminal_shows_the_plan_and_no_changes_nothing(service: Service) -> None:
    assert service.svcctl("deploy", service.name, "--yes").returncode == 0
    before = service.launchd_pid()
    service.write_inventory("v2")
    term = Terminal(service.argv("deploy", service.name))
    term.expect("Proceed? [y/N]:")
    term.type("n\n")
    assert term.finish() == 1, term.seen
    assert "stop" in term.seen and "start" in term.seen, term.seen  # the plan was shown
    assert service.launchd_pid() == before and service.versions() == ["v1"]


def test_deploy_at_a_terminal_goes_ahead_on_yes(service: Service) -> None:
    assert service.svcctl("deploy", service.name, "--yes").returncode == 0
    service.write_inventory("v2")
    term = Terminal(service.argv("deploy", service.name))
    term.expect("Proceed? [y/N]:")
    term.type("y\n")
    assert term.finish() == 0, term.seen
    assert service.versions() == ["v2"]


def test_deploy_without_a_terminal_and_without_yes_does_not_prompt(service: Service) -> None:
    # CI has no terminal: deploy goes ahead, as documented (README, exit codes)
    proc = service.svcctl("deploy", service.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Proceed?" not in proc.stdout + proc.stderr
    assert service.versions() == ["v1"]


def test_adopt_at_a_terminal_kills_the_stray_only_on_yes(service: Service) -> None:
    assert service.svcctl("deploy", service.name, "--yes").returncode == 0
    managed = service.launchd_pid()
    stray = service.start_stray(version="v0")
    term = Terminal(service.argv("adopt", service.name))
    term.expect("Proceed? [y/N]:")
    assert f"pid {stray}" in term.seen, term.seen
    term.type("\n")  # the default is no
    assert term.finish() == 1, term.seen
    assert service.pids() == sorted([managed, stray])

    term = Terminal(service.argv("adopt", service.name))
    term.expect("Proceed? [y/N]:")
    term.type("y\n")
    assert term.finish() == 0, term.seen
    assert service.pids() == [managed]


def test_adopt_without_a_terminal_and_without_yes_changes_nothing(service: Service) -> None:
    assert service.svcctl("deploy", service.name, "--yes").returncode == 0
    managed = service.launchd_pid()
    stray = service.start_stray(version="v0")
    proc = service.svcctl("adopt", service.name)
    assert proc.returncode == 1 and "rerun with --yes" in proc.stderr, proc.stderr
    assert service.pids() == sorted([managed, stray])


def test_logs_follow_prints_new_lines_and_stops_on_ctrl_c(service: Service) -> None:
    assert service.svcctl("deploy", service.name, "--yes").returncode == 0
    log = f"{service.site.home}/{service.name}.log"
    wait_until(lambda: "started v1" in service.site.sh(service.site.main, f"cat {log}").stdout)
    proc = service.spawn("logs", service.name, "-f", "-n", "5")
    try:
        wait_line(proc, "started v1")
        marker = f"marker-{time.time_ns()}"
        service.site.sh(service.site.main, f"echo {marker} >> {log}")
        wait_line(proc, marker, timeout=30)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
