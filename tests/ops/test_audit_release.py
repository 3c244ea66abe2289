"""`svcctl audit` tells the release every copy runs (issue 13), on a testbed host.

A release service's layout made by hand (`<root>/releases/v1`, `v2`, a half-uploaded
`.incoming-v3`, `current` -> `releases/v2`) and copies left running by SSH sessions: by
the concrete path, through `current`, and relative from a cwd inside a release. audit,
run as a user runs it with the templated program, finds each copy with the release it
runs, and none of the look-alikes (the incoming directory, a sibling root).
"""

from __future__ import annotations

import pytest

from svcctl.host.quote import quote
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
