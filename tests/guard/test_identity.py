"""The holder record, and judging it: liveness and PID reuse by process start time."""

from __future__ import annotations

import calendar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svcctl.guard import (
    AlreadyRunning,
    StartTime,
    _ps_start,
    acquire,
    judge,
    parse_lstart,
    parse_record,
    process_start,
    read_holder,
)
from tests.guard.support import PYTHON, Agent

HERE = os.path.dirname(__file__)


def test_the_holder_writes_who_it_is(lock_dir: str) -> None:
    before = time.time()
    with acquire("shiva", lock_dir=lock_dir) as guard, open(guard.path) as f:
        record = json.load(f)
    me = process_start(os.getpid())
    assert me is not None
    assert record["pid"] == os.getpid()
    assert record["start_token"] == me.token
    assert record["started"] == pytest.approx(me.epoch, abs=1)
    assert record["command"] == sys.orig_argv
    assert record["host"] == socket.gethostname()
    since = calendar.timegm(time.strptime(record["since"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before - 1 <= since <= time.time() + 1


def test_a_contender_names_a_live_holder(lock_dir: str) -> None:
    holder = Agent("hold", lock_dir, "shiva")
    try:
        holder.report()
        with pytest.raises(AlreadyRunning) as exc:
            acquire("shiva", lock_dir=lock_dir)
        h = exc.value.holder
        assert h is not None
        assert (h.pid, h.alive, h.same_process) == (holder.pid, True, True)
        assert h.command[:2] == (PYTHON, "-I")
        assert exc.value.exit_code == 75
        line = exc.value.one_line()
        assert "\n" not in line
        assert f"pid {holder.pid} " in line
        assert "(alive)" in line
        assert read_holder(exc.value.path) == h
    finally:
        holder.kill()


def test_a_dead_holder_whose_heir_keeps_the_lock_is_reported_gone(lock_dir: str) -> None:
    agent = Agent("heir", lock_dir, "shiva")
    report = agent.report()
    agent.proc.wait(timeout=10)
    agent.kill()
    try:
        with pytest.raises(AlreadyRunning) as exc:
            acquire("shiva", lock_dir=lock_dir)
        h = exc.value.holder
        assert h is not None
        assert (h.pid, h.alive, h.same_process) == (report["pid"], False, False)
        assert "pid gone" in exc.value.one_line()
    finally:
        os.kill(report["heir"], signal.SIGKILL)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare"
)
def test_a_reused_pid_is_not_mistaken_for_the_holder(lock_dir: str) -> None:
    out = subprocess.run(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            PYTHON,
            "-I",
            os.path.join(HERE, "pidreuse.py"),
            lock_dir,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr  # needs PID namespaces, as the testbed does
    report = json.loads(out.stdout)
    assert report["b"] == report["a"], "ns_last_pid did not hand A's pid to B"
    assert report["dead"] == report["dead"] | {"pid": report["a"], "alive": False}
    assert report["reused"] == report["reused"] | {"pid": report["a"], "alive": True, "same": False}
    assert "pid reused by another process" in report["reused"]["line"]
    assert report["after"] == {"won": True}


def test_ps_lstart_agrees_with_proc() -> None:
    if not os.path.exists("/proc/self/stat") or not shutil.which("ps"):
        pytest.skip("needs /proc and ps")
    from_proc = process_start(os.getpid())
    from_ps = _ps_start(os.getpid())  # the macOS path, run against procps here
    assert from_proc is not None and from_ps is not None
    assert abs(from_proc.epoch - from_ps.epoch) <= 1.0
    assert from_ps.token.startswith("lstart:")
    assert process_start(2**22 + 12345) is None


def test_parse_lstart() -> None:
    epoch = parse_lstart("Mon Nov 23 12:56:01 2026\n")
    assert epoch == time.mktime((2026, 11, 23, 12, 56, 1, 0, 0, -1))
    assert parse_lstart("") is None
    assert parse_lstart("ps: no such process") is None


RECORD = {
    "pid": 42,
    "started": 1000.0,
    "start_token": "ticks:500",
    "command": ["bot"],
    "host": "tess",
    "since": "2026-03-29T00:00:00Z",
}


@pytest.mark.parametrize(
    ("live", "alive", "same"),
    [
        (StartTime(1000.0, "ticks:500"), True, True),
        (StartTime(1000.2, "ticks:520"), True, False),  # same second, another process
        (None, False, False),  # no such pid
        (None, True, None),  # exists, but its start time is unreadable
        (StartTime(1000.0, "lstart:1000"), True, True),  # no comparable token: by time
        (StartTime(1090.0, "lstart:1090"), True, False),
    ],
)
def test_judge(live: StartTime | None, alive: bool, same: bool | None) -> None:
    h = judge(RECORD, live, alive)
    assert (h.pid, h.alive, h.same_process, h.command) == (42, alive, same, ("bot",))


@given(st.binary(max_size=300))
def test_parse_record_never_raises(data: bytes) -> None:
    record = parse_record(data)
    assert record is None or isinstance(record["pid"], int)


def test_parse_record_refuses_deep_nesting_and_impossible_pids() -> None:
    assert parse_record(b"[" * 100_000) is None  # RecursionError inside json
    for pid in (0, -1, 2**64):  # os.kill(0 / -1, 0) probes a group; 2**64 overflows
        assert parse_record(json.dumps({**RECORD, "pid": pid}).encode()) is None


def test_parse_record_tolerates_a_half_written_file() -> None:
    full = json.dumps(RECORD).encode()
    assert parse_record(full) == RECORD
    for cut in range(len(full)):
        assert parse_record(full[:cut]) is None
