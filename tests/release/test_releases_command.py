"""`svcctl releases SERVICE` on simulated Macs over real SSH (issue 13).

A release service deployed twice with `svcctl deploy --release` (v1, then v2 from a CI
run), plus a stray started by hand on the old release: the listing names each release's
who, when and CI run, current and previous, launchd's pid on v2 and the stray's on v1.
Any inventory host may be listed (read-only); one that cannot be reached is its own
result (exit 1), never a traceback; a service without `release:` is one line, exit 2.
"""

from __future__ import annotations

import getpass
import json
import platform
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from svcctl.errors import ExitCode
from tests import service_kit
from tests.conftest import Hosts
from tests.deploy.test_release_deploy import Shipped
from tests.service_kit import Service, Site

pytestmark = pytest.mark.testbed
DEAD = "ghost"  # an inventory host nothing listens for (port 1)
CI_ENV = {"GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "acme/shiva",
          "GITHUB_SERVER_URL": "https://github.example", "GITHUB_SHA": "feedbeef"}


@pytest.fixture
def site(hosts: Hosts, tmp_path: Path) -> Iterator[Site]:
    s = service_kit.testbed_site(hosts, tmp_path)  # a module's name: pytest collects test*
    try:
        yield s
    finally:
        s.teardown()


@pytest.fixture
def shipped(site: Site, tmp_path: Path) -> Iterator[Shipped]:
    s = Shipped(site, tmp_path, Service(site, f"rls{time.time_ns() % 10**9}", tmp_path,
                                        [site.main]))
    try:
        yield s
    finally:
        s.cleanup()


def _releases(s: Shipped, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = s.base.svcctl("releases", s.base.name, "--json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _host(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(h for h in doc["hosts"] if h["host"] == name))


def _deploy_v1_v2(s: Shipped, monkeypatch: pytest.MonkeyPatch) -> tuple[datetime, datetime]:
    before = datetime.now(UTC).replace(microsecond=0)
    s.source("v1")
    assert s.deploy("v1")[0] == 0
    s.source("v2")
    with monkeypatch.context() as m:  # svcctl runs in a child: it inherits these
        for k, v in CI_ENV.items():
            m.setenv(k, v)
        rc, doc = s.deploy("v2")
    assert rc == 0, doc
    return before, datetime.now(UTC)


def test_releases_lists_who_when_current_previous_and_the_pids_of_each(
        shipped: Shipped, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    s = shipped
    before, after = _deploy_v1_v2(s, monkeypatch)
    launchd = s.base.launchd_pid()
    assert launchd is not None
    stray = site.start_detached(site.main, f"/usr/bin/python3 {s.root}/releases/v1/main.py")

    rc, doc, _ = _releases(s)
    assert rc == 0, doc
    assert (doc["schema"], doc["service"], doc["root"], doc["exit_code"]) == \
        ("svcctl.releases/1", s.base.name, s.root, 0)
    hosts = doc["hosts"]
    assert isinstance(hosts, list) and [h["host"] for h in hosts] == [site.main]
    h = _host(doc, site.main)
    assert (h["reachable"], h["outcome"], h["error"]) == (True, "listed", None)
    assert h["current"] == {"state": "id", "id": "v2", "target": None}
    assert h["previous"] == {"state": "id", "id": "v1", "target": None}
    rels = h["releases"]
    assert isinstance(rels, list)
    v2, v1 = rels
    assert (v2["id"], v2["kind"], v2["current"], v2["previous"]) == ("v2", "release", True,
                                                                     False)
    assert (v1["id"], v1["kind"], v1["current"], v1["previous"]) == ("v1", "release", False,
                                                                     True)
    assert v2["pids"] == [launchd], (v2, launchd)
    assert v1["pids"] == [stray], (v1, stray)
    who = f"{getpass.getuser()}@{platform.node()}"
    for r in (v1, v2):
        assert r["who"] == who and r["problem"] is None
        when = datetime.strptime(r["when"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before <= when <= after, (r["when"], before, after)
        assert re.fullmatch("[0-9a-f]{64}", r["checksum"]), r
    assert v1["when"] <= v2["when"]
    assert v1["ci"] is None
    assert v2["ci"] == {"system": "github", "project": "acme/shiva", "run": "4242",
                        "url": "https://github.example/acme/shiva/actions/runs/4242",
                        "commit": "feedbeef"}
    assert v1["checksum"] != v2["checksum"]  # VERSION differs
    assert {(p["pid"], p["release"]) for p in h["processes"]} == {(launchd, "v2"), (stray, "v1")}
    assert h["incoming"] == [] and h["warnings"] == []

    # the text: one row per release, newest first, its markers and pids
    proc = s.base.svcctl("releases", s.base.name)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"== {site.main}  {s.root}"
    assert lines[1].split()[:6] == ["v2", v2["when"], who, "current", "pids", str(launchd)]
    assert "ci https://github.example/acme/shiva/actions/runs/4242" in lines[1]
    assert lines[2].split() == ["v1", v1["when"], who, "previous", "pids", str(stray)]
    assert lines[-1] == f"releases {s.base.name}: 1 host(s), listed"


def test_any_inventory_host_is_listed_and_one_unreachable_is_its_own_result(
        shipped: Shipped, site: Site) -> None:
    s = shipped
    s.source("v1")
    assert s.deploy("v1")[0] == 0
    # hand-made trouble: a release whose record tries to drive the terminal, an upload
    # left incoming by a killed deploy
    record = json.dumps({"schema": "svcctl.release/1", "id": "evil",
                         "who": "mallory\x1b]0;owned\x07\x1b[2J", "when": "2000-01-01T00:00:00Z",
                         "manifest_sha256": "0" * 64, "files": 0, "bytes": 0, "ci": None})
    site.put(site.main, f"{s.root}/releases/evil/.svcctl-release.json", record)
    site.sh(site.main, f"touch {s.root}/releases/evil/.svcctl-manifest && "
            f"mkdir {s.root}/releases/.incoming-v9")
    doc = yaml.safe_load(s.base.inventory.read_text())
    doc["hosts"][DEAD] = {"domain": f"user/{site.uid}", "home": site.home,
                          "hostname": "127.0.0.1", "port": 1}
    s.base.inventory.write_text(yaml.safe_dump(doc))
    assert site.other is not None

    rc, got, err = _releases(s, "--host", site.main, "--host", site.other, "--host", DEAD)
    assert rc == int(ExitCode.FINDINGS), (got, err)
    assert got["exit_code"] == 1
    main, other, dead = (_host(got, n) for n in (site.main, site.other, DEAD))
    assert [r["id"] for r in main["releases"]] == ["v1", "evil"]  # by the record's when
    assert main["releases"][1]["who"] == "mallory\x1b]0;owned\x07\x1b[2J"  # exact in JSON
    assert main["incoming"] == ["v9"]
    # backup: not the service's host, read all the same; nothing there
    assert (other["outcome"], other["current"], other["releases"]) == \
        ("listed", {"state": "none", "id": None, "target": None}, [])
    assert (dead["reachable"], dead["outcome"]) == (False, "unreachable")
    assert "127.0.0.1:1" in str(dead["error"]), dead
    assert dead["releases"] == [] and dead["current"] is None

    # releases/ that is a link to elsewhere is never read through: that host is not listed
    site.on_teardown(site.other, f"rm -rf {s.root}")
    site.sh(site.other, f"mkdir -p {s.root} && ln -s /tmp {s.root}/releases")
    rc, got, err = _releases(s, "--host", site.other)
    other = _host(got, site.other)
    assert rc == 1 and (other["reachable"], other["outcome"]) == (True, "untrusted"), other
    assert "is not a plain directory" in str(other["error"]) and other["releases"] == []

    proc = s.base.svcctl("releases", s.base.name, "-H", site.main, "-H", DEAD)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    text = proc.stdout
    assert "\x1b" not in text and "\x07" not in text, repr(text)
    assert "mallory\\x1b]0;owned\\x07\\x1b[2J" in text
    assert "  warning: releases/.incoming-v9: an upload under way" in text
    assert f"== {DEAD}  UNREACHABLE: " in text
    assert text.rstrip().endswith(f"releases {s.base.name}: 2 host(s), 1 not listed")


def test_a_service_without_release_or_an_unknown_host_is_one_line_exit_2(
        site: Site, tmp_path: Path) -> None:
    svc = Service(site, f"plain{time.time_ns() % 10**9}", tmp_path, [site.main])
    svc.write_inventory()
    for args, says in (((svc.name,), "has no release:"),
                       ((svc.name, "--json"), "has no release:"),
                       (("nosuch",), "unknown service 'nosuch'")):
        proc = svc.svcctl("releases", *args)
        assert proc.returncode == int(ExitCode.BAD_INPUT), proc
        assert proc.stdout == "" and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    Shipped(site, tmp_path, svc)  # the same service, now with release: (nothing deployed)
    proc = svc.svcctl("releases", svc.name, "--host", "nowhere")
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc
    assert "unknown host 'nowhere'" in proc.stderr and \
        len(proc.stderr.strip().splitlines()) == 1, proc.stderr
