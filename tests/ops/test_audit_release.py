"""`svcctl audit` tells the release every copy runs (issue 13), on a testbed host.

A release service's layout made by hand (`<root>/releases/v1`, `v2`, a half-uploaded
`.incoming-v3`, `current` -> `releases/v2`) and copies left running by SSH sessions: by
the concrete path, through `current`, and relative from a cwd inside a release. audit,
run as a user runs it with the templated program, finds each copy with the release it
runs, and none of the look-alikes (the incoming directory, a sibling root).

launchd's own job left on an old release after `current` moved on (deployed but not
restarted) is `stale`: audit exits 1 and says which release runs and which is current;
start has nothing to start and adopt nothing to remove there. `current` switched back to
the release it runs makes it `ok` again.
"""

from __future__ import annotations

import json

import pytest

from svcctl.host.quote import quote
from svcctl.inventory import load_inventory
from svcctl.release.concrete import for_release
from svcctl.render import render_plist
from tests.ops.test_audit import assert_audit_schema
from tests.service_kit import Site, audit_json, finding, svcctl
from tests.testbed.jobs import SERVICE_PY, detached

pytestmark = pytest.mark.testbed


def test_audit_finds_each_copy_with_the_release_it_runs(kit: Site) -> None:
    svc = kit.service("rel")
    root = svc.dir
    sibling = f"{root}2"
    for d in (root, sibling):
        kit.on_teardown(kit.main, f"rm -rf {quote(d)}")
    for d in ("releases/v1", "releases/v2", "releases/.incoming-v3"):
        kit.put(kit.main, f"{root}/{d}/main.py", SERVICE_PY)
    kit.put(kit.main, f"{sibling}/releases/v1/main.py", SERVICE_PY)
    kit.sh(kit.main, f"ln -s releases/v2 {quote(root)}/current")

    v1 = kit.start_detached(kit.main, f"/usr/bin/python3 {root}/releases/v1/main.py")
    cur = kit.start_detached(kit.main, f"/usr/bin/python3 {root}/current/main.py")
    # `cd releases/v1 && nohup python3 main.py &`: only its cwd (lsof) tells the file
    rel = int(kit.sh(kit.main, f"cd {quote(root)}/releases/v1 && "
                     + detached("/usr/bin/python3 main.py")).stdout.split()[-1])
    kit.on_teardown(kit.main, f"kill -9 {rel}")
    kit.start_detached(kit.main, f"/usr/bin/python3 {root}/releases/.incoming-v3/main.py")
    kit.start_detached(kit.main, f"/usr/bin/python3 {sibling}/releases/v1/main.py")

    entry = svc.entry([kit.main], program=["/usr/bin/python3", "{{ release }}/main.py"],
                      release={"root": root, "source": "build/"})
    inv = kit.inventory({svc.name: entry})
    rc, doc = audit_json(inv, "--host", kit.main)
    f = finding(doc, kit.main, svc.name)
    assert (rc, f["verdict"]) == (1, "stray"), f
    got = {i["pid"]: (i["managed"], i["release"]) for i in f["instances"]}
    assert got == {v1: (False, "v1"), cur: (False, "v2"), rel: (False, "v1")}, f

    human = svcctl("audit", "-i", str(inv), "--host", kit.main)
    stray_lines = [line for line in human.stdout.splitlines() if " STRAY " in line]
    assert len(stray_lines) == 3, human.stdout
    assert sum("release v1  " in line for line in stray_lines) == 2, human.stdout
    assert sum("release v2  " in line for line in stray_lines) == 1, human.stdout


def test_launchds_job_on_a_release_other_than_current_is_stale(kit: Site) -> None:
    svc = kit.service("stale")
    root = svc.dir
    kit.on_teardown(kit.main, f"rm -rf {quote(root)}")
    for rid in ("v1", "v2"):
        kit.put(kit.main, f"{root}/releases/{rid}/main.py", SERVICE_PY)
    kit.sh(kit.main, f"ln -s releases/v2 {quote(root)}/current")
    entry = svc.entry([kit.main], program=["/usr/bin/python3", "{{ release }}/main.py"],
                      release={"root": root, "source": "build/"})
    inv = kit.inventory({svc.name: entry})
    # launchd's job names releases/v1, as a deploy of v1 renders it; `current` is v2
    loaded = load_inventory(inv)
    plist = render_plist(for_release(loaded.services[svc.name], "v1"),
                         loaded.hosts[kit.main].domain, loaded.templates_dir).data
    assert f"{root}/releases/v1/main.py".encode() in plist
    kit.install_plist(kit.main, svc, plist)
    pid = kit.bootstrap(kit.main, svc)

    rc, doc = audit_json(inv, "--host", kit.main)
    assert_audit_schema(doc)
    f = finding(doc, kit.main, svc.name)
    assert (rc, doc["ok"], f["verdict"], f["launchd_pid"]) == (1, False, "stale", pid), f
    assert f["current_release"] == "v2"
    assert [(i["pid"], i["managed"], i["release"]) for i in f["instances"]] == [
        (pid, True, "v1")], f
    assert f["detail"] == (f"deployed but not restarted: launchd's pid {pid} runs release "
                           "v1, current is v2")
    assert f["next"] == f"svcctl rollback {svc.name} --to v2 --host {kit.main}"

    human = svcctl("audit", "-i", str(inv), "--host", kit.main)
    assert human.returncode == 1, human.stderr
    lines = human.stdout.splitlines()
    assert any(line.split()[:2] == [svc.name, "stale"]
               and line.endswith(f"launchd pid {pid}  current release v2") for line in lines), \
        human.stdout
    assert any(" launchd " in line and "release v1  " in line for line in lines), human.stdout

    # start: launchd's instance already runs alone; nothing is started, nothing restarted
    start = svcctl("start", svc.name, "-i", str(inv), "--host", kit.main, "--stay-up", "1",
                   "--json")
    assert start.returncode == 0, start.stdout + start.stderr
    [h] = json.loads(start.stdout)["hosts"]
    [step] = [s for s in h["steps"] if s["step"] == "start"]
    assert step["outcome"] == "skipped" and "svcctl rollback" in step["detail"], step
    assert h["final"]["verdict"] == "stale" and h["final"]["launchd_pid"] == pid, h
    # adopt: no stray, nothing loaded elsewhere: nothing to kill, launchd's pid kept
    adopt = svcctl("adopt", svc.name, "-i", str(inv), "--host", kit.main, "--stay-up", "1",
                   "--yes", "--json")
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    [h] = json.loads(adopt.stdout)["hosts"]
    assert h["outcome"] == "clean" and h["final"]["launchd_pid"] == pid, h

    # `current` back at v1, switched as a release is (one rename of a fresh link, FACTS
    # 5.4: BSD mv needs -h not to move the link into the directory): launchd runs current
    kit.sh(kit.main, f"cd {quote(root)} && ln -s releases/v1 .current-new && "
           "mv -f -h .current-new current && test \"$(readlink current)\" = releases/v1")
    rc, doc = audit_json(inv, "--host", kit.main)
    assert_audit_schema(doc)
    f = finding(doc, kit.main, svc.name)
    assert (rc, f["verdict"], f["current_release"]) == (0, "ok", "v1"), f
    assert [(i["pid"], i["release"]) for i in f["instances"]] == [(pid, "v1")], f
