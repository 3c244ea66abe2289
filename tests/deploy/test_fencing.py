"""Fenced moves and reboot safety (issue 11): a service never comes back where it no
longer belongs, and never twice.

Each scenario runs through the CLI as a user types it, on the two simulated hosts, with a
sampler over every host's process table for the whole scenario, and ends by rebooting
every host without and with a console session. After each reboot, audit holds: nothing
runs where it is not assigned, and nothing runs twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from svcctl.host.quote import quote
from tests.conftest import Hosts
from tests.deploy.reboot import FleetSampler, headless_after, reboot
from tests.service_kit import SERVICE_PY, Service, Site

pytestmark = pytest.mark.testbed
BOTH = ("tesseract", "backup")
SYSTEM_FENCED = "/Library/Application Support/svcctl/fenced"


def _finding(doc: dict[str, Any], host: str, service: str) -> dict[str, Any] | None:
    for h in doc["hosts"]:
        if h["host"] == host:
            return next((f for f in h["services"] if f["service"] == service), None)
    raise AssertionError(f"{host} not in the audit: {doc}")


def _audit(svc: Service) -> tuple[int, dict[str, Any]]:
    return svc.json("audit")


def _move(svc: Service, to: list[str], **extra: Any) -> None:
    svc.hosts = to
    svc.write_inventory(**extra)


def _counts(svc: Service) -> dict[str, int]:
    return {name: len(svc.pids(name)) for name in BOTH}


def _reboot_all_and_check(hosts: Hosts, svc: Service, *, expect: dict[str, int]) -> None:
    """Reboot both hosts headless, then with a console: each time, the instances counted
    on each host are `expect` (and stay so), and audit says no host runs it where it is
    not assigned."""
    for console in (False, True):
        for name in BOTH:
            reboot(hosts, name, console=console)
        deadline = time.monotonic() + 10  # launchd spawns at load; give the boot a moment
        while _counts(svc) != expect and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.0)  # a console login's agents would have started by now
        assert _counts(svc) == expect, (console, _counts(svc))
        _, doc = _audit(svc)  # exits 1 where an assigned user/501 job did not come back
        for name in BOTH:
            f = _finding(doc, name, svc.name)
            if name not in svc.hosts:  # never had it (hidden), or fenced: nothing runs
                assert f is None or f["verdict"] == "fenced", (console, f)
            elif expect[name]:
                assert f is not None and f["verdict"] == "ok", (console, f)


@pytest.fixture
def user_service(testbed: Site, tmp_path: Path, hosts: Hosts) -> Iterator[Service]:
    svc = Service(testbed, f"fen{abs(hash(tmp_path)) % 10**8}", tmp_path, ["tesseract"])
    for h in BOTH:
        testbed.put(h, svc.script, SERVICE_PY)
    svc.write_inventory()
    with headless_after(hosts):
        yield svc
    svc.cleanup()
    for h in BOTH:
        testbed.sh(h, f"launchctl enable user/501/{svc.label}", check=False)


def test_a_planned_move_fences_the_old_host_and_no_reboot_starts_it_there(
        user_service: Service, hosts: Hosts) -> None:
    svc, site = user_service, user_service.site
    rc, doc = svc.json("deploy", svc.name)
    assert rc == 0, doc
    with FleetSampler(svc) as sampler:
        _move(svc, ["backup"])
        # the plan shows the fence first, and says up front what a reboot does
        rc, plan = svc.json("deploy", svc.name, "--dry-run")
        assert rc == 0, plan
        [fence] = plan["fences"]
        assert fence["host"] == "tesseract" and fence["outcome"] == "planned"
        assert [p["step"] for p in fence["plan"]] == [
            "lock", "survey", "bootout", "disable", "move", "record", "prove", "unlock"]
        assert len(svc.pids("tesseract")) == 1 and svc.pids("backup") == []  # dry: nothing

        rc, doc = svc.json("deploy", svc.name)
        assert rc == 0, doc
        [fence] = doc["fences"]
        assert fence["outcome"] == "fenced", fence
        assert [s["step"] for s in fence["steps"]] == [
            "lock", "survey", "bootout", "disable", "move", "record", "prove", "unlock"]
        [h] = doc["hosts"]
        assert h["host"] == "backup" and h["outcome"] == "deployed"
        assert h["reboot"]["returns"] is False and "domain: system" in h["reboot"]["why"]
        assert svc.pids("tesseract") == [] and len(svc.pids("backup")) == 1

        # on the old host: no plist where launchd loads one, disabled, a record of it
        assert site.sh("tesseract", f"test -e {svc.qplist} || test -e "
                       f"{quote(svc.autoload_plist)}", check=False).returncode == 1
        disabled = site.sh("tesseract", "launchctl print-disabled user/501").stdout
        assert f'"{svc.label}" => disabled' in disabled
        record = json.loads(site.sh(
            "tesseract", f"cat {quote(svc.fenced_dir)}/{svc.label}.fence").stdout)
        assert record["host"] == "tesseract" and record["service"] == svc.name
        assert "not assigned" in record["reason"] and record["by"] and record["at"]

        rc, audit = _audit(svc)
        assert rc == 0, audit
        f = _finding(audit, "tesseract", svc.name)
        assert f is not None and f["verdict"] == "fenced" and f["fence"]["by"] == record["by"]

        # user/501 comes back nowhere after a reboot, as deploy said: never twice
        _reboot_all_and_check(hosts, svc, expect={"tesseract": 0, "backup": 0})
    sampler.check(at_least=50)


def test_a_host_assigned_again_is_unfenced_and_a_console_login_starts_no_copy(
        user_service: Service, hosts: Hosts) -> None:
    svc, site = user_service, user_service.site
    _move(svc, ["backup"])
    assert svc.svcctl("deploy", svc.name).returncode == 0
    assert svc.svcctl("fence", svc.name, "--host", "tesseract").returncode == 0  # no-op
    with FleetSampler(svc) as sampler:
        _move(svc, ["tesseract"])
        rc, doc = svc.json("deploy", svc.name)
        assert rc == 0, doc
        assert [f["host"] for f in doc["fences"]] == ["backup"]
        [h] = doc["hosts"]
        upload = next(s for s in h["steps"] if s["step"] == "upload")
        assert "unfenced" in upload["detail"], upload
        assert site.sh("tesseract", f"test -e {quote(svc.fenced_dir)}/{svc.label}.fence",
                       check=False).returncode == 1
        rc, audit = _audit(svc)
        assert rc == 0
        assert _finding(audit, "tesseract", svc.name)["verdict"] == "ok"  # type: ignore[index]
        assert _finding(audit, "backup", svc.name)["verdict"] == "fenced"  # type: ignore[index]
        # a console login on the assigned host loads ~/Library/LaunchAgents into gui/501:
        # svcctl's plist is not there, so launchd's copy in user/501 stays the only one
        hosts.tb.set_console("tesseract", True)
        try:
            assert site.sh("tesseract", f"launchctl print gui/501/{svc.label}",
                           check=False).returncode == 113
            assert len(svc.pids("tesseract")) == 1
        finally:
            hosts.tb.set_console("tesseract", False)
        _reboot_all_and_check(hosts, svc, expect={"tesseract": 0, "backup": 0})
    sampler.check(at_least=50)


def test_a_plist_put_in_launch_agents_by_hand_is_moved_aside_by_deploy(
        user_service: Service, hosts: Hosts) -> None:
    """Issue 11 §3: a job installed in ~/Library/LaunchAgents came back in gui/501 at a
    console login beside launchd's own in user/501; deploy now moves it out, and a failed
    deploy still finds it as the previous version."""
    svc, site = user_service, user_service.site
    svc.bootstrap_by_hand(path=svc.autoload_plist)  # by hand, or by svcctl before issue 11
    rc, audit = _audit(svc)
    f = _finding(audit, "tesseract", svc.name)
    assert rc == 1 and f is not None and f["verdict"] == "unfenced", f
    assert svc.autoload_plist in f["plists"] and "gui/501" in f["detail"]
    with FleetSampler(svc) as sampler:
        rc, doc = svc.json("deploy", svc.name)
        assert rc == 0, doc
        upload = next(s for s in doc["hosts"][0]["steps"] if s["step"] == "upload")
        assert "moved aside" in upload["detail"] and "previous" in upload["detail"]
        assert site.sh("tesseract", f"test -e {quote(svc.autoload_plist)}",
                       check=False).returncode == 1
        hosts.tb.set_console("tesseract", True)
        try:
            assert len(svc.pids("tesseract")) == 1
            rc, audit = _audit(svc)
            assert rc == 0, audit
        finally:
            hosts.tb.set_console("tesseract", False)
        # the plist moved aside stays aside: no reboot, with or without a login, loads it
        _reboot_all_and_check(hosts, svc, expect={"tesseract": 0, "backup": 0})
    sampler.check(at_least=50)


def test_fence_refuses_beside_a_stray_and_on_an_assigned_host(
        user_service: Service) -> None:
    svc, site = user_service, user_service.site
    assert svc.svcctl("deploy", svc.name).returncode == 0
    r = svc.svcctl("fence", svc.name, "--host", "tesseract")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "is assigned to tesseract" in r.stderr
    stray = svc.start_stray("backup")
    rc, doc = svc.json("fence", svc.name, "--host", "backup")
    [h] = doc["hosts"]
    assert rc == 1 and h["outcome"] == "refused", doc
    assert str(stray) in h["error"] and "svcctl adopt" in h["error"]
    assert svc.pids("backup") == [stray]  # fence never kills
    # deploy's own fence phase refuses the same way, before it starts anything
    rc, doc = svc.json("deploy", svc.name)
    assert rc == 1 and [f["outcome"] for f in doc["fences"]] == ["refused"], doc
    assert doc["hosts"][0]["outcome"] == "not-attempted"
    site.sh("backup", f"kill {stray}")


def test_an_unreachable_old_host_blocks_the_move_until_stated_fenced(
        user_service: Service, hosts: Hosts) -> None:
    svc, site = user_service, user_service.site
    assert svc.svcctl("deploy", svc.name).returncode == 0
    with FleetSampler(svc) as sampler:
        hosts.tb.down(["tesseract"])  # the primary dies
        _move(svc, ["backup"])
        rc, doc = svc.json("deploy", svc.name)
        assert rc == 1, doc
        [refused] = doc["fences"]
        assert refused["host"] == "tesseract" and refused["outcome"] == "refused"
        assert "--fenced tesseract" in refused["error"]
        assert doc["hosts"][0]["outcome"] == "not-attempted"
        assert svc.pids("backup") == []  # nothing started
        assert svc.svcctl("deploy", svc.name, "--fenced", "nosuchhost").returncode == 2

        rc, doc = svc.json("deploy", svc.name, "--fenced", "tesseract", "--reason", "PDU off")
        assert rc == 0, doc
        [ack] = doc["acknowledged"]
        assert ack["host"] == "tesseract" and "powered off or cut off" in ack["reason"]
        assert "PDU off" in ack["reason"]
        assert len(svc.pids("backup")) == 1
        recorded = json.loads(site.sh(
            "backup", f"cat {quote(svc.fenced_dir)}/{svc.label}.ack-tesseract").stdout)
        assert recorded["by"] == ack["by"] and recorded["host"] == "tesseract"

        # the primary comes back: nothing starts there (user/501), audit shows the plist
        # it still holds, and the next deploy fences it
        reboot(hosts, "tesseract", console=False)
        assert svc.pids("tesseract") == []
        rc, audit = _audit(svc)
        f = _finding(audit, "tesseract", svc.name)
        assert rc == 1 and f is not None and f["verdict"] == "unfenced", f
        rc, doc = svc.json("deploy", svc.name)
        assert rc == 0 and [x["outcome"] for x in doc["fences"]] == ["fenced"], doc
        rc, audit = _audit(svc)
        assert rc == 0, audit
        _reboot_all_and_check(hosts, svc, expect={"tesseract": 0, "backup": 0})
    sampler.check(at_least=50)


# -- the path that survives reboots: LaunchDaemons in `system`, run as the login user ----

@pytest.fixture
def daemon(testbed: Site, tmp_path: Path, hosts: Hosts) -> Iterator[Service]:
    svc = Service(testbed, f"fdm{abs(hash(tmp_path)) % 10**8}", tmp_path, ["tesseract"])
    for h in BOTH:
        testbed.put(h, svc.script, SERVICE_PY)
    _write_system_inventory(svc)
    with headless_after(hosts):
        yield svc
    for h in BOTH:
        testbed.sh(h, f"launchctl bootout system/{svc.label}; "
                   f"launchctl enable system/{svc.label}; "
                   f"pkill -KILL -f {quote(svc.script)}; "
                   f"rm -f /Library/LaunchDaemons/{svc.label}.plist* "
                   f"{quote(SYSTEM_FENCED)}/{svc.label}.*; rm -f /tmp/svcctl-deploy/"
                   f"{svc.name}.lock", user="root", check=False)


def _write_system_inventory(svc: Service) -> None:
    site = svc.site
    hosts = {h: {"domain": "system", "user": "root", "home": site.home} for h in BOTH}
    entry = {"label": svc.label, "hosts": svc.hosts, "user_name": "ops",
             "program": ["/usr/bin/python3", svc.script, "v1", "run"],
             "keep_alive": True, "stay_up": 1.5, "exit_timeout": 2}
    svc.inventory.write_text(yaml.safe_dump({
        "ssh_config": str(site.ssh_config), "hosts": hosts, "services": {svc.name: entry}}))


def test_a_daemon_moved_and_back_comes_back_exactly_once_after_every_reboot(
        daemon: Service, hosts: Hosts) -> None:
    """The example scenario: move to backup and back, both hosts rebooted each time."""
    svc = daemon
    rc, doc = svc.json("deploy", svc.name)
    assert rc == 0 and doc["hosts"][0]["reboot"]["returns"] is True, doc
    with FleetSampler(svc) as sampler:
        for there, other in (("backup", "tesseract"), ("tesseract", "backup")):
            svc.hosts = [there]
            _write_system_inventory(svc)
            rc, doc = svc.json("deploy", svc.name)
            assert rc == 0, doc
            assert [f["host"] for f in doc["fences"]] == [other]
            assert len(svc.pids(there)) == 1 and svc.pids(other) == []
            # launchd loads /Library/LaunchDaemons at boot: the fenced host has none left
            _reboot_all_and_check(hosts, svc, expect={there: 1, other: 0})
    sampler.check(at_least=50)
