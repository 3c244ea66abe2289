"""Upload and switch releases on simulated Macs over real SSH, as the `ops` user (issue 13).

The host computes the manifest with its own find, shasum and readlink (BSD userland, FACTS
5.4) and must agree byte for byte with svcctl.release.manifest; a release appears under
its id only whole; `current` moves by one rename and is never missing to a reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from svcctl.host.base import Host
from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.release.source import Source, open_source, record_for, tar_chunks
from svcctl.scripts import release
from svcctl.scripts.release import Stored, Switched
from tests.conftest import Hosts

pytestmark = pytest.mark.testbed
H = "tesseract"


@pytest.fixture
def ops(hosts: Hosts) -> Iterator[SSHHost]:
    host = SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config))
    with host:
        yield host


@pytest.fixture
def root(hosts: Hosts) -> Iterator[str]:
    path = f"/Users/ops/app-{time.time_ns()}"
    yield path
    hosts.ssh(H, ["rm", "-rf", path], user="root", check=False)


def _tree(base: Path, marker: str) -> Path:
    (base / "pkg" / "deep er").mkdir(parents=True)
    (base / "main.py").write_text(f"print({marker!r})\n")
    (base / "marker").write_text(marker)
    (base / "run.sh").write_text("#!/bin/sh\nexec python3 main.py\n")
    os.chmod(base / "run.sh", 0o700)
    (base / "pkg" / "deep er" / "ünï cødé.txt").write_bytes(os.urandom(3000))
    (base / "pkg" / "back\\slash").write_text("shasum escapes this name")
    (base / "pkg" / "big.bin").write_bytes(os.urandom(3_000_000))
    (base / "empty").mkdir()
    os.symlink("pkg", base / "data er")  # a space in a link's path (not in its target)
    os.symlink("../main.py", base / "pkg" / "main")
    return base


def _upload(host: SSHHost, root: str, src: Source, rid: str,
            sent: list[int] | None = None) -> release.StoreRun:
    record = record_for(src, rid, {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "1"})

    def chunks() -> Iterator[bytes]:
        for chunk in tar_chunks(src, record.to_json().encode()):
            if sent is not None:
                sent.append(len(chunk))
            yield chunk

    return release.upload(host, root, rid, src.checksum, chunks())


def _leftovers(host: Host, root: str) -> list[str]:
    out = host.check(["sh", "-c", 'ls -A "$1/releases"', "sh", root]).stdout
    return sorted(x for x in out.split("\n") if x)


def test_upload_lands_whole_and_the_hosts_manifest_is_ours(ops: SSHHost, root: str,
                                                           tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "src", "A")) as src:
        run = _upload(ops, root, src, "v1")
        assert run.outcome is Stored.UPLOADED, run.result
        there = f"{root}/releases/v1"
        assert ops.read_file(f"{there}/.svcctl-manifest") == src.manifest.encode()
        for e in src.entries:
            if e.target is not None:
                assert ops.check(["readlink", f"{there}/{e.path}"]).stdout == e.target + "\n"
                continue
            got = ops.read_file(f"{there}/{e.path}")
            assert got is not None and hashlib.sha256(got).hexdigest() == e.sha256, e.path
            assert ops.run(["test", "-x", f"{there}/{e.path}"]).ok is e.executable, e.path
        assert ops.run(["test", "-d", f"{there}/empty"]).ok
        record = json.loads(ops.read_file(f"{there}/.svcctl-release.json") or b"")
        assert (record["schema"], record["id"], record["manifest_sha256"]) == (
            "svcctl.release/1", "v1", src.checksum)
        assert record["ci"]["url"] == "https://github.com/o/r/actions/runs/1"
        assert _leftovers(ops, root) == ["v1"]


def test_the_same_release_again_sends_nothing(ops: SSHHost, root: str, tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "src", "A")) as src:
        assert _upload(ops, root, src, "v1").outcome is Stored.UPLOADED
        sent: list[int] = []
        again = _upload(ops, root, src, "v1", sent)
        assert again.outcome is Stored.PRESENT
        assert sent == []  # the cheap check answered: not one byte of tar was made or sent


def test_other_content_under_an_existing_id_is_refused(ops: SSHHost, root: str,
                                                      tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "a", "A")) as a, open_source(_tree(tmp_path / "b", "B")) as b:
        assert _upload(ops, root, a, "v1").outcome is Stored.UPLOADED
        sent: list[int] = []
        clash = _upload(ops, root, b, "v1", sent)
        assert clash.outcome is Stored.CONFLICT and clash.outcome.refused
        assert sent == []
        # and the upload script refuses it too, should the check be raced
        tar = b"".join(tar_chunks(b, b"{}"))
        r = ops.feed(release.UPLOAD.argv(root, "v1", b.checksum), [tar])
        assert r.rc == 4
        assert ops.read_file(f"{root}/releases/v1/marker") == b"A"
        assert _leftovers(ops, root) == ["v1"]


@pytest.mark.parametrize("cut", ["half", "last member", "flipped byte"])
def test_a_stream_cut_short_or_altered_publishes_nothing(ops: SSHHost, root: str,
                                                          tmp_path: Path, cut: str) -> None:
    with open_source(_tree(tmp_path / "src", "A")) as src:
        tar = b"".join(tar_chunks(src, b"{}"))
        checksum = src.checksum
    if cut == "half":
        tar = tar[:len(tar) // 2]
    elif cut == "last member":  # a cut at a member boundary: tar may see no error at all
        body = tar.rstrip(b"\0")
        tar = body[:body.rfind(b"\0" * 512) // 512 * 512]
    else:
        i = tar.index(b"print('A')")
        tar = tar[:i] + b"P" + tar[i + 1:]
    r = ops.feed(release.UPLOAD.argv(root, "v1", checksum), [tar])
    assert r.rc in (5, 6), (r.rc, r.stderr)
    assert _leftovers(ops, root) == []


def test_the_manifest_decides_not_tars_end_marker(ops: SSHHost, root: str,
                                                 tmp_path: Path) -> None:
    """Every member arrived but the end-of-archive blocks did not: tar may accept that,
    and the release is whole, so it is published; the manifest is the judge."""
    with open_source(_tree(tmp_path / "src", "A")) as src:
        tar = b"".join(tar_chunks(src, b"{}")).rstrip(b"\0")
        tar += b"\0" * (-len(tar) % 512)
        r = ops.feed(release.UPLOAD.argv(root, "v1", src.checksum), [tar])
        assert r.rc == 0, r.stderr
        assert ops.read_file(f"{root}/releases/v1/.svcctl-manifest") == src.manifest.encode()


def test_releases_must_be_a_plain_directory(ops: SSHHost, root: str, tmp_path: Path) -> None:
    ops.check(["mkdir", "-p", f"{root}/elsewhere"])
    ops.check(["ln", "-s", "elsewhere", f"{root}/releases"])
    with open_source(_tree(tmp_path / "src", "A")) as src:
        run = _upload(ops, root, src, "v1")
    assert run.outcome is Stored.UNTRUSTED and run.outcome.refused
    assert release.switch(ops, root, "v1").outcome is Switched.UNTRUSTED
    assert ops.check(["ls", "-A", f"{root}/elsewhere"]).stdout == ""


def test_bsd_mv_h_renames_over_a_link_to_a_directory(hosts: Hosts) -> None:
    """FACTS 5.4, as the switch relies on it: without -h, mv moves INTO the directory."""
    d = f"/tmp/mvh-{time.time_ns()}"
    out = hosts.ssh(H, f"mkdir -p {d}/r1 {d}/r2 && cd {d} && ln -s r1 cur && ln -s r2 a && "
                       "mv a cur && ls r1 && readlink cur && ln -s r2 b && mv -h b cur && "
                       "readlink cur && ls -A r1 r2; mv -h x y z; echo rc=$?").stdout
    assert out.split("\n")[:6] == ["a", "r1", "r2", "r1:", "a", ""]
    assert "rc=64" in out
    hosts.ssh(H, ["rm", "-rf", d], check=False)


def _reader(host: SSHHost, root: str, results: dict[str, str]) -> None:
    loop = ('r=$1; n=0; while [ ! -e "$r/stop" ]; do '
            't=$(readlink "$r/current") || t=MISSING; '
            'm=$(cat "$r/current/marker" 2>/dev/null) || m=NONE; '
            'case $t in releases/A|releases/B) ;; *) echo "bad link $t";; esac; '
            'case $m in A|B) ;; *) echo "bad content $m";; esac; '
            'n=$((n + 1)); done; echo "reads $n"')
    results["out"] = host.check(["sh", "-c", loop, "sh", root], timeout=300).stdout


def test_switching_is_atomic_to_a_reader(hosts: Hosts, ops: SSHHost, root: str,
                                         tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "a", "A")) as a, open_source(_tree(tmp_path / "b", "B")) as b:
        assert _upload(ops, root, a, "A").outcome is Stored.UPLOADED
        assert _upload(ops, root, b, "B").outcome is Stored.UPLOADED
    first = release.switch(ops, root, "A")
    assert (first.outcome, first.previous) == (Switched.SWITCHED, None)
    results: dict[str, str] = {}
    with SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config)) as other:
        reader = threading.Thread(target=_reader, args=(other, root, results))
        reader.start()
        try:
            time.sleep(0.5)
            for i in range(50):
                to = "B" if i % 2 == 0 else "A"
                run = release.switch(ops, root, to)
                assert run.outcome is Switched.SWITCHED, run.result
                assert run.previous == f"releases/{'A' if to == 'B' else 'B'}"
        finally:
            ops.check(["touch", f"{root}/stop"])
            reader.join(timeout=60)
    lines = results["out"].strip().split("\n")
    assert lines[:-1] == []  # never missing, never a half state
    assert int(lines[-1].split()[1]) > 50
    # never followed `current` into a release: no stray link inside either
    for rid in ("A", "B"):
        inside = ops.check(["ls", "-A", f"{root}/releases/{rid}"]).stdout.split()
        assert not [x for x in inside if x.startswith(".current-")], inside
    assert not [x for x in ops.check(["ls", "-A", root]).stdout.split()
                if x.startswith(".current-")]


def test_a_current_directory_put_there_by_someone_else_is_refused(
        hosts: Hosts, ops: SSHHost, root: str, tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "a", "A")) as a:
        assert _upload(ops, root, a, "A").outcome is Stored.UPLOADED
    hosts.ssh(H, ["mkdir", f"{root}/current"], user="root")
    hosts.ssh(H, ["touch", f"{root}/current/theirs"], user="root")
    run = release.switch(ops, root, "A")
    assert run.outcome is Switched.NOT_A_LINK, run.result
    assert ops.check(["ls", "-A", f"{root}/current"]).stdout.split() == ["theirs"]
    assert release.switch(ops, root, "nope").outcome is Switched.NO_RELEASE


def _wait_for(check: Callable[[], bool], seconds: float = 15) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_a_connection_lost_mid_upload_leaves_nothing(hosts: Hosts, root: str,
                                                     tmp_path: Path) -> None:
    host = SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config))
    with open_source(_tree(tmp_path / "src", "A")) as src:
        tar = b"".join(tar_chunks(src, b"{}"))

        def dying() -> Iterator[bytes]:
            yield tar[:len(tar) // 2]
            host.close()  # the connection is gone, as if the network dropped
            yield tar[len(tar) // 2:]

        r = host.feed(release.UPLOAD.argv(root, "v1", src.checksum), dying())
    assert r.rc != 0
    with SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config)) as again:
        assert _wait_for(lambda: _leftovers(again, root) == []), _leftovers(again, root)


def test_no_space_removes_the_incoming_release_and_keeps_current(
        hosts: Hosts, ops: SSHHost, tmp_path: Path) -> None:
    small = f"/Users/ops/small-{time.time_ns()}"
    hosts.ssh(H, f"mkdir {small} && mount -t tmpfs -o size=1m tmpfs {small} && "
                 f"chown ops {small}", user="root")
    try:
        root = f"{small}/app"
        tiny = tmp_path / "tiny"
        tiny.mkdir()
        (tiny / "marker").write_text("tiny")
        with open_source(tiny) as t, open_source(_tree(tmp_path / "big", "B")) as big:
            assert _upload(ops, root, t, "tiny").outcome is Stored.UPLOADED
            assert release.switch(ops, root, "tiny").outcome is Switched.SWITCHED
            run = _upload(ops, root, big, "big")
        assert run.outcome is Stored.NO_SPACE, run.result
        assert _leftovers(ops, root) == ["tiny"]
        assert ops.check(["readlink", f"{root}/current"]).stdout == "releases/tiny\n"
        assert ops.read_file(f"{root}/current/marker") == b"tiny"
    finally:
        hosts.ssh(H, f"umount {small}; rmdir {small}", user="root", check=False)
