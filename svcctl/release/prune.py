"""Which releases to prune, and what release_prune.sh did (pure).

The plan (plan_prune) is made from a listing (svcctl.release.listing): keep the newest
`keep` releases (listing.newest_first: by the record's time, else the directory's mtime)
and, whatever their age, the release `current` points to, the previous one and every
release a process runs; delete the rest. Only svcctl's releases and stray symlinks are
candidates: a directory without svcctl's manifest, or a file, is never deleted. If
`current` or `.svcctl-previous` is not a link, or points outside releases/, nothing is.

The script checks again, for each release right before its rm and in the same call:
`current`, previous and ps may have changed since the listing. parse_pruned reads its
lines: `deleted ID`, `gone ID`, `failed ID`, `kept ID REASON [PIDS]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from svcctl.errors import ParseError
from svcctl.release.listing import Kind, Releases


class Why(Enum):
    """Why a release was kept (or what became of it)."""

    NEWEST = "newest"  # among the newest `keep`
    CURRENT = "current"
    PREVIOUS = "previous"
    RUNNING = "running"  # a process runs it (pids)
    UNSURE = "unsure"  # current or previous is not a link, or points outside releases/
    UNVERIFIED = "unverified"  # ps failed on the host: no rm without it
    FOREIGN = "foreign"  # not svcctl's release: a directory without its manifest, a file
    FAILED = "failed"  # rm could not remove it all


@dataclass(frozen=True)
class Kept:
    release_id: str
    why: Why
    pids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    delete: tuple[str, ...]
    keep: tuple[Kept, ...]


def plan_prune(listing: Releases, keep: int) -> Plan:
    """Keep `keep` newest (keep >= 0), and current, previous and running whatever their age."""
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, not {keep}")
    unsure = not (listing.current.known and listing.previous.known)
    newest = {r.release_id for r in
              [r for r in listing.releases if r.kind is Kind.RELEASE][:keep]}
    kept: list[Kept] = []
    delete: list[str] = []
    for r in listing.releases:
        if r.kind in (Kind.DIR, Kind.OTHER):
            kept.append(Kept(r.release_id, Why.FOREIGN))
        elif r.release_id == listing.current.release_id:
            kept.append(Kept(r.release_id, Why.CURRENT, r.pids))
        elif r.release_id == listing.previous.release_id:
            kept.append(Kept(r.release_id, Why.PREVIOUS, r.pids))
        elif r.pids:
            kept.append(Kept(r.release_id, Why.RUNNING, r.pids))
        elif r.release_id in newest:
            kept.append(Kept(r.release_id, Why.NEWEST))
        elif unsure:
            kept.append(Kept(r.release_id, Why.UNSURE))
        else:
            delete.append(r.release_id)
    return Plan(tuple(delete), tuple(kept))


@dataclass(frozen=True)
class Pruned:
    deleted: tuple[str, ...]
    gone: tuple[str, ...]  # no longer there when its turn came
    kept: tuple[Kept, ...]  # kept by the script's own check (or FAILED)


def parse_pruned(text: str, asked: tuple[str, ...]) -> Pruned:
    """release_prune.sh's stdout for the ids `asked`; ParseError unless each has one line."""
    deleted: list[str] = []
    gone: list[str] = []
    kept: list[Kept] = []
    seen: list[str] = []
    for line in text.split("\n"):
        if not line:
            continue
        words = line.split(" ")
        if len(words) < 2 or words[1] not in asked or words[1] in seen:
            raise ParseError(f"prune: bad line {line!r}")
        rid = words[1]
        seen.append(rid)
        if words[0] == "deleted" and len(words) == 2:
            deleted.append(rid)
        elif words[0] == "gone" and len(words) == 2:
            gone.append(rid)
        elif words[0] == "failed" and len(words) == 2:
            kept.append(Kept(rid, Why.FAILED))
        elif words[0] == "kept":
            kept.append(_kept(words, line))
        else:
            raise ParseError(f"prune: bad line {line!r}")
    if sorted(seen) != sorted(asked):
        raise ParseError(f"prune: no word on {sorted(set(asked) - set(seen))}")
    return Pruned(tuple(deleted), tuple(gone), tuple(kept))


def _kept(words: list[str], line: str) -> Kept:
    """`kept ID REASON`, or `kept ID running PID,PID...`."""
    try:
        why = Why(words[2]) if len(words) in (3, 4) else None
    except ValueError:
        why = None
    if why is Why.RUNNING and len(words) == 4:
        pids = words[3].split(",")
        if all(p.isdigit() for p in pids):
            return Kept(words[1], why, tuple(int(p) for p in pids))
    elif why not in (None, Why.RUNNING, Why.NEWEST, Why.FAILED) and len(words) == 3:
        return Kept(words[1], why)
    raise ParseError(f"prune: bad line {line!r}")
