"""README's first command: `svcctl demo` tells the whole story and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.testbed


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "demo", "--dir", str(workdir)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    out = proc.stdout
    for command in ("$ svcctl audit  # exit 1", "$ svcctl deploy shiva --yes  # exit 1",
                    "$ svcctl adopt shiva --host tesseract --yes", "$ svcctl testbed down"):
        assert command in out
    assert "NOT AS NARRATED" not in out
    assert out.rstrip().endswith("demo: every step behaved as narrated")
    # without --keep the hosts are gone
    state = (workdir / ".testbed" / "state.json").read_text()
    assert '"hosts": {}' in state


def test_demo_fails_loudly_when_a_step_misbehaves(tmp_path: Path) -> None:
    from svcctl_testbed.demo.script import Step, environment, run_steps

    lines: list[str] = []
    outcomes = run_steps([Step("echo hi", 0, ("hi",)), Step("false", 0), Step("echo never")],
                         tmp_path, environment(tmp_path), lines.append)
    assert [o.ok for o in outcomes] == [True, False]  # stops at the first misbehaving step
    assert any("NOT AS NARRATED: expected exit 0, got 1" in line for line in lines)
