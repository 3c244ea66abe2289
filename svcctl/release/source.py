"""A release's local source: a directory or a `.tar.gz` CI artifact, read into a manifest
and a deterministic tar stream (local file I/O; git as a subprocess for the default id).

Everything a host must not receive is refused here, before a byte is sent, as one line,
exit 2 (BadInputError): a missing source, an unreadable file or directory, a FIFO, socket
or device, a symlink that is absolute or whose `..` leaves the source (followed through
the source's own links, as the kernel would), and an artifact member with an absolute
path or a `..`. An artifact is checked member by member, then extracted to a private
temporary directory and read like a directory, so both kinds meet the same checks.

The tar stream is sorted by path, owned by uid/gid 0 with no names, keeps each file's
mtime (whole seconds), and normalizes modes to what the manifest records: 0755 for a file
with any execute bit, else 0644; directories 0755 (so the host can prune them).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from svcctl.errors import BadInputError
from svcctl.release.manifest import (
    RECORD_NAME,
    Entry,
    Provenance,
    check_id,
    check_path,
    check_target,
    checksum,
    id_from_digest,
    id_from_git,
    manifest_text,
    provenance,
)

_MAX_HOPS = 40  # symlinks followed while resolving one target (the kernel's MAXSYMLINKS)
# tarfile's stream mode re-copies its buffer on each write: 64 KiB builds a 50 MB stream
# about 4x faster than 1 MiB did (benchmarks/release_upload.py)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Source:
    """A release read from `origin`; `root` is the directory the files are read from (the
    origin itself, or an artifact's private extraction)."""

    origin: Path
    root: Path
    entries: tuple[Entry, ...]
    dirs: tuple[str, ...]
    mtimes: Mapping[str, int] = field(default_factory=dict)
    digest: str | None = None  # an artifact's sha256

    @property
    def manifest(self) -> str:
        return manifest_text(self.entries)

    @property
    def checksum(self) -> str:
        return checksum(self.manifest)


@contextmanager
def open_source(path: Path) -> Iterator[Source]:
    """Read a directory, or a `.tar.gz`, into a Source; BadInputError if it can't be shipped."""
    try:
        st = path.stat()
    except OSError as exc:
        raise BadInputError(f"release source {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(st.st_mode):
        yield read_dir(path, path)
        return
    if not path.name.endswith((".tar.gz", ".tgz")) or not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"release source {path} is neither a directory nor a .tar.gz")
    digest = _sha256_of(path, path.name)
    with tempfile.TemporaryDirectory(prefix="svcctl-release-") as tmp:
        _extract(path, Path(tmp))
        src = read_dir(Path(tmp), path)
        yield Source(path, src.root, src.entries, src.dirs, src.mtimes, digest)


def read_dir(root: Path, origin: Path) -> Source:
    kinds: dict[str, str] = {}  # path -> "d", "f" or "l"
    entries: list[Entry] = []
    mtimes: dict[str, int] = {}

    def fail(exc: OSError) -> None:
        raise BadInputError(f"release source: cannot read {exc.filename}: {exc.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = check_path(os.path.relpath(full, root))
            try:
                st = os.lstat(full)
            except OSError as exc:
                fail(exc)
            mtimes[rel] = max(0, int(st.st_mtime))
            if stat.S_ISDIR(st.st_mode):
                kinds[rel] = "d"
            elif stat.S_ISLNK(st.st_mode):
                kinds[rel] = "l"
                entries.append(Entry(rel, target=check_target(rel, os.readlink(full))))
            elif stat.S_ISREG(st.st_mode):
                kinds[rel] = "f"
                entries.append(Entry(rel, _sha256_of(Path(full), rel),
                                     bool(st.st_mode & 0o111), size=st.st_size))
            else:
                raise BadInputError(f"release source: {rel} is not a file, directory or "
                                    "symlink (a FIFO, socket or device cannot be shipped)")
    if not entries:
        raise BadInputError(f"release source {origin} holds no files")
    targets = {e.path: e.target for e in entries if e.target is not None}
    for link, target in targets.items():
        _check_inside(link, target, targets)
    dirs = tuple(p for p, k in kinds.items() if k == "d")
    return Source(origin, root, tuple(entries), dirs, mtimes)


def _check_inside(link: str, target: str, targets: Mapping[str, str]) -> None:
    """Resolve `target` from `link`'s directory within the source, following the source's
    own links (a lexical check misses `l -> .` then `x -> l/..`); refuse leaving it."""
    if target.startswith("/"):
        raise BadInputError(f"release source: symlink {link} -> {target} is absolute: it "
                            "would point outside the release")
    stack = link.split("/")[:-1]
    todo = target.split("/")
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise BadInputError(f"release source: symlink {link} -> {target} points "
                                    "outside the source")
            stack.pop()
            continue
        stack.append(part)
        inner = targets.get("/".join(stack))
        if inner is not None:
            hops += 1
            if hops > _MAX_HOPS or inner.startswith("/"):
                raise BadInputError(f"release source: symlink {link} -> {target} does not "
                                    "resolve inside the source")
            stack.pop()
            todo = inner.split("/") + todo


def _sha256_of(path: Path, name: str) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise BadInputError(f"release source: cannot read {name}: {exc.strerror}") from exc


def _extract(artifact: Path, dest: Path) -> None:
    """Check every member, then extract (Python's `data` filter as a second guard)."""
    try:
        with tarfile.open(artifact, "r:gz") as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m)
            tf.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:  # a link leading out, caught by the second guard
        raise BadInputError(f"release source {artifact}: {exc}") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadInputError(f"release source {artifact}: cannot read it as a .tar.gz: "
                            f"{exc}") from exc


def _check_member(m: tarfile.TarInfo) -> None:
    name = m.name
    if name.startswith("/") or ".." in name.split("/"):
        raise BadInputError(f"artifact member {name!r} has an absolute path or '..'")
    if not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
        raise BadInputError(f"artifact member {name!r} is not a file, directory or link")
    if m.islnk() and (m.linkname.startswith("/") or ".." in m.linkname.split("/")):
        raise BadInputError(f"artifact member {name!r} is a hard link outside the artifact")
    if m.issym() and m.linkname.startswith("/"):
        raise BadInputError(f"artifact member {name!r} is a symlink to an absolute path, "
                            f"{m.linkname}: it would point outside the release")


def release_id(source: Source, given: str | None) -> str:
    """`given` (validated), else the artifact's sha256 shortened, else the git commit."""
    if given is not None:
        return check_id(given)
    if source.digest is not None:
        return id_from_digest(source.digest)
    where = source.origin
    commit = _git(where, "rev-parse", "--short", "HEAD").strip()
    dirty = bool(_git(where, "status", "--porcelain", "--untracked-files=no").strip())
    return id_from_git(commit, dirty)


def _git(where: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadInputError(f"no --release given and git could not tell the commit of "
                            f"{where}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        raise BadInputError(f"no --release given and {where} is not in a git work tree "
                            f"({tail})", hint="pass --release ID")
    return proc.stdout


def who() -> str:
    return f"{getpass.getuser()}@{platform.node()}"


def record_for(source: Source, release: str, env: Mapping[str, str]) -> Provenance:
    return provenance(release, source.entries, who(), datetime.now(UTC), env)


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def tar_chunks(source: Source, record: bytes) -> Iterator[bytes]:
    """The release as an uncompressed tar stream: the provenance record first, then every
    directory, file and symlink in path order (dirs precede what they hold)."""
    sink = _Sink()
    files = {e.path: e for e in source.entries}
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
                      bufsize=_CHUNK) as tf:
        head = _info(RECORD_NAME, tarfile.REGTYPE, 0o644, int(datetime.now().timestamp()))
        head.size = len(record)
        tf.addfile(head, _Bytes(record))
        for path in sorted((*source.dirs, *files), key=lambda p: p.encode("utf-8")):
            mtime = source.mtimes.get(path, 0)
            entry = files.get(path)
            if entry is None:
                tf.addfile(_info(path, tarfile.DIRTYPE, 0o755, mtime))
            elif entry.target is not None:
                info = _info(path, tarfile.SYMTYPE, 0o777, mtime)
                info.linkname = entry.target
                tf.addfile(info)
            else:
                _add_file(tf, source.root / path, _info(
                    path, tarfile.REGTYPE, 0o755 if entry.executable else 0o644, mtime))
            chunk = sink.take()
            if chunk:
                yield chunk
    yield sink.take()


def _add_file(tf: tarfile.TarFile, full: Path, info: tarfile.TarInfo) -> None:
    try:
        with open(full, "rb") as fh:
            info.size = os.fstat(fh.fileno()).st_size
            tf.addfile(info, fh)
    except OSError as exc:
        raise BadInputError(f"release source: cannot read {info.name}: "
                            f"{exc.strerror or exc}") from exc


def _info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.pos + n
        out, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return out
