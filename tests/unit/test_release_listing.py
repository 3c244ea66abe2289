"""Release listings and prune plans (issue 13): release_list.sh's and release_prune.sh's
output parsed, the prune plan, and the scripts' process matching run against real
processes and this machine's ps (the same awk runs on the Mac's BSD ps, tests/release)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.errors import ParseError
from svcctl.release.listing import Kind, Points, Releases, parse_listing
from svcctl.release.prune import Kept, Why, parse_pruned, plan_prune
from svcctl.scripts.release import LIST, PRUNE


def _record(rid: str, when: str) -> str:
    doc = {"schema": "svcctl.release/1", "id": rid, "who": "ci@b", "when": when,
           "manifest_sha256": "0" * 64, "files": 1, "bytes": 2, "ci": None}
    return "".join("|" + line + "\n" for line in json.dumps(doc, indent=2).split("\n"))


def _listing(*, current: str = "id v2", previous: str = "id v3", procs: str = "") -> str:
    # ls -t order (mtime): v6 v5 v4 v3 v2 v1, but v2's record says it is the newest
    return (f"current {current}\nprevious {previous}\n"
            "release v6 release record\n" + _record("v6", "2026-01-06T00:00:00Z") +
            "release v5 release none\n"
            "release v4 link none\n"
            "release v3 release record\n" + _record("v3", "2026-01-03T00:00:00Z") +
            "release v2 release record\n" + _record("v2", "2026-01-09T00:00:00Z") +
            "release v1 release record\n|{\"schema\": \"svcctl.release/1\"}\n"
            "release theirs dir none\n"
            "incoming v7\n" + procs)


def test_a_listing_parses_into_releases_newest_record_first() -> None:
    got = parse_listing(_listing(procs="proc 41 v1 release\nproc 42 v2 current\n"
                                       "proc 41 v3 release\n"))
    assert (got.current.points, got.current.release_id) == (Points.ID, "v2")
    assert got.previous.release_id == "v3"
    assert [r.release_id for r in got.releases] == [
        "v2", "v6", "v3", "v5", "v4", "v1", "theirs"]  # recordless: by mtime, after
    v2 = got.get("v2")
    assert v2 is not None and v2.record is not None
    assert v2.record.when == datetime(2026, 1, 9, tzinfo=UTC) and v2.pids == (42,)
    v1 = got.get("v1")
    assert v1 is not None and v1.record is None and v1.pids == (41,)
    assert "not a svcctl.release/1 record" in (v1.problem or "")
    assert got.get("v5") is not None and got.get("v5").problem == "no record"  # type: ignore[union-attr]
    assert got.get("v4").kind is Kind.LINK  # type: ignore[union-attr]
    assert got.get("v3").pids == (41,)  # type: ignore[union-attr]
    assert got.incoming == ("v7",)
    assert [p.via_current for p in got.procs] == [False, True, False]


@pytest.mark.parametrize(("line", "points", "rid", "target"), [
    ("none", Points.NONE, None, None), ("notlink", Points.NOT_A_LINK, None, None),
    ("id v9", Points.ID, "v9", None), ("elsewhere /tmp/a b", Points.ELSEWHERE, None, "/tmp/a b"),
])
def test_pointers(line: str, points: Points, rid: str | None, target: str | None) -> None:
    got = parse_listing(f"current {line}\nprevious none\n").current
    assert (got.points, got.release_id, got.target) == (points, rid, target)
    assert got.known is (points in (Points.ID, Points.NONE))


@pytest.mark.parametrize("text", [
    "", "current none\n", "current none\nprevious none\nrelease v1 release\n",
    "current none\nprevious none\nrelease .x release none\n",
    "current none\nprevious none\nrelease v1 socket none\n",
    "current none\nprevious none\n|{}\n",
    "current none\nprevious none\nproc x v1 release\n",
    "current none\nprevious none\nproc 1 v1 sideways\n",
    "current id ../x\nprevious none\n", "current maybe\nprevious none\n",
    "current none\nprevious none\nwhat\n",
])
def test_bad_listings_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_listing(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("current previous release id v1 |{}\n proc"
                                              "0123456789 none record large link"))))
def test_any_text_parses_or_is_a_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_listing(text)


def _plan(listing: Releases, keep: int) -> tuple[tuple[str, ...], list[Kept]]:
    plan = plan_prune(listing, keep)
    return plan.delete, sorted(plan.keep, key=lambda k: k.release_id)


def test_prune_keeps_the_newest_and_current_previous_running_whatever_their_age() -> None:
    listing = parse_listing(_listing(current="id v1", procs="proc 7 v5 release\n"))
    delete, kept = _plan(listing, 2)
    assert delete == ("v4",)  # a link: removed itself, never what it points to
    assert kept == [Kept("theirs", Why.FOREIGN), Kept("v1", Why.CURRENT),  # oldest, current
                    Kept("v2", Why.NEWEST),  # by its record, though its mtime is older
                    Kept("v3", Why.PREVIOUS), Kept("v5", Why.RUNNING, (7,)),
                    Kept("v6", Why.NEWEST)]
    # v2 is the newest release: keep 2 counts it and v6 once current is v2
    delete, kept = _plan(parse_listing(_listing()), 2)
    assert delete == ("v5", "v4", "v1")
    assert [k.release_id for k in kept if k.why is Why.NEWEST] == ["v6"]
    assert plan_prune(parse_listing(_listing()), 0).delete == ("v6", "v5", "v4", "v1")
    assert plan_prune(parse_listing(_listing()), 99).delete == ("v4",)  # a link is no release


@pytest.mark.parametrize("pointer", ["notlink", "elsewhere /srv/x"])
def test_prune_deletes_nothing_when_current_or_previous_is_unknown(pointer: str) -> None:
    for listing in (_listing(current=pointer), _listing(previous=pointer)):
        plan = plan_prune(parse_listing(listing), 0)
        assert plan.delete == ()
        assert {k.why for k in plan.keep} >= {Why.UNSURE}
    with pytest.raises(ValueError, match="keep"):
        plan_prune(parse_listing(_listing()), -1)


def test_the_prune_scripts_lines_parse() -> None:
    got = parse_pruned("deleted v1\ngone v2\nfailed v3\nkept v4 running 5,6\n"
                       "kept v5 unverified\nkept v6 current\n",
                       ("v1", "v2", "v3", "v4", "v5", "v6"))
    assert (got.deleted, got.gone) == (("v1",), ("v2",))
    assert got.kept == (Kept("v3", Why.FAILED), Kept("v4", Why.RUNNING, (5, 6)),
                        Kept("v5", Why.UNVERIFIED), Kept("v6", Why.CURRENT))


@pytest.mark.parametrize("text", [
    "", "deleted v1\ndeleted v1\n", "deleted v9\n", "kept v1 newest\n", "kept v1 running\n",
    "kept v1 running 1,x\n", "kept v1 bored\n", "removed v1\n", "deleted v1 now\n",
])
def test_bad_prune_output_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pruned(text, ("v1",))


# -- the scripts' process matching, with real processes and this machine's ps ---------------

@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    root = tmp_path / "app"
    for rid in ("v1", "v10", "v1x", "v2"):
        (root / "releases" / rid).mkdir(parents=True)
        (root / "releases" / rid / ".svcctl-manifest").write_text("")
    os.symlink("releases/v2", root / "current")
    procs: list[subprocess.Popen[bytes]] = []
    yield root, procs
    for p in procs:
        p.kill()
        p.wait()


def _run(procs: list[subprocess.Popen[bytes]], *words: str) -> int:
    """A real process whose command line shows `words` (sh -c's $0 and $1)."""
    p = subprocess.Popen(["sh", "-c", "sleep 60; : \"$0\" \"$1\"", *words])
    procs.append(p)
    return p.pid


def test_the_list_script_names_the_release_each_process_runs(
        app: tuple[Path, list[subprocess.Popen[bytes]]], tmp_path: Path) -> None:
    root, procs = app
    r = str(root)
    direct = _run(procs, f"{r}/releases/v1/main.py", "x")
    option = _run(procs, f"--config={r}/releases/v10", "y")  # a whole word at the end
    longer = _run(procs, f"{r}/releases/v1x/a b", "z")
    via = _run(procs, f"{r}/current/main.py", "w")
    _run(procs, f"{r}-other/releases/v2/main.py", f"{r}/currently")  # neither ours
    _run(procs, f"{r}/releases/.incoming-v2/main.py", "v")  # not an id
    os.symlink(root, tmp_path / "link")  # the root as given is a link: its real path too
    got = parse_listing(subprocess.run(LIST.argv(str(tmp_path / "link")), capture_output=True,
                                       text=True, timeout=30, check=True).stdout)
    assert {r.release_id: r.pids for r in got.releases} == {
        "v1": (direct,), "v10": (option,), "v1x": (longer,), "v2": (via,)}
    assert [p.via_current for p in got.procs if p.pid == via] == [True]


def test_the_prune_script_removes_a_link_itself_and_never_what_it_points_to(
        app: tuple[Path, list[subprocess.Popen[bytes]]], tmp_path: Path) -> None:
    root, procs = app
    victim = tmp_path / "victim"
    (victim / "v1").mkdir(parents=True)
    (victim / "v1" / "precious").write_text("keep")
    (victim / "v1" / ".svcctl-manifest").write_text("")
    (root / "releases" / "v1" / "data").symlink_to(victim)
    (root / "releases" / "gone").symlink_to(victim / "v1")
    running = _run(procs, f"{root}/releases/v10/main.py", "x")
    out = subprocess.run(PRUNE.argv(str(root), "v1", "gone", "v10", "v2", "nope"),
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.split("\n") == ["deleted v1", "deleted gone", f"kept v10 running {running}",
                               "kept v2 current", "gone nope", ""]
    assert (victim / "v1" / "precious").read_text() == "keep"
    assert sorted(os.listdir(root / "releases")) == ["v10", "v1x", "v2"]


@pytest.mark.parametrize("ps", ["exit 1", "exit 0", "echo '    1     0 /sbin/launchd'"])
def test_without_a_trustworthy_ps_nothing_is_deleted(
        app: tuple[Path, list[subprocess.Popen[bytes]]], tmp_path: Path, ps: str) -> None:
    """ps failing, or rows that do not show this very script (so cannot show everything):
    the release is kept as unverified, and the listing fails rather than show no pids."""
    root, _ = app
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ps").write_text(f"#!/bin/sh\n{ps}\n")
    (bin_dir / "ps").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = subprocess.run(PRUNE.argv(str(root), "v1"), capture_output=True, text=True,
                         timeout=30, check=True, env=env).stdout
    assert out == "kept v1 unverified\n"
    assert (root / "releases" / "v1").is_dir()
    listed = subprocess.run(LIST.argv(str(root)), capture_output=True, text=True, timeout=30,
                            env=env, check=False)
    assert listed.returncode == 9, listed
