"""What a host holds under a release root, read from release_list.sh's output (pure).

The script (svcctl/scripts/release_list.sh) prints, in one call:

- `current STATE` and `previous STATE`: where `<root>/current` and `<root>/.svcctl-previous`
  point; STATE is `id ID`, `elsewhere TARGET`, `none` or `notlink`. Previous is what
  `current` pointed to before the last switch that changed it (release_switch.sh keeps it).
- `release ID KIND RECORD` per entry of `<root>/releases`, newest directory mtime first
  (`ls -t`); KIND is `release` (a directory with svcctl's manifest), `dir` (a directory
  without one), `link` or `other`; RECORD is `record` (its lines follow, each after a `|`),
  `none` (missing, a link, not a plain file) or `large` (over 64 KiB: not read).
- `incoming ID` per upload under way (or left by one that was killed outright).
- `proc PID ID HOW`: a process whose command names the release (HOW `release`), or names
  `<root>/current/...` while current points to it (HOW `current`).

A record that does not parse is kept as its problem, never raised: the listing of the
other releases stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from svcctl.errors import BadInputError, ParseError
from svcctl.release.manifest import Provenance, check_id, parse_record


class Kind(Enum):
    RELEASE = "release"  # a directory with svcctl's manifest
    DIR = "dir"  # a directory without one: not svcctl's, never pruned
    LINK = "link"  # a symlink in releases/: never followed; prune removes the link itself
    OTHER = "other"  # a file, FIFO, ...: never pruned


class Points(Enum):
    ID = "id"  # at releases/ID
    ELSEWHERE = "elsewhere"  # a link to something that is not releases/ID
    NONE = "none"
    NOT_A_LINK = "notlink"  # a file or directory someone put there


@dataclass(frozen=True)
class Pointer:
    points: Points
    release_id: str | None = None
    target: str | None = None  # for ELSEWHERE

    @property
    def known(self) -> bool:
        """Nothing about it stops prune: absent, or at a release."""
        return self.points in (Points.ID, Points.NONE)


@dataclass(frozen=True)
class Proc:
    pid: int
    release_id: str
    via_current: bool  # its command names <root>/current/..., not the release's own path


@dataclass(frozen=True)
class Listed:
    release_id: str
    kind: Kind
    rank: int  # 0: the newest directory mtime
    record: Provenance | None = None
    problem: str | None = None  # why there is no record
    pids: tuple[int, ...] = ()

    @property
    def when(self) -> datetime | None:
        return None if self.record is None else self.record.when


@dataclass(frozen=True)
class Releases:
    current: Pointer
    previous: Pointer
    releases: tuple[Listed, ...]  # newest first: see newest_first
    incoming: tuple[str, ...] = ()
    procs: tuple[Proc, ...] = field(default=())

    def get(self, release_id: str) -> Listed | None:
        return next((r for r in self.releases if r.release_id == release_id), None)


def newest_first(listed: list[Listed]) -> tuple[Listed, ...]:
    """By the record's `when` (the upload's own clock), newest first; a release without a
    readable record after all that have one, by its directory's mtime (`ls -t`). The
    record, not the mtime, because the mtime moves when anything is written into the
    release's top directory (a `__pycache__`, a shared link), a rollback target too."""
    dated = sorted((r for r in listed if r.when is not None),
                   key=lambda r: (r.when, -r.rank), reverse=True)
    return (*dated, *sorted((r for r in listed if r.when is None), key=lambda r: r.rank))


def _pointer(words: list[str], line: str) -> Pointer:
    if words == ["none"]:
        return Pointer(Points.NONE)
    if words == ["notlink"]:
        return Pointer(Points.NOT_A_LINK)
    if len(words) == 2 and words[0] == "id":
        return Pointer(Points.ID, _id(words[1], line))
    if len(words) >= 2 and words[0] == "elsewhere":
        return Pointer(Points.ELSEWHERE, target=" ".join(words[1:]))
    raise ParseError(f"release listing: bad line {line!r}")


def _id(text: str, line: str) -> str:
    try:
        return check_id(text)
    except BadInputError as exc:  # a name on the host we cannot use: not our output
        raise ParseError(f"release listing: bad id in {line!r}") from exc


def _release(words: list[str], line: str) -> tuple[str, Kind, str]:
    """`release ID KIND RECORD`."""
    kinds = {k.value: k for k in Kind}
    if len(words) != 4 or words[2] not in kinds or words[3] not in ("record", "none", "large"):
        raise ParseError(f"release listing: bad line {line!r}")
    return _id(words[1], line), kinds[words[2]], words[3]


def _proc(words: list[str], line: str) -> Proc:
    """`proc PID ID HOW`."""
    if len(words) != 4 or not words[1].isdigit() or words[3] not in ("release", "current"):
        raise ParseError(f"release listing: bad line {line!r}")
    return Proc(int(words[1]), _id(words[2], line), words[3] == "current")


def _record(lines: list[str]) -> tuple[Provenance | None, str | None]:
    try:
        return parse_record("\n".join(lines)), None
    except ParseError as exc:
        return None, exc.message


def parse_listing(text: str) -> Releases:
    """release_list.sh's stdout; ParseError if a line is not one it prints."""
    pointers: dict[str, Pointer] = {}
    rows: list[tuple[str, Kind, str]] = []
    records: dict[str, list[str]] = {}
    incoming: list[str] = []
    procs: list[Proc] = []
    for line in text.split("\n"):
        if line.startswith("|"):
            if not rows or rows[-1][2] != "record":
                raise ParseError("release listing: record line outside a record")
            records.setdefault(rows[-1][0], []).append(line[1:])
            continue
        words = line.split(" ")
        head = words[0]
        if line == "":
            continue
        if head in ("current", "previous") and head not in pointers:
            pointers[head] = _pointer(words[1:], line)
        elif head == "release":
            rows.append(_release(words, line))
        elif head == "incoming" and len(words) == 2:
            incoming.append(_id(words[1], line))
        elif head == "proc":
            procs.append(_proc(words, line))
        else:
            raise ParseError(f"release listing: bad line {line!r}")
    if set(pointers) != {"current", "previous"}:
        raise ParseError("release listing: no current or previous line")
    return Releases(pointers["current"], pointers["previous"], _listed(rows, records, procs),
                    tuple(incoming), tuple(procs))


def _listed(rows: list[tuple[str, Kind, str]], records: dict[str, list[str]],
            procs: list[Proc]) -> tuple[Listed, ...]:
    listed = []
    for rank, (rid, kind, state) in enumerate(rows):
        record, problem = (None, "no record") if state == "none" else \
            (None, "record over 64 KiB: not read") if state == "large" else \
            _record(records.get(rid, []))
        pids = tuple(sorted({p.pid for p in procs if p.release_id == rid}))
        listed.append(Listed(rid, kind, rank, record, problem, pids))
    return newest_first(listed)
