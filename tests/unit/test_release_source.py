"""Release sources (issue 13): the manifest, ids, provenance, and hostile trees refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from svcctl.errors import BadInputError, ExitCode, ParseError
from svcctl.release.manifest import (
    RECORD_NAME,
    Entry,
    check_id,
    ci_run,
    manifest_text,
    parse_record,
    provenance,
)
from svcctl.release.source import open_source, release_id, tar_chunks


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "main.py").write_text("print('hi')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "run.sh", 0o751)
    (root / "pkg" / "a b.txt").write_bytes(b"\x00\x01")
    (root / "empty").mkdir()
    os.symlink("pkg", root / "link")
    return root


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_manifest_of_a_directory_is_the_documented_text(tmp_path: Path) -> None:
    with open_source(_tree(tmp_path / "src")) as src:
        text = src.manifest
    main, data, run = b"print('hi')\n", b"\x00\x01", b"#!/bin/sh\n"
    assert text == (
        "l pkg link\n"
        f"f {_sha(main)} - main.py\n"
        f"f {_sha(data)} - pkg/a b.txt\n"
        f"f {_sha(run)} x run.sh\n"
    )
    assert src.checksum == _sha(text.encode())
    assert "empty" in src.dirs


def test_manifest_sorts_bytewise_and_ends_each_line() -> None:
    entries = [Entry("a/b", "1" * 64), Entry("a.b", "2" * 64), Entry("é", "3" * 64),
               Entry("Z", "4" * 64, executable=True)]
    assert manifest_text(entries).splitlines() == [
        f"f {'4' * 64} x Z", f"f {'2' * 64} - a.b", f"f {'1' * 64} - a/b", f"f {'3' * 64} - é"]
    assert manifest_text([]) == ""


def _fill(root: Path, hostile: str) -> None:
    def bad_name() -> None:
        open(os.path.join(os.fsencode(root), b"\xff.py"), "w").close()

    def nested() -> None:
        (root / "d").mkdir()
        os.symlink("../../outside", root / "d" / "l")

    def via_link() -> None:  # lexically inside, really outside: here -> ., out -> here/..
        os.symlink(".", root / "here")
        os.symlink("here/..", root / "out")

    makers: dict[str, Callable[[], object]] = {
        "abs": lambda: os.symlink("/etc/passwd", root / "l"),
        "dotdot": nested,
        "via-link": via_link,
        "fifo": lambda: os.mkfifo(root / "pipe"),
        "newline": lambda: (root / "a\nb").write_text("x"),
        "space": lambda: os.symlink("a b", root / "l"),
        "reserved": lambda: (root / ".svcctl-manifest").write_text("x"),
        "notutf8": bad_name,
        "empty": lambda: (root / "ok.py").unlink(),
    }
    makers[hostile]()


@pytest.mark.parametrize("hostile", ["abs", "dotdot", "via-link", "fifo", "newline", "space",
                                     "reserved", "missing", "notutf8", "empty"])
def test_hostile_sources_are_bad_input_in_one_line(tmp_path: Path, hostile: str) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "ok.py").write_text("x")
    if hostile == "missing":
        root = tmp_path / "nope"
    else:
        _fill(root, hostile)
    with pytest.raises(BadInputError) as err, open_source(root) as src:
        list(tar_chunks(src, b"{}"))
    assert err.value.exit_code is ExitCode.BAD_INPUT
    assert "\n" not in err.value.one_line().replace("\\n", "")


def test_links_inside_the_source_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    os.symlink("b/../b/f", root / "a" / "ok")
    os.symlink("a/b", root / "deep")
    os.symlink("deep/..", root / "up")  # -> a: inside
    os.symlink("missing", root / "dangling")
    with open_source(root) as src:
        assert {e.path: e.target for e in src.entries if e.is_link} == {
            "a/ok": "b/../b/f", "deep": "a/b", "up": "deep/..", "dangling": "missing"}


def _artifact(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, None if data is None else io.BytesIO(data))
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


@pytest.mark.parametrize("bad", [
    [(_member("/etc/x"), b"x")],
    [(_member("a/../../x"), b"x")],
    [(_member("fifo", tarfile.FIFOTYPE), None)],
    [(_member("l", tarfile.SYMTYPE, "../x"), None)],
    [(_member("dev", tarfile.CHRTYPE), None)],
])
def test_hostile_artifacts_are_bad_input(tmp_path: Path, bad: list[tuple[tarfile.TarInfo,
                                                                         bytes | None]]) -> None:
    art = _artifact(tmp_path / "a.tar.gz", [(_member("ok"), b"ok"), *bad])
    with pytest.raises(BadInputError), open_source(art):
        pass


def test_artifact_is_read_like_its_directory_and_named_by_its_digest(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    art = tmp_path / "build.tar.gz"
    subprocess.run(["tar", "czf", str(art), "-C", str(src), "."], check=True)
    with open_source(src) as a, open_source(art) as b:
        assert a.manifest == b.manifest
        assert release_id(b, None) == _sha(art.read_bytes())[:12]
        assert release_id(b, "v1.2") == "v1.2"
    with pytest.raises(BadInputError), open_source(tmp_path / "garbage.tar.gz"):
        pass
    (tmp_path / "garbage.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(BadInputError, match="cannot read it"), \
            open_source(tmp_path / "garbage.tar.gz"):
        pass


def test_tar_stream_is_deterministic_and_extracts_to_the_manifest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "src")
    with open_source(root) as src:
        one = b"".join(tar_chunks(src, b"{}"))
        two = b"".join(tar_chunks(src, b"{}"))
    # the record's own mtime is now: compare what follows it
    assert one[1024:] == two[1024:]
    with tarfile.open(fileobj=io.BytesIO(one)) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        assert names[0] == RECORD_NAME
        assert names[1:] == sorted(names[1:])
        assert {m.uid for m in members} == {0} and {m.uname for m in members} == {""}
        modes = {m.name: m.mode for m in members}
        assert (modes["run.sh"], modes["main.py"], modes["empty"]) == (0o755, 0o644, 0o755)
        tf.extractall(tmp_path / "out", filter="tar")
    (tmp_path / "out" / RECORD_NAME).unlink()
    with open_source(tmp_path / "out") as back:
        assert back.manifest == src.manifest


def test_release_id_from_git_commit_and_dirty(tmp_path: Path) -> None:
    repo = _tree(tmp_path / "repo")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, text=True,
                              capture_output=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x")
    short = git("rev-parse", "--short", "HEAD")
    with open_source(repo) as src:
        assert release_id(src, None) == short
        (repo / "main.py").write_text("changed\n")
        assert release_id(src, None) == f"{short}-dirty"
    with open_source(_tree(tmp_path / "plain")) as src, \
            pytest.raises(BadInputError, match="not in a git work tree"):
        release_id(src, None)


@pytest.mark.parametrize("bad", ["", ".hidden", "a/b", "x" * 65, "a b", "é", "..", "-\n"])
def test_bad_release_ids_are_refused(bad: str) -> None:
    with pytest.raises(BadInputError, match="bad release id"):
        check_id(bad)


def test_good_release_ids() -> None:
    for good in ("1.2.3", "abc123-dirty", "x" * 64, "_a", "-a"):
        assert check_id(good) == good


def test_provenance_names_the_ci_run_of_each_system() -> None:
    gh = ci_run({"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "9", "GITHUB_SHA": "abc",
                 "GITHUB_SERVER_URL": "https://ghe.example"})
    assert gh is not None and gh.url == "https://ghe.example/o/r/actions/runs/9"
    gl = ci_run({"CI_PROJECT_PATH": "g/p", "CI_PIPELINE_ID": "7", "CI_JOB_URL": "https://j",
                 "CI_COMMIT_SHA": "def"})
    assert gl is not None and (gl.system, gl.run, gl.url, gl.commit) == (
        "gitlab", "7", "https://j", "def")
    bk = ci_run({"BUILDKITE_PIPELINE_SLUG": "p", "BUILDKITE_BUILD_NUMBER": "3",
                 "BUILDKITE_BUILD_URL": "https://b", "BUILDKITE_COMMIT": "f00"})
    assert bk is not None and bk.system == "buildkite"
    assert ci_run({"CI": "true"}) is None
    entries = [Entry("a", "0" * 64, size=5), Entry("l", target="a")]
    rec = json.loads(provenance("v1", entries, "me@mac", datetime(2026, 1, 2, tzinfo=UTC),
                                {"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "9"}).to_json())
    assert rec["schema"] == "svcctl.release/1"
    assert (rec["id"], rec["who"], rec["when"], rec["files"], rec["bytes"]) == (
        "v1", "me@mac", "2026-01-02T00:00:00Z", 2, 5)
    assert rec["manifest_sha256"] == _sha(manifest_text(entries).encode())
    assert rec["ci"]["url"] == "https://github.com/o/r/actions/runs/9"


def test_a_record_reads_back_and_garbage_is_a_parse_error() -> None:
    made = provenance("v1", [Entry("a", "0" * 64, size=5)], "me@mac",
                      datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                      {"CI_PROJECT_PATH": "g/p", "CI_PIPELINE_ID": "7"})
    assert parse_record(made.to_json()) == made
    for bad in ("", "[]", "{}", '{"schema": "svcctl.release/1"}', "not json",
                made.to_json().replace("2026-01-02T03:04:05Z", "yesterday")):
        with pytest.raises(ParseError):
            parse_record(bad)


@pytest.mark.parametrize("what", ["file", "dir"])
def test_an_unreadable_file_or_directory_is_bad_input(what: str) -> None:
    """Run as nobody: root reads a mode-0 file, so the suite (run as root) drops privilege."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        _unreadable(Path(tmp), what)


def _unreadable(tmp_path: Path, what: str) -> None:
    root = tmp_path / "src"
    (root / "d").mkdir(parents=True)
    (root / "d" / "secret").write_text("x")
    os.chmod(root / "d" / "secret" if what == "file" else root / "d", 0)
    for p in (tmp_path, root):
        os.chmod(p, 0o755)
    code = ("import sys\nfrom pathlib import Path\nfrom svcctl.errors import BadInputError\n"
            "from svcctl.release.source import open_source\n"
            "try:\n    open_source(Path(sys.argv[1])).__enter__()\n"
            "except BadInputError as e:\n    print(e.one_line()); sys.exit(2)\n")
    argv = [sys.executable, "-c", code, str(root)]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.strip().endswith("Permission denied")


def test_an_artifacts_hard_links_become_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_text("same")
    os.link(src / "one", src / "two")
    art = tmp_path / "a.tgz"
    subprocess.run(["tar", "czf", str(art), "-C", str(src), "."], check=True)
    with tarfile.open(art) as tf:
        assert any(m.islnk() for m in tf.getmembers())
    with open_source(art) as a:
        assert [(e.path, e.sha256) for e in a.entries] == [
            ("one", _sha(b"same")), ("two", _sha(b"same"))]
