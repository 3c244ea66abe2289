"""List and prune releases on simulated Macs over real SSH, as the `ops` user (issue 13).

The listing reads every release, its record, current, previous and which pids run each,
from the host's own BSD ps (FACTS 5.2), in one call; prune keeps the newest `keep` and
never deletes current, previous or a release a process runs, checked by the script that
deletes, right before each rm; a symlink is removed itself, never what it points to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from svcctl.host.ssh import SSHHost
from svcctl.release.listing import Kind, Points
from svcctl.release.manifest import provenance
from svcctl.release.prune import Kept, Why
from svcctl.release.source import open_source, tar_chunks
from svcctl.scripts import release
from svcctl.scripts.release import Listing, Pruning, Stored, Switched
from tests.conftest import Hosts
from tests.release import test_release_host

pytestmark = pytest.mark.testbed
H = "tesseract"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ops = test_release_host.ops  # the same fixture: an SSH connection as `ops`
SLEEPER = "import time\ntime.sleep(600)\n"


@pytest.fixture
def root(hosts: Hosts) -> Iterator[str]:
    """A fresh app root; the processes a test started there are ended after it."""
    path = f"/Users/ops/app-{time.time_ns()}"
    yield path
    for pid in STARTED.pop(path, []):
        hosts.ssh(H, ["kill", str(pid)], check=False)
    hosts.ssh(H, ["rm", "-rf", path], user="root", check=False)


STARTED: dict[str, list[int]] = {}  # root -> the pids a test started there, ended after it


def _upload(ops: SSHHost, root: str, tmp: Path, rid: str, age_days: int) -> None:
    """Release `rid`, its record dated `age_days` before the newest (day 10)."""
    src_dir = tmp / rid
    src_dir.mkdir()
    (src_dir / "main.py").write_text(SLEEPER)
    (src_dir / "marker").write_text(rid)
    with open_source(src_dir) as src:
        record = provenance(rid, src.entries, "ci@builder", T0 + timedelta(days=10 - age_days),
                            {})
        run = release.upload(ops, root, rid, src.checksum,
                             tar_chunks(src, record.to_json().encode()))
    assert run.outcome is Stored.UPLOADED, run.result


def _start(hosts: Hosts, root: str, path: str) -> int:
    out = hosts.ssh(H, f"cd / && nohup /usr/bin/python3 {path} </dev/null >/dev/null 2>&1 & "
                       "echo $!").stdout
    pid = int(out.strip())
    STARTED.setdefault(root, []).append(pid)
    return pid


def _ids(ops: SSHHost, root: str) -> list[str]:
    out = ops.check(["sh", "-c", 'ls -A "$1/releases"', "sh", root]).stdout
    return sorted(x for x in out.split("\n") if x)


def _six(ops: SSHHost, root: str, tmp: Path) -> None:
    """v1 (oldest) .. v6 (newest); current v2, previous v3."""
    for n in range(1, 7):
        _upload(ops, root, tmp, f"v{n}", 6 - n)
    assert release.switch(ops, root, "v3").outcome is Switched.SWITCHED
    assert release.switch(ops, root, "v2").previous == "releases/v3"


def _wait_running(ops: SSHHost, root: str, pid: int, rid: str) -> None:
    end = time.monotonic() + 15
    while time.monotonic() < end:
        listed = release.releases(ops, root).releases
        assert listed is not None
        found = listed.get(rid)
        if found is not None and pid in found.pids:
            return
        time.sleep(0.2)
    raise AssertionError(f"pid {pid} never showed as running {rid}")


def test_the_listing_shows_records_current_previous_and_pids(
        hosts: Hosts, ops: SSHHost, root: str, tmp_path: Path) -> None:
    _six(ops, root, tmp_path)
    pid = _start(hosts, root, f"{root}/releases/v1/main.py")
    via = _start(hosts, root, f"{root}/current/main.py")
    _wait_running(ops, root, pid, "v1")
    # a bad record, a record that is a link to a secret, an upload under way, a stray link
    hosts.put(H, f"{root}/releases/v4/.svcctl-release.json", "{not json")
    ops.check(["rm", f"{root}/releases/v5/.svcctl-release.json"])
    ops.check(["ln", "-s", "/etc/master.passwd", f"{root}/releases/v5/.svcctl-release.json"])
    ops.check(["mkdir", f"{root}/releases/.incoming-v7"])
    ops.check(["ln", "-s", "/Users/ops", f"{root}/releases/stray"])
    run = release.releases(ops, root)
    assert run.outcome is Listing.LISTED, run.result
    got = run.releases
    assert got is not None
    assert (got.current.points, got.current.release_id) == (Points.ID, "v2")
    assert (got.previous.points, got.previous.release_id) == (Points.ID, "v3")
    assert got.incoming == ("v7",)
    by_id = {r.release_id: r for r in got.releases}
    assert sorted(by_id) == ["stray", "v1", "v2", "v3", "v4", "v5", "v6"]
    assert by_id["v1"].pids == (pid,)
    assert by_id["v2"].pids == (via,)  # `current/main.py` is the release current points to
    assert [p.via_current for p in got.procs if p.pid == via] == [True]
    assert by_id["v6"].record is not None and by_id["v6"].record.who == "ci@builder"
    assert by_id["v6"].record.when == T0 + timedelta(days=10)
    assert by_id["v4"].record is None and "not a svcctl.release/1 record" in (
        by_id["v4"].problem or "")
    assert (by_id["v5"].record, by_id["v5"].problem) == (None, "no record")
    assert by_id["stray"].kind is Kind.LINK
    # newest first by the record's time; releases without a readable one after them
    assert [r.release_id for r in got.releases][:4] == ["v6", "v3", "v2", "v1"]


def test_prune_keeps_current_previous_and_running_whatever_their_age(
        hosts: Hosts, ops: SSHHost, root: str, tmp_path: Path) -> None:
    _six(ops, root, tmp_path)
    pid = _start(hosts, root, f"{root}/releases/v1/main.py")
    _wait_running(ops, root, pid, "v1")
    ops.check(["mkdir", f"{root}/releases/.incoming-v7"])  # an upload under way
    ops.check(["mkdir", f"{root}/releases/theirs"])  # not svcctl's: no manifest
    run = release.prune(ops, root, keep=2)
    assert run.outcome is Pruning.PRUNED, run
    assert run.deleted == ("v4",)
    assert sorted(run.kept, key=lambda k: k.release_id) == [
        Kept("theirs", Why.FOREIGN), Kept("v1", Why.RUNNING, (pid,)), Kept("v2", Why.CURRENT),
        Kept("v3", Why.PREVIOUS), Kept("v5", Why.NEWEST), Kept("v6", Why.NEWEST)]
    assert _ids(ops, root) == [".incoming-v7", "theirs", "v1", "v2", "v3", "v5", "v6"]
    again = release.prune(ops, root, keep=2)
    assert again.outcome is Pruning.NOTHING and again.deleted == ()
    hosts.ssh(H, ["kill", str(pid)])
    end = time.monotonic() + 15
    while release.prune(ops, root, keep=2).deleted != ("v1",):
        assert time.monotonic() < end, "v1 was not pruned once its process ended"
        time.sleep(0.3)
    assert _ids(ops, root) == [".incoming-v7", "theirs", "v2", "v3", "v5", "v6"]


def test_the_script_checks_again_right_before_each_rm(
        hosts: Hosts, ops: SSHHost, root: str, tmp_path: Path) -> None:
    """The plan is made from an earlier call: told to delete current, previous and a running
    release, the script that deletes refuses each on its own check."""
    _six(ops, root, tmp_path)
    pid = _start(hosts, root, f"{root}/releases/v5/main.py")
    _wait_running(ops, root, pid, "v5")
    r = ops.run(release.PRUNE.argv(root, "v2", "v3", "v5", "v6", "gone1"))
    assert r.rc == 0, r.stderr
    assert r.stdout.split("\n") == ["kept v2 current", "kept v3 previous",
                                    f"kept v5 running {pid}", "deleted v6", "gone gone1", ""]
    assert _ids(ops, root) == ["v1", "v2", "v3", "v4", "v5"]
    # current not a link: nothing is deleted
    ops.check(["mv", f"{root}/current", f"{root}/cur-was"])
    ops.check(["mkdir", f"{root}/current"])
    r = ops.run(release.PRUNE.argv(root, "v1"))
    assert r.stdout == "kept v1 unsure\n"
    assert release.prune(ops, root, keep=0).deleted == ()


def test_a_release_replaced_by_a_hostile_symlink_deletes_the_link_only(
        hosts: Hosts, ops: SSHHost, root: str, tmp_path: Path) -> None:
    """As the unprivileged user: releases/v1 becomes a link to a directory ops may write,
    and v2 holds a link to it; pruning both leaves every file of the target."""
    victim = f"/Users/ops/victim-{time.time_ns()}"
    hosts.put(H, f"{victim}/precious", "keep me")
    try:
        for n in (1, 2, 3):
            _upload(ops, root, tmp_path, f"v{n}", 3 - n)
        assert release.switch(ops, root, "v3").outcome is Switched.SWITCHED
        ops.check(["rm", "-rf", f"{root}/releases/v1"])
        ops.check(["ln", "-s", victim, f"{root}/releases/v1"])
        ops.check(["ln", "-s", victim, f"{root}/releases/v2/data"])
        ops.check(["ln", "-s", f"{victim}/", f"{root}/releases/v0"])  # trailing slash
        run = release.prune(ops, root, keep=0)
        assert sorted(run.deleted) == ["v0", "v1", "v2"], run
        assert _ids(ops, root) == ["v3"]
        assert ops.read_file(f"{victim}/precious") == b"keep me"
    finally:
        hosts.ssh(H, ["rm", "-rf", victim], check=False)


def test_switch_keeps_the_previous_release(hosts: Hosts, ops: SSHHost, root: str,
                                           tmp_path: Path) -> None:
    for n in (1, 2):
        _upload(ops, root, tmp_path, f"v{n}", 2 - n)

    def previous() -> str | None:
        listed = release.releases(ops, root).releases
        assert listed is not None
        return listed.previous.release_id

    assert release.switch(ops, root, "v1").outcome is Switched.SWITCHED
    assert previous() is None
    assert release.switch(ops, root, "v2").outcome is Switched.SWITCHED
    assert previous() == "v1"
    assert release.switch(ops, root, "v2").outcome is Switched.SWITCHED  # same again
    assert previous() == "v1"
    assert release.switch(ops, root, "v1").previous == "releases/v2"  # a rollback
    assert previous() == "v2"
    assert not [x for x in ops.check(["ls", "-A", root]).stdout.split()
                if x.startswith(".previous-")]
    ops.check(["rm", f"{root}/.svcctl-previous"])
    hosts.ssh(H, ["mkdir", f"{root}/.svcctl-previous"], user="root")
    assert release.switch(ops, root, "v2").outcome is Switched.NOT_A_LINK
    assert ops.check(["readlink", f"{root}/current"]).stdout == "releases/v1\n"
    assert release.prune(ops, root, keep=0).deleted == ()  # previous unknown: keep all


def test_a_releases_symlink_is_refused(ops: SSHHost, root: str) -> None:
    ops.check(["mkdir", "-p", f"{root}/elsewhere/v1"])
    ops.check(["ln", "-s", "elsewhere", f"{root}/releases"])
    assert release.releases(ops, root).outcome is Listing.UNTRUSTED
    assert release.prune(ops, root, keep=0).outcome is Pruning.UNTRUSTED
    assert ops.run(release.PRUNE.argv(root, "v1")).rc == 8
    assert ops.run(["test", "-d", f"{root}/elsewhere/v1"]).ok
