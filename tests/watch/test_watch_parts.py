"""svcctl watch's parts without hosts: durations and ADDR:PORT, the backoff, the hook
(real /bin/sh, real timeouts), and bad input on the command line (exit 2, one line)."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from svcctl.cli.watch import parse_duration, parse_listen
from svcctl.errors import BadInputError
from svcctl.ops.hook import HookRunner
from svcctl.ops.watch import backoff
from svcctl.watch.state import Event
from tests.service_kit import svcctl
from tests.wait import wait_until
from tests.watch.running import Watcher, no_traceback

EVENT = Event("verdict", "tesseract", "shiva", 1_800_000_000.0, "duplicate", "ok",
              "ok -> duplicate: a stray", pids=(4242,))


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("45", 45.0), ("1.5", 1.5), (" 2s ", 2.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration("--interval", text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-1", "3x", "1d", "m", "1 h", "1e3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadInputError, match="--interval"):
        parse_duration("--interval", text)


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", ":9464", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "h:x"):
        with pytest.raises(BadInputError, match="ADDR:PORT"):
            parse_listen(bad)


def test_backoff_doubles_from_one_interval_capped_and_jittered_down() -> None:
    assert [backoff(n, 2.0, 60.0, 0.0) for n in range(1, 8)] == [0, 2, 4, 8, 16, 32, 60]
    assert backoff(4, 2.0, 60.0, 0.999) == pytest.approx(4.0, abs=0.01)  # half at most
    assert backoff(100, 2.0, 60.0, 0.0) == 60.0  # no overflow after a long outage


def _hook(command: str, timeout: float = 10.0) -> tuple[HookRunner, list[str]]:
    logs: list[str] = []
    return HookRunner(command, timeout, logs.append), logs


def test_the_hook_gets_the_event_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "got"
    runner, logs = _hook(f'cat > {out}; printf "%s|%s|%s" "$SVCCTL_EVENT_KIND" '
                         f'"$SVCCTL_HOST" "$SVCCTL_PIDS" > {out}.env')
    assert runner.run(EVENT) is None
    assert json.loads(out.read_text()) == json.loads(EVENT.to_json())
    assert Path(f"{out}.env").read_text() == "verdict|tesseract|4242"
    runner.close(5)
    assert logs == []


def test_a_failing_hook_is_one_log_line_and_the_next_event_still_runs(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    runner, logs = _hook(f'echo "$SVCCTL_HOST" >> {out}; exit 3')
    other = Event("reachable", "backup", None, 1_800_000_001.0, None, None, "answers again")
    runner.submit(EVENT)
    runner.submit(other)
    runner.close(10)
    assert out.read_text().split() == ["tesseract", "backup"]  # in order
    assert logs == ["--on-change failed for the verdict event of tesseract/shiva: exited 3",
                    "--on-change failed for the reachable event of backup: exited 3"]


def test_a_slow_hook_is_killed_with_its_children_at_its_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    runner, _ = _hook(f"sleep 30 & echo $! > {pidfile}; wait", timeout=2)
    start = time.monotonic()
    assert runner.run(EVENT) == "killed after 2 s"
    assert time.monotonic() - start < 6
    child = int(pidfile.read_text())

    def gone() -> bool:
        try:
            return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"
        except FileNotFoundError:
            return True

    wait_until(gone, timeout=5)  # SIGKILL is delivered at once, the exit soon after
    runner.close(1)


def test_submitting_never_waits_for_the_hook() -> None:
    runner, _ = _hook("sleep 2")
    start = time.monotonic()
    for _ in range(3):
        runner.submit(EVENT)
    assert time.monotonic() - start < 0.5
    runner.close(0.1)


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"hosts": {"h1": {"domain": "user/501"}},
                               "services": {"s": {"label": "com.example.s", "hosts": ["h1"],
                                                  "program": ["/bin/true"]}}}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, words in [
            (["--interval", "3x"], "--interval '3x': not a duration"),
            (["--renotify", "0"], "--renotify '0': not a duration"),
            (["--metrics", "9464"], "expected ADDR:PORT"),
            (["--metrics", f"127.0.0.1:{port}"], "cannot listen"),
            (["--host", "nosuch"], "unknown host 'nosuch'"),
        ]:
            r = svcctl("watch", "-i", str(inv), *args, timeout=30)
            assert (r.returncode, r.stdout) == (2, ""), (args, r.stderr)
            assert r.stderr.count("\n") == 1 and words in r.stderr, (args, r.stderr)
    r = svcctl("watch", "-i", str(tmp_path / "missing.yaml"), timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


def test_a_host_that_never_answers_is_one_event_after_grace_and_sigint_exits_0(
        tmp_path: Path) -> None:
    """No testbed needed: nothing listens on 127.0.0.1's port 1."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({
        "hosts": {"nowhere": {"domain": "user/501", "hostname": "127.0.0.1", "port": 1}},
        "services": {"s": {"label": "com.example.s", "hosts": ["nowhere"],
                           "program": ["/bin/true"]}}}))
    w = Watcher(inv, "--interval", "0.2", "--grace", "3")
    try:
        _, event = w.event(lambda e: True)
        time.sleep(1.0)  # more failed cycles: told once
        w.signal(signal.SIGINT)
        assert w.proc.wait(10) == 0, w.stderr
    finally:
        w.kill()
    assert len(w.events) == 1, w.lines
    assert (event["kind"], event["host"], event["service"]) == ("unreachable", "nowhere", None)
    assert "127.0.0.1:1" in event["detail"]
    assert w.stderr.count("nowhere: cannot reach it: ") == 1, w.stderr
    no_traceback(w.stderr)
