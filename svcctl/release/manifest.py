"""The release manifest, release ids and the provenance record: pure data and text.

The manifest is what makes an upload verifiable: the host computes the same text from the
files it extracted (svcctl/scripts/release_upload.sh, with find, shasum and readlink) and
compares checksums, so both sides must produce it byte for byte:

- one line per regular file and per symlink under the release root, sorted by path
  bytewise (LC_ALL=C; Python's str order is UTF-8's byte order);
- a regular file is `f <sha256 hex> <x or -> <path>` (x: any execute bit set), a symlink
  `l <target> <path>`; paths are relative, without `./`; directories are implied;
- the text is each line followed by "\\n"; its checksum is the sha256 hex of that text.

A path or target holding a newline cannot be a line, and one that is not UTF-8 cannot be
compared: both are bad input. A symlink target holding a space is refused too: `l a b c`
would read as target `a b` or `a`, so two trees could share a checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from svcctl.errors import BadInputError, ParseError

SCHEMA = "svcctl.release/1"
RESERVED_PREFIX = ".svcctl-"  # top-level names the host keeps beside the files
MANIFEST_NAME = ".svcctl-manifest"
RECORD_NAME = ".svcctl-release.json"
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class Entry:
    """One manifest line: a regular file (sha256, executable) or a symlink (target)."""

    path: str
    sha256: str | None = None  # files only
    executable: bool = False
    target: str | None = None  # symlinks only
    size: int = 0

    @property
    def is_link(self) -> bool:
        return self.target is not None

    def line(self) -> str:
        if self.target is not None:
            return f"l {self.target} {self.path}"
        return f"f {self.sha256} {'x' if self.executable else '-'} {self.path}"


def check_path(path: str) -> str:
    """A relative release path as the manifest holds it; BadInputError if it cannot be."""
    if "\n" in path or not is_utf8(path):
        raise BadInputError(f"release path {path!r}: a newline or a name that is not UTF-8 "
                            "cannot be recorded in the manifest")
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BadInputError(f"release path {path!r} is not a plain relative path")
    if parts[0].startswith(RESERVED_PREFIX):
        raise BadInputError(f"release path {path!r}: top-level names starting "
                            f"{RESERVED_PREFIX!r} are kept for svcctl's own records")
    return path


def check_target(path: str, target: str) -> str:
    if "\n" in target or " " in target or not is_utf8(target) or not target:
        raise BadInputError(f"symlink {path} -> {target!r}: a target holding a newline or a "
                            "space, or that is not UTF-8, cannot be recorded in the manifest")
    return target


def is_utf8(text: str) -> bool:
    """False for names read from the file system that were not UTF-8 (surrogateescape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def manifest_text(entries: Iterable[Entry]) -> str:
    ordered = sorted(entries, key=lambda e: e.path.encode("utf-8"))
    return "".join(e.line() + "\n" for e in ordered)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_id(release_id: str) -> str:
    """`[A-Za-z0-9._-]{1,64}`, not starting with `.`: a safe directory name on every host."""
    if not _ID.fullmatch(release_id) or release_id.startswith("."):
        raise BadInputError(f"bad release id {release_id!r}: use 1-64 of A-Z a-z 0-9 . _ -, "
                            "not starting with '.'")
    return release_id


def id_from_git(commit: str, dirty: bool) -> str:
    """The short commit, plus `-dirty` when the work tree has changes."""
    return check_id(commit + ("-dirty" if dirty else ""))


def id_from_digest(sha256_hex: str) -> str:
    """An artifact's id: its sha256, shortened to 12."""
    return check_id(sha256_hex[:12])


@dataclass(frozen=True)
class CiRun:
    system: str  # github, gitlab, buildkite
    project: str
    run: str
    url: str
    commit: str


def ci_run(env: Mapping[str, str]) -> CiRun | None:
    """The CI run the upload comes from, read from the variables each CI system sets."""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo, run = env["GITHUB_REPOSITORY"], env["GITHUB_RUN_ID"]
        return CiRun("github", repo, run, f"{server}/{repo}/actions/runs/{run}",
                     env.get("GITHUB_SHA", ""))
    if env.get("CI_PIPELINE_ID") and env.get("CI_PROJECT_PATH"):
        return CiRun("gitlab", env["CI_PROJECT_PATH"], env["CI_PIPELINE_ID"],
                     env.get("CI_JOB_URL", ""), env.get("CI_COMMIT_SHA", ""))
    if env.get("BUILDKITE_BUILD_NUMBER") and env.get("BUILDKITE_PIPELINE_SLUG"):
        return CiRun("buildkite", env["BUILDKITE_PIPELINE_SLUG"], env["BUILDKITE_BUILD_NUMBER"],
                     env.get("BUILDKITE_BUILD_URL", ""), env.get("BUILDKITE_COMMIT", ""))
    return None


@dataclass(frozen=True)
class Provenance:
    """Who made a release, when, from what: stored in the release as RECORD_NAME."""

    release_id: str
    who: str  # user@machine
    when: datetime  # UTC
    checksum: str
    files: int
    size: int  # bytes of regular files
    ci: CiRun | None = None

    def to_json(self) -> str:
        ci = None if self.ci is None else {
            "system": self.ci.system, "project": self.ci.project, "run": self.ci.run,
            "url": self.ci.url, "commit": self.ci.commit}
        record = {
            "schema": SCHEMA, "id": self.release_id, "who": self.who,
            "when": self.when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "manifest_sha256": self.checksum, "files": self.files, "bytes": self.size,
            "ci": ci,
        }
        return json.dumps(record, indent=2, sort_keys=True) + "\n"


def parse_record(text: str) -> Provenance:
    """A record read back from a host (RECORD_NAME); ParseError if it is not one."""
    try:
        raw = json.loads(text)
        if raw.get("schema") != SCHEMA:
            raise ParseError(f"release record: schema {raw.get('schema')!r}, not {SCHEMA}")
        ci = raw.get("ci")
        return Provenance(
            str(raw["id"]), str(raw["who"]),
            datetime.strptime(raw["when"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
            str(raw["manifest_sha256"]), int(raw["files"]), int(raw["bytes"]),
            None if ci is None else CiRun(str(ci["system"]), str(ci["project"]),
                                          str(ci["run"]), str(ci["url"]), str(ci["commit"])))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError(f"release record: not a {SCHEMA} record: {exc}") from exc


def provenance(release_id: str, entries: Iterable[Entry], who: str, when: datetime,
               env: Mapping[str, str]) -> Provenance:
    listed = list(entries)
    return Provenance(check_id(release_id), who, when, checksum(manifest_text(listed)),
                      len(listed), sum(e.size for e in listed if not e.is_link), ci_run(env))
