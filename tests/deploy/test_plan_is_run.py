"""A plan is data that runs (issue 12): for every deploy-family command, what `--dry-run`
prints is the plan a real run records, and the steps the real run records are that plan's
steps, in its order.

Each command runs through the CLI with `--json` against a simulated host, first with
`--dry-run`, then for real from the same state. Nothing between the two changes the host.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service_kit import Service

pytestmark = pytest.mark.testbed


def _plan(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["step"], p["action"]) for p in host["plan"]]


def _ran(svc: Service, *args: str) -> dict[str, Any]:
    """Dry run, then the real run; the real run's host report, after checking that its
    plan is the dry run's and that its records follow that plan."""
    rc, dry = svc.json(*args, "--dry-run")
    assert rc == 0, dry
    (planned,) = dry["hosts"]
    assert planned["outcome"] == "planned" and planned["plan"], planned
    rc, real = svc.json(*args)
    assert rc == 0, real
    (done,) = real["hosts"]
    assert _plan(done) == _plan(planned), (args, done["plan"], planned["plan"])
    return done


def _recorded(host: dict[str, Any]) -> list[str]:
    return [s["step"] for s in host["steps"]]


def test_deploy_restart_stop_start_run_what_their_dry_run_prints(service: Service) -> None:
    svc = service
    first = _ran(svc, "deploy", svc.name)  # first deploy: not loaded, nothing installed
    assert first["outcome"] == "deployed"
    assert _recorded(first) == [k for k, _ in _plan(first)]
    assert any("no previous version (first deploy)" in a for _, a in _plan(first))

    again = _ran(svc, "deploy", svc.name)  # loaded: the plan says bootout and .previous
    assert _recorded(again) == [k for k, _ in _plan(again)]
    assert any(k == "stop" and "launchctl bootout" in a for k, a in _plan(again))

    restart = _ran(svc, "restart", svc.name)
    assert restart["outcome"] == "restarted" and "upload" not in _recorded(restart)
    assert _recorded(restart) == [k for k, _ in _plan(restart)]

    stop = _ran(svc, "stop", svc.name)
    assert stop["outcome"] == "stopped" and _recorded(stop) == [k for k, _ in _plan(stop)]
    assert svc.pids() == [] and not svc.loaded()

    start = _ran(svc, "start", svc.name)
    assert start["outcome"] == "started"
    assert _recorded(start) == [k for k, _ in _plan(start)] == [
        "lock", "survey", "gate", "start", "verify", "unlock"]
    assert len(svc.pids()) == 1 and svc.launchd_pid() in svc.pids()

    # already running alone: the plan says there is nothing to start, and the run skips it
    idle = _ran(svc, "start", svc.name)
    skipped = [s for s in idle["steps"] if s["step"] == "start"]
    assert [s["outcome"] for s in skipped] == ["skipped"], idle
    assert _recorded(idle) == [k for k, _ in _plan(idle)]


def test_adopt_runs_what_its_dry_run_prints(service: Service) -> None:
    svc = service
    assert svc.svcctl("deploy", svc.name).returncode == 0
    stray = svc.start_stray()
    done = _ran(svc, "adopt", svc.name, "--yes", "--grace", "1")
    assert done["outcome"] == "adopted" and stray not in svc.pids()
    plan = [k for k, _ in _plan(done)]
    assert plan == ["kill", "recheck", "ensure"], plan
    assert any(str(stray) in a for k, a in _plan(done) if k == "kill")
    # adopt's plan is the changes; the record adds the lock and the survey around them,
    # and the `ensure` step records its parts (launchd's instance runs: verify only)
    assert _recorded(done) == ["lock", "survey", "kill", "recheck", "verify", "unlock"]


def test_fence_runs_what_its_dry_run_prints(service: Service) -> None:
    svc = service
    assert svc.svcctl("deploy", svc.name).returncode == 0
    other = svc.site.other
    assert other is not None
    svc.hosts = [other]  # moved away in the inventory: the old host is now to be fenced
    svc.write_inventory()
    done = _ran(svc, "fence", svc.name, "--host", svc.site.main)
    assert done["outcome"] == "fenced" and svc.pids() == []
    assert _recorded(done) == [k for k, _ in _plan(done)] == [
        "lock", "survey", "bootout", "disable", "move", "record", "prove", "unlock"]
