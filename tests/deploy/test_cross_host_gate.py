"""Every command that starts something checks every host (issue 11).

`svcctl start` and adopt's start/kickstart pass the same cross-host gate as deploy
(`svcctl.ops.gate`): a copy on another inventory host, or one that cannot be reached,
refuses the start (exit 1, nothing started) unless the operator states `--fenced HOST`.
A label loaded in another domain of the host, idle or not, blocks start and deploy;
adopt boots it out.
"""

from __future__ import annotations

import json
import plistlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from svcctl.host.quote import quote
from svcctl.model import Domain, DomainKind, Finding, HostSpec, ServiceSpec, Verdict
from svcctl.ops.adopt import plan_adopt
from tests.conftest import Hosts
from tests.deploy.conftest import _make
from tests.service_kit import Service, Site
from tests.wait import wait_until

pytestmark = pytest.mark.testbed

DEAD = "dead"  # an inventory host nothing answers at: connection refused


@pytest.fixture
def svc(testbed: Site, tmp_path: Path) -> Iterator[Service]:
    """A service assigned to tesseract only, on the testbed (backup is the other host)."""
    made = _make(testbed, tmp_path, "gate", None)
    yield made
    made.cleanup()


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def deployed_then_stopped(svc: Service, **extra: Any) -> None:
    """Installed on tesseract (so a start has a plist to load), nothing running anywhere."""
    if extra:
        svc.write_inventory(**extra)
    rc, out = run(svc, "deploy", svc.name)
    assert rc == 0, out
    rc, out = run(svc, "stop", svc.name)
    assert rc == 0, out
    assert svc.pids() == [] and not svc.loaded()


def copy_on_backup(svc: Service) -> int:
    """A watchdog on backup "recovered" the service there, under launchd."""
    site = svc.site
    assert site.other is not None
    svc.bootstrap_by_hand(site.other)
    pid = wait_until(lambda: svc.launchd_pid(site.other))
    assert svc.pids(site.other) == [pid]
    return int(pid)


def with_dead_host(svc: Service) -> None:
    """A third inventory host, not assigned, that cannot be reached."""
    doc = yaml.safe_load(svc.inventory.read_text())
    doc["hosts"][DEAD] = {"domain": f"user/{svc.site.uid}", "home": svc.site.home,
                          "hostname": "127.0.0.1", "port": 1}
    svc.inventory.write_text(yaml.safe_dump(doc))


# -- pure: adopt's plan boots out the label wherever else it is loaded -----------------

SVC = ServiceSpec("shiva", "com.example.shiva", ("tesseract",), ("/usr/bin/python3", "/x.py"))
USER = Domain(DomainKind.USER, 501)


def test_plan_adopt_boots_out_idle_copies_in_other_domains() -> None:
    gui = "gui/501/com.example.shiva"
    idle = Finding("shiva", "tesseract", Verdict.DUPLICATE, elsewhere=(gui,))
    plan = plan_adopt(SVC, HostSpec("tesseract", USER, home="/Users/ops"), idle)
    assert plan.bootouts == (gui,) and plan.ensure == "start"
    assert "check that no other inventory host runs shiva" in plan.steps[-1].action
    # not assigned: the other domains and its own
    backup = plan_adopt(SVC, HostSpec("backup", USER, home="/Users/ops"),
                        Finding("shiva", "backup", Verdict.UNEXPECTED, elsewhere=(gui,),
                                job=None))
    assert backup.bootouts == (gui,) and backup.ensure == "none"


# -- (a) start refuses while another host runs a copy ----------------------------------

def test_start_refuses_while_a_copy_runs_on_another_host(svc: Service) -> None:
    deployed_then_stopped(svc)
    other = copy_on_backup(svc)
    rc, out = run(svc, "start", svc.name, "--host", "tesseract")
    assert rc == 1, out
    assert "refusing to start on tesseract" in out and "on backup" in out, out
    assert f"svcctl adopt {svc.name} --host backup" in out, out
    assert svc.pids() == [] and not svc.loaded()  # nothing started on tesseract
    assert svc.pids("backup") == [other]  # and nothing touched on backup


def test_restart_refuses_while_a_copy_runs_on_another_host(svc: Service) -> None:
    rc, out = run(svc, "deploy", svc.name)
    assert rc == 0, out
    before = svc.launchd_pid()
    other = copy_on_backup(svc)
    rc, out = run(svc, "restart", svc.name, "--yes")
    assert rc == 1, out
    assert "refusing to deploy to tesseract, nothing changed" in out and "on backup" in out
    assert svc.launchd_pid() == before and svc.pids() == [before]  # not even stopped
    assert svc.pids("backup") == [other]


# -- (b) adopt's start and kickstart pass the same gate --------------------------------

@pytest.mark.parametrize("ensure", ["start", "kickstart"])
def test_adopt_does_not_start_while_a_copy_runs_on_another_host(svc: Service,
                                                                 ensure: str) -> None:
    if ensure == "start":
        deployed_then_stopped(svc)  # job not loaded: adopt would bootstrap it
    else:
        # no KeepAlive: once its process is gone the job stays loaded, idle
        svc.write_inventory(keep_alive=False)
        rc, out = run(svc, "deploy", svc.name)
        assert rc == 0, out
        pid = svc.launchd_pid()
        svc.site.sh(svc.site.main, f"kill {pid}")
        wait_until(lambda: svc.pids() == [] and svc.launchd_pid() is None)
        assert svc.loaded()
    stray = svc.start_stray()  # adopt still removes it: removing is always safe
    other = copy_on_backup(svc)
    rc, doc = svc.json("adopt", svc.name, "--host", "tesseract", "--yes", "--grace", "1")
    (h,) = doc["hosts"]
    assert rc == 1 and h["outcome"] == "refused", doc
    assert "on backup" in h["error"] and "refusing to start on tesseract" in h["error"], doc
    steps = [s["step"] for s in h["steps"]]
    assert "gate" in steps and "start" not in steps, steps
    assert stray not in svc.pids() and svc.pids() == []  # nothing started on tesseract
    assert svc.launchd_pid() is None
    assert svc.pids("backup") == [other]
    # the plan says so up front
    rc, planned = svc.json("adopt", svc.name, "--host", "tesseract", "--dry-run")
    assert rc == 0 and planned["hosts"][0]["plan"][-1]["action"].startswith(
        "check that no other inventory host runs"), planned


# -- (c) the label idle in another domain of the host ----------------------------------

def test_label_idle_in_gui_domain_blocks_start_and_deploy_and_adopt_boots_it_out(
        svc: Service, hosts: Hosts) -> None:
    site = svc.site
    deployed_then_stopped(svc)
    gui = f"gui/{site.uid}/{svc.label}"
    path = f"{site.home}/{svc.name}-gui.plist"  # not an auto-load place: only this bootstrap
    site.put(site.main, path, plistlib.dumps({
        "Label": svc.label,
        "ProgramArguments": ["/usr/bin/python3", svc.script, "v1", "run"],
    }).decode())  # no RunAtLoad, no KeepAlive: loaded, idle
    hosts.tb.set_console(site.main, True)
    try:
        site.sh(site.main, f"launchctl bootstrap gui/{site.uid} {quote(path)}")
        assert site.sh(site.main, f"launchctl print {gui}").returncode == 0
        assert svc.pids() == []  # idle

        rc, out = run(svc, "start", svc.name)
        assert rc == 1, out
        assert f"also loaded in {gui}" in out and f"svcctl adopt {svc.name}" in out, out
        assert svc.pids() == [] and not svc.loaded()  # nothing started

        rc, out = run(svc, "deploy", svc.name)
        assert rc == 1, out
        assert svc.pids() == [] and not svc.loaded()

        rc, out = run(svc, "adopt", svc.name, "--yes", "--grace", "1")
        assert rc == 0, out
        assert "tesseract: adopted" in out and f"bootout {gui}" in out, out
        assert site.sh(site.main, f"launchctl print {gui}", check=False).returncode != 0
        rc, doc = svc.json("status", svc.name)
        verdicts = {h["host"]: [f["verdict"] for f in h["services"]] for h in doc["hosts"]}
        assert verdicts["tesseract"] == ["ok"], json.dumps(doc, indent=1)
        assert svc.pids() == [svc.launchd_pid()]
    finally:
        hosts.tb.set_console(site.main, False)
        site.sh(site.main, f"rm -f {quote(path)}", check=False)


# -- (d) an unreachable host blocks, unless the operator states it is fenced -----------

def test_unreachable_host_blocks_start_unless_stated_fenced(svc: Service) -> None:
    deployed_then_stopped(svc)
    with_dead_host(svc)
    rc, out = run(svc, "start", svc.name)
    assert rc == 1, out
    assert f"unreachable {DEAD}" in out and f"--fenced {DEAD}" in out, out
    assert svc.pids() == [] and not svc.loaded()

    rc, out = run(svc, "start", svc.name, "--fenced", "nosuchhost")
    assert rc == 2 and "unknown host 'nosuchhost'" in out, out

    rc, doc = svc.json("start", svc.name, "--fenced", DEAD)
    (h,) = doc["hosts"]
    assert rc == 0 and h["outcome"] == "started", doc
    (gate,) = [s for s in h["steps"] if s["step"] == "gate"]
    # the statement is recorded in the report, with what was checked
    assert f"{DEAD} unreachable: stated powered off or cut off" in gate["detail"], gate
    assert "runs on backup" in gate["detail"], gate
    assert svc.pids() == [svc.launchd_pid()]
