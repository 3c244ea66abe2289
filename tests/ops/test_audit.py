"""`svcctl audit` against the simulated hosts, run as a user runs it (issue #3, Done when).

Real launchd jobs, real strays left behind by SSH sessions, real decoys; every verdict is
read from `svcctl audit --json` and checked against what launchd and ps say themselves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from svcctl.host.quote import quote
from tests.conftest import Hosts
from tests.service_kit import HOME, Site, audit_json, finding, free_port, svcctl
from tests.testbed.jobs import AGENTS
from tests.wait import wait_until

pytestmark = pytest.mark.testbed


def _by_pid(f: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {i["pid"]: i for i in f["instances"]}


def test_launchd_instance_alone_is_ok(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    pid = kit.deploy(inv, svc)

    rc, doc = audit_json(inv)
    f = finding(doc, "tesseract", svc.name)
    assert (rc, doc["ok"], f["verdict"]) == (0, True, "ok"), f
    assert f["launchd_pid"] == pid
    assert f["launchd_state"] == "running"
    [inst] = f["instances"]
    assert (inst["pid"], inst["managed"]) == (pid, True)
    assert inst["owner"] == f"user/501/{svc.label}"
    assert inst["uid"] == 501
    assert svc.script in inst["command"]
    assert f["next"] is None
    # not assigned to backup, not running there: backup lists nothing for it
    assert next(h for h in doc["hosts"] if h["host"] == "backup")["services"] == []

    human = svcctl("audit", "-i", str(inv), "--host", "tesseract")
    assert human.returncode == 0, human.stdout + human.stderr
    assert re.search(rf"{svc.name}\s+ok\s+launchd pid {pid}", human.stdout), human.stdout


def test_copy_left_running_by_an_ssh_session_is_a_duplicate(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    managed = kit.deploy(inv, svc)
    stray = kit.start_detached("tesseract", f"/usr/bin/python3 {svc.script}")
    assert kit.ppid("tesseract", stray) == 1  # PPID 1 proves nothing (FACTS 5.1)

    rc, doc = audit_json(inv, "--host", "tesseract")
    f = finding(doc, "tesseract", svc.name)
    assert (rc, f["verdict"]) == (1, "duplicate"), f
    assert f["launchd_pid"] == managed
    inst = _by_pid(f)
    assert set(inst) == {managed, stray}
    assert inst[managed]["managed"] is True
    assert inst[managed]["owner"] == f"user/501/{svc.label}"
    assert inst[stray]["managed"] is False
    assert inst[stray]["owner"] is None
    assert inst[stray]["ppid"] == 1
    assert "stray" in inst[stray]["reason"]
    assert f["next"] == f"svcctl adopt {svc.name} --host tesseract"

    human = svcctl("audit", "-i", str(inv), "--host", "tesseract").stdout
    assert re.search(rf"STRAY\s+pid {stray}\b", human), human
    assert re.search(rf"launchd\s+pid {managed}\b", human), human


def test_copy_without_a_launchd_job_is_a_stray(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.install_program("tesseract", svc)
    stray = kit.start_detached("tesseract", f"/usr/bin/python3 {svc.script}")

    rc, doc = audit_json(inv, "--host", "tesseract")
    f = finding(doc, "tesseract", svc.name)
    assert (rc, f["verdict"], f["launchd_pid"]) == (1, "stray", None), f
    [inst] = f["instances"]
    assert (inst["pid"], inst["managed"], inst["owner"]) == (stray, False, None)


def test_label_loaded_in_gui_and_user_domains_is_a_duplicate(kit: Site, hosts: Hosts) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    managed = kit.deploy(inv, svc)
    # svcctl keeps its plist out of ~/Library/LaunchAgents; a copy put there by hand is
    # loaded into gui/501 at a console login (FACTS 1.4)
    by_hand = f"{AGENTS}/{svc.label}.plist"
    kit.on_teardown("tesseract", f"rm -f {quote(by_hand)}")
    kit.sh("tesseract", f"cp {quote(svc.plist)} {quote(by_hand)}")
    try:
        hosts.tb.set_console("tesseract", True)
        gui_pid = int(wait_until(lambda: kit.job_field("tesseract", f"gui/501/{svc.label}", "pid")))
        rc, doc = audit_json(inv, "--host", "tesseract")
    finally:
        hosts.tb.set_console("tesseract", False)
    f = finding(doc, "tesseract", svc.name)
    assert (rc, f["verdict"]) == (1, "duplicate"), f
    assert f"gui/501/{svc.label}" in f["detail"]
    assert f["launchd_pid"] == managed
    inst = _by_pid(f)
    assert set(inst) == {managed, gui_pid}
    assert (inst[managed]["managed"], inst[managed]["owner"]) == (True, f"user/501/{svc.label}")
    assert (inst[gui_pid]["managed"], inst[gui_pid]["owner"]) == (False, f"gui/501/{svc.label}")


def test_running_on_a_host_it_is_not_assigned_to_is_unexpected(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.deploy(inv, svc, "tesseract")
    elsewhere = kit.deploy(inv, svc, "backup")

    rc, doc = audit_json(inv)
    assert rc == 1
    assert finding(doc, "tesseract", svc.name)["verdict"] == "ok"
    f = finding(doc, "backup", svc.name)
    assert f["verdict"] == "unexpected", f
    assert "not assigned to backup" in f["detail"]
    assert [i["pid"] for i in f["instances"]] == [elsewhere]


def test_decoys_never_count(kit: Site) -> None:
    svc = kit.service()
    log = f"{svc.dir}/main.py.log"
    # the seed inventory's style of match: a loose regex over the whole command line
    inv = kit.inventory({svc.name: svc.entry(
        ["tesseract"], match=re.escape(f"{svc.name}/main.py"), stdout_path=log)})
    managed = kit.deploy(inv, svc)
    kit.sh("tesseract", f"cp {svc.script} {svc.dir}/watch.py")
    quoted = quote
    decoys = {
        "tail": kit.start_detached("tesseract", f"tail -f {log}"),
        "grep loop": kit.start_detached("tesseract", "sh -c " + quoted(
            f"while sleep 0.2; do grep -c {svc.name}/main.py /dev/null; done")),
        "pgrep loop": kit.start_detached("tesseract", "sh -c " + quoted(
            f"while sleep 0.2; do pgrep -f {svc.name}/main.py; done")),
        "inline python": kit.start_detached("tesseract", "/usr/bin/python3 -c " + quoted(
            "import time; time.sleep(300)") + f" {svc.script}"),
        "another script": kit.start_detached(
            "tesseract", f"/usr/bin/python3 {svc.dir}/watch.py {svc.script}"),
    }
    # the decoys are alive and their command lines do match the service's pattern
    procs = kit.processes("tesseract")
    pattern = re.compile(re.escape(f"{svc.name}/main.py"))
    for what, pid in decoys.items():
        assert pattern.search(procs.get(pid, "")), (what, pid, procs.get(pid))

    for _ in range(3):  # the loops' short-lived grep/pgrep children come and go
        rc, doc = audit_json(inv, "--host", "tesseract")
        f = finding(doc, "tesseract", svc.name)
        assert (rc, f["verdict"]) == (0, "ok"), f
        assert [(i["pid"], i["managed"]) for i in f["instances"]] == [(managed, True)]


def test_keepalive_job_that_exits_at_once_is_a_crashloop(kit: Site) -> None:
    svc = kit.service()
    # ThrottleInterval 30, not 1: `spawn scheduled` must outlast the audit (~0.5 s) so
    # the check cannot land on the brief moment the program runs
    inv = kit.inventory({svc.name: svc.entry(
        ["tesseract"], program=["/usr/bin/python3", svc.script, "exit-1"],
        throttle_interval=30)})
    kit.install_program("tesseract", svc)
    kit.install_plist("tesseract", svc, kit.rendered(inv, svc))
    kit.bootstrap("tesseract", svc, wait_running=False)
    target = f"user/501/{svc.label}"
    wait_until(lambda: kit.job_field("tesseract", target, "state") == "spawn scheduled"
               and kit.job_field("tesseract", target, "last exit code") == "1")

    rc, doc = audit_json(inv, "--host", "tesseract")
    f = finding(doc, "tesseract", svc.name)
    assert (rc, f["verdict"]) == (1, "crashloop"), f
    assert (f["launchd_pid"], f["launchd_state"]) == (None, "spawn scheduled")
    assert f["instances"] == []
    assert f["next"] == f"svcctl logs {svc.name} --host tesseract"


def test_unreachable_host_is_reported_and_the_others_still_audited(kit: Site) -> None:
    svc = kit.service()
    port = free_port()
    inv = kit.inventory(
        {svc.name: svc.entry(["tesseract", "ghost"])},
        hosts={"tesseract": {"domain": "user/501", "home": HOME},
               "ghost": {"domain": "user/501", "home": HOME, "hostname": "127.0.0.1",
                         "port": port}},
    )
    pid = kit.deploy(inv, svc)

    rc, doc = audit_json(inv)
    assert (rc, doc["ok"]) == (1, False)
    ghost = next(h for h in doc["hosts"] if h["host"] == "ghost")
    assert ghost["reachable"] is False
    assert f"127.0.0.1:{port}" in ghost["error"]
    assert "cannot connect" in ghost["error"]
    [g] = ghost["services"]
    assert (g["verdict"], g["launchd_pid"], g["instances"]) == ("unreachable", None, [])
    t = finding(doc, "tesseract", svc.name)
    assert (t["verdict"], t["launchd_pid"]) == ("ok", pid)

    human = svcctl("audit", "-i", str(inv))
    assert human.returncode == 1
    assert "== ghost  UNREACHABLE" in human.stdout


def test_unknown_host_key_is_refused_until_accepted(kit: Site, hosts: Hosts,
                                                    tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    config = tmp_path / "ssh_config"
    config.write_text(re.sub(r"UserKnownHostsFile \S+", f"UserKnownHostsFile {known}",
                             hosts.ssh_config.read_text()))
    svc = kit.service()  # assigned to backup only: tesseract has nothing to find
    inv = kit.inventory({svc.name: svc.entry(["backup"])}, ssh_config=config)

    rc, doc = audit_json(inv, "--host", "tesseract")
    [h] = doc["hosts"]
    assert (rc, h["reachable"]) == (1, False)
    assert "host key" in h["error"] and "not in" in h["error"], h["error"]
    assert "--accept-new-host-key" in h["error"]
    assert not known.exists()

    rc, doc = audit_json(inv, "--host", "tesseract", "--accept-new-host-key")
    assert (rc, doc["hosts"][0]["reachable"], doc["hosts"][0]["error"]) == (0, True, None)
    assert "ssh-ed25519" in known.read_text()
    rc, doc = audit_json(inv, "--host", "tesseract")  # remembered
    assert (rc, doc["hosts"][0]["reachable"]) == (0, True)

    # a changed key is refused even with --accept-new-host-key
    entry = known.read_text().split()[0]
    bogus = (hosts.tb.layout.identity.with_suffix(".pub")).read_text().split()[1]
    known.write_text(f"{entry} ssh-ed25519 {bogus}\n")
    rc, doc = audit_json(inv, "--host", "tesseract", "--accept-new-host-key")
    assert (rc, doc["hosts"][0]["reachable"]) == (1, False)
    assert "CHANGED" in doc["hosts"][0]["error"]


# -- the JSON contract ---------------------------------------------------------------------

TOP_KEYS = {"schema", "ok", "hosts"}
HOST_KEYS = {"host", "reachable", "error", "services", "deploy_locks"}
LOCK_KEYS = {"service", "expired", "who", "ci_run", "pid", "started", "expires"}
SERVICE_KEYS = {"service", "label", "verdict", "launchd_pid", "launchd_state", "instances",
                "detail", "next", "elsewhere", "plists", "fence", "reboot",  # these four: issue 11
                "current_release"}  # issue 13, additive
FENCE_KEYS = {"by", "at", "reason", "moved", "disabled"}
INSTANCE_KEYS = {"pid", "ppid", "user", "uid", "started", "command", "managed", "owner",
                 "reason", "release"}  # release: issue 13, additive
VERDICTS = {"ok", "down", "stray", "duplicate", "crashloop", "unexpected", "unreachable",
            "uninspectable", "blocked", "fenced", "unfenced", "stale"}  # stale: issue 13


def _is(value: object, *types: type) -> bool:
    # bool is an int in Python, never in the contract
    return any(type(value) is t for t in types)


def assert_audit_schema(doc: dict[str, Any]) -> None:
    assert set(doc) == TOP_KEYS
    assert doc["schema"] == "svcctl.audit/1"
    assert _is(doc["ok"], bool)
    for h in doc["hosts"]:
        assert set(h) == HOST_KEYS, h
        assert _is(h["host"], str) and _is(h["reachable"], bool)
        assert _is(h["error"], str, type(None))
        assert (h["error"] is None) == h["reachable"]
        assert _is(h["deploy_locks"], list)
        for lk in h["deploy_locks"]:
            assert set(lk) == LOCK_KEYS, lk
            assert _is(lk["service"], str) and _is(lk["expired"], bool)
        for f in h["services"]:
            assert set(f) == SERVICE_KEYS, f
            assert _is(f["service"], str) and _is(f["label"], str)
            assert f["verdict"] in VERDICTS
            assert _is(f["launchd_pid"], int, type(None))
            assert _is(f["launchd_state"], str, type(None))
            assert _is(f["detail"], str)
            assert _is(f["next"], str, type(None))
            assert (f["next"] is None) == (f["verdict"] in ("ok", "fenced"))
            assert all(_is(t, str) for t in f["elsewhere"] + f["plists"])
            assert f["fence"] is None or set(f["fence"]) == FENCE_KEYS
            assert _is(f["reboot"], str, type(None))
            assert _is(f["current_release"], str, type(None))
            assert (f["verdict"] == "stale") <= (f["current_release"] is not None)
            assert (f["verdict"] == "fenced") <= (f["fence"] is not None)
            for i in f["instances"]:
                assert set(i) == INSTANCE_KEYS, i
                for key in ("pid", "ppid", "uid"):
                    assert _is(i[key], int), (key, i)
                for key in ("user", "command", "reason"):
                    assert _is(i[key], str), (key, i)
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", i["started"]), i
                assert _is(i["managed"], bool)
                assert _is(i["owner"], str, type(None))
                assert not i["managed"] or i["owner"] is not None


def test_json_contract(kit: Site) -> None:
    dup, down = kit.service(), kit.service()
    inv = kit.inventory(
        {dup.name: dup.entry(["tesseract"]), down.name: down.entry(["tesseract", "ghost"])},
        hosts={"tesseract": {"domain": "user/501", "home": HOME},
               "ghost": {"domain": "user/501", "hostname": "127.0.0.1", "port": free_port()}},
    )
    managed = kit.deploy(inv, dup)
    stray = kit.start_detached("tesseract", f"/usr/bin/python3 {dup.script}")

    rc, doc = audit_json(inv)
    assert rc == 1
    assert_audit_schema(doc)
    assert [h["host"] for h in doc["hosts"]] == ["ghost", "tesseract"]
    f = finding(doc, "tesseract", dup.name)
    assert (f["label"], f["verdict"], f["launchd_pid"]) == (dup.label, "duplicate", managed)
    assert {i["pid"] for i in f["instances"]} == {managed, stray}
    assert finding(doc, "tesseract", down.name)["verdict"] == "down"
    assert finding(doc, "tesseract", down.name)["launchd_pid"] is None
    assert {x["verdict"] for x in doc["hosts"][0]["services"]} == {"unreachable"}
    assert [h["deploy_locks"] for h in doc["hosts"]] == [[], []]


# -- hostile inventory values ----------------------------------------------------------------


def _markers_absent(kit: Site, markers: list[str]) -> None:
    for host in ("tesseract", "backup"):
        found = kit.sh(host, "ls -d " + " ".join(markers) + " 2>/dev/null; true").stdout
        assert found.strip() == "", (host, found)
    for m in markers:
        assert not Path(m).exists(), m


def test_hostile_inventory_values_never_reach_a_shell(kit: Site, tmp_path: Path) -> None:
    svc = kit.service()
    tag = svc.name
    markers = [f"/tmp/pwned-{tag}-{i}" for i in range(6)]
    hostile_arg = f"x; touch {markers[0]}; $(touch {markers[1]}) `touch {markers[2]}` 'q\"\\"
    inv = kit.inventory({svc.name: svc.entry(
        ["tesseract"],
        program=["/usr/bin/python3", svc.script, hostile_arg],
        match=f"{re.escape(svc.script)}|$(touch {markers[3]})",
        environment={"EVIL": f"\"; touch {markers[4]}; echo '$(touch {markers[5]})"},
        stdout_path=f"{svc.dir}/out $(touch {markers[4]}).log",
    )})
    managed = kit.deploy(inv, svc)

    rc, doc = audit_json(inv, "--host", "tesseract")
    f = finding(doc, "tesseract", svc.name)
    assert (rc, f["verdict"], f["launchd_pid"]) == (0, "ok", managed), f
    assert hostile_arg in f["instances"][0]["command"]
    # diff reads the file and launchd's job, both full of shell syntax, and finds no drift
    diff = svcctl("diff", svc.name, "-i", str(inv))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    # a hostile home reaches `cat` as one quoted argument
    home = f"/Users/ops/$(touch {markers[0]});touch {markers[1]}"
    evil = kit.inventory({svc.name: svc.entry(["tesseract"])}, name="evil.yaml",
                         hosts={"tesseract": {"domain": "user/501", "home": home}})
    diff = svcctl("diff", svc.name, "-i", str(evil))
    assert diff.returncode == 1 and "MISSING" in diff.stdout, diff.stdout + diff.stderr
    _markers_absent(kit, markers)


def test_label_with_shell_syntax_is_refused_as_bad_input(kit: Site) -> None:
    svc = kit.service()
    marker = f"/tmp/pwned-{svc.name}"
    inv = kit.inventory({svc.name: {**svc.entry(["tesseract"]),
                                    "label": f"com.example.x;touch {marker}"}})
    for args in (["audit"], ["diff", svc.name], ["render", svc.name]):
        proc = svcctl(*args, "-i", str(inv))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("svcctl: error: ") and proc.stderr.count("\n") == 1
        assert "label" in proc.stderr
    _markers_absent(kit, [marker])

