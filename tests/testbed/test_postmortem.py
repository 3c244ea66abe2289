"""A failed test's report names the simulated hosts that are down, with their logs
(tests/postmortem.py), and says nothing of hosts that are up. Run for real: a nested
pytest with that hook, a testbed of two hosts, one of which loses its PID 1 to a SIGTERM
from outside, as a host did in CI (tests/emulator/test_spawn_signals.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.testbed

ROOT = Path(__file__).resolve().parents[2]

_INNER = '''
import os, signal, time
import pytest
from svcctl_testbed.control import Testbed

@pytest.fixture(scope="module")
def tb(tmp_path_factory):
    tb = Testbed(tmp_path_factory.mktemp("pm"))
    tb.up(["alive", "gone"])
    yield tb
    tb.down()

def test_fails_with_every_host_up(tb):
    assert False, "first failure"

def test_fails_after_a_host_went_down(tb):
    (gone,) = [s.record for s in tb.status() if s.record.name == "gone"]
    os.kill(gone.pid, signal.SIGTERM)  # launchd stops every job, then exits
    deadline = time.monotonic() + 30
    while any(s.running for s in tb.status() if s.record.name == "gone"):
        assert time.monotonic() < deadline, "the host did not go down"
        time.sleep(0.1)
    assert False, "second failure"
'''


def test_a_failed_test_shows_the_hosts_that_are_down(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(_INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.postmortem",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
         "--basetemp", str(tmp_path / "base"), str(tmp_path / "test_inner.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert "2 failed" in out, out + proc.stderr
    # one section, in the second test's report: the first failed with both hosts up
    assert out.count("testbed hosts (call)") == 1, out
    first, second = out.split("first failure", 1)[1], out.split("second failure", 1)[1]
    assert "testbed hosts" not in first.split("second failure")[0], out
    section = second.split("testbed hosts (call)", 1)[1]
    assert "host gone (" in section and "PID 1 is gone: the host is down" in section, out
    assert "launchd.log:" in section and "SIGTERM: stopping every job" in section, out
    assert "host alive" not in out, out
