"""The `--json` shapes of deploy and adopt are a contract: fields are only ever added."""

from __future__ import annotations

import pytest

from tests.service_kit import Service

pytestmark = pytest.mark.testbed

# issue 11 added (never renamed): fences, acknowledged; per host reboot; per finding the
# audit's elsewhere, plists, fence, reboot
TOP = {"schema", "command", "service", "label", "dry_run", "exit_code", "hosts", "fences",
       "acknowledged"}
HOST = {"host", "outcome", "exit_code", "error", "plan", "steps", "rollback", "final",
        "reboot",
        "release"}  # issue 13, additive: the release deployed
STEP = {"step", "outcome", "duration_s", "detail"}
PLAN = {"step", "action"}
ROLLBACK = {"outcome", "detail", "steps"}
FINAL = {"service", "label", "verdict", "launchd_pid", "launchd_state", "instances",
         "detail", "next", "elsewhere", "plists", "fence", "reboot",
         "current_release"}  # issue 13, additive: audit's finding, as in svcctl.audit/1
INSTANCE = {
    "pid", "ppid", "user", "uid", "started", "command", "managed", "owner", "reason", "release",
}


def test_deploy_json_contract(service: Service) -> None:
    rc, doc = service.json("deploy", service.name)
    assert rc == 0 and doc["exit_code"] == 0
    assert set(doc) == TOP and doc["schema"] == "svcctl.deploy/1"
    (h,) = doc["hosts"]
    assert set(h) == HOST and h["outcome"] == "deployed" and h["rollback"] is None
    assert doc["fences"] == [] and doc["acknowledged"] == []
    # user/<uid>: deploy says up front that launchd will not bring it back (issue 11)
    assert h["reboot"]["returns"] is False and "domain: system" in h["reboot"]["why"]
    assert [s["step"] for s in h["steps"]] == ["lock", "preflight", "upload", "stop", "start",
                                              "verify", "unlock"]
    assert all(set(s) == STEP and s["outcome"] == "ok" for s in h["steps"])
    assert all(set(p) == PLAN for p in h["plan"])
    assert set(h["final"]) == FINAL and h["final"]["verdict"] == "ok"
    (inst,) = h["final"]["instances"]
    assert set(inst) == INSTANCE and inst["managed"] is True
    assert inst["pid"] == h["final"]["launchd_pid"] == service.launchd_pid()

    service.write_inventory("v2", "crash")
    rc, doc = service.json("deploy", service.name)
    (h,) = doc["hosts"]
    assert rc == 3 and doc["exit_code"] == 3 and h["outcome"] == "rolled-back"
    assert "crash loop" in h["error"]
    assert set(h["rollback"]) == ROLLBACK and h["rollback"]["outcome"] == "restored"
    assert [s["step"] for s in h["rollback"]["steps"]] == [
        "rollback-restore", "rollback-stop", "rollback-start", "rollback-verify"]
    assert h["final"]["verdict"] == "ok"

    rc, doc = service.json("deploy", service.name, "--dry-run")
    (h,) = doc["hosts"]
    assert rc == 0 and doc["dry_run"] is True and h["outcome"] == "planned"
    assert [p["step"] for p in h["plan"]] == ["lock", "preflight", "upload", "stop", "start",
                                             "verify", "unlock"]


def test_adopt_json_contract(service: Service) -> None:
    assert service.svcctl("deploy", service.name).returncode == 0
    stray = service.start_stray()
    rc, doc = service.json("adopt", service.name, "--dry-run")
    assert rc == 0 and doc["schema"] == "svcctl.adopt/1"
    (h,) = doc["hosts"]
    assert set(h) == {"host", "outcome", "exit_code", "error", "plan", "steps", "final"}
    assert h["outcome"] == "planned" and any(str(stray) in p["action"] for p in h["plan"])
    assert h["final"]["verdict"] == "duplicate"
    rc, doc = service.json("adopt", service.name, "--yes", "--grace", "1")
    (h,) = doc["hosts"]
    assert rc == 0 and h["outcome"] == "adopted" and h["final"]["verdict"] == "ok"
    assert [s["step"] for s in h["steps"]][-2:] == ["verify", "unlock"]
