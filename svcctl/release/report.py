"""`svcctl releases SERVICE`, rendered (pure): per host what `<root>` holds, for a human
and as the versioned JSON `svcctl.releases/1`.

Everything here but the host and service names was read from the host: a release
record's who, CI run and URL, where `current` points, a parse problem quoting a line. It
is hostile input: the text output shows it through `printable` (every control or format
character escaped, issue 10 §2); the JSON keeps it exact, as every other schema does.
The JSON is a contract: fields are added, never renamed or removed, without bumping
`schema`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from svcctl.errors import ExitCode
from svcctl.guard import printable as safe  # output.safe: the one escaper
from svcctl.release.listing import Kind, Listed, Pointer, Points, Releases
from svcctl.release.manifest import CiRun

SCHEMA = "svcctl.releases/1"


class Outcome(Enum):
    LISTED = "listed"
    UNREACHABLE = "unreachable"  # no connection, or the call could not be run
    UNTRUSTED = "untrusted"  # <root>/releases is not a plain directory: not read
    PS_FAILED = "ps-failed"  # which release runs where is unknown: nothing listed
    FAILED = "failed"  # any other exit, or output that does not parse


@dataclass(frozen=True)
class HostReleases:
    host: str
    outcome: Outcome
    releases: Releases | None = None  # when LISTED
    error: str | None = None  # why not, when not LISTED


@dataclass(frozen=True)
class ReleasesReport:
    service: str
    root: str
    hosts: tuple[HostReleases, ...]

    @property
    def exit_code(self) -> ExitCode:
        """0 every host listed; 1 any host not (as status and diff: what svcctl could not
        see is never reported as clean)."""
        listed = all(h.outcome is Outcome.LISTED for h in self.hosts)
        return ExitCode.OK if listed else ExitCode.FINDINGS


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is(pointer: Pointer, release_id: str) -> bool:
    return pointer.points is Points.ID and pointer.release_id == release_id


def warnings(r: Releases) -> list[str]:
    """What an operator should look at (raw host text: escape it before printing)."""
    out = [w for name, p in (("current", r.current), ("previous", r.previous))
           for w in _pointer_warning(name, p, r)]
    out += [f"releases/.incoming-{i}: an upload under way, or left by one that was killed"
            for i in r.incoming]
    out += [f"{x.release_id}: {x.problem}" for x in r.releases
            if x.kind is Kind.RELEASE and x.problem is not None]
    return out


def _pointer_warning(name: str, p: Pointer, r: Releases) -> list[str]:
    link = "current" if name == "current" else ".svcctl-previous"
    if p.points is Points.NOT_A_LINK:
        return [f"{link} is not a symlink (a file or directory someone put there)"]
    if p.points is Points.ELSEWHERE:
        return [f"{link} points outside releases/: {p.target}"]
    if p.points is Points.ID and p.release_id is not None and r.get(p.release_id) is None:
        return [f"{link} points to releases/{p.release_id}, which is not there"]
    return []


# -- JSON ------------------------------------------------------------------------------

def _pointer_json(p: Pointer) -> dict[str, Any]:
    return {"state": p.points.value, "id": p.release_id, "target": p.target}


def _ci_json(ci: CiRun | None) -> dict[str, Any] | None:
    return None if ci is None else {"system": ci.system, "project": ci.project,
                                    "run": ci.run, "url": ci.url, "commit": ci.commit}


def release_json(x: Listed, r: Releases) -> dict[str, Any]:
    rec = x.record
    return {
        "id": x.release_id,
        "kind": x.kind.value,
        "when": None if rec is None else _iso(rec.when),
        "who": None if rec is None else rec.who,
        "ci": None if rec is None else _ci_json(rec.ci),
        "checksum": None if rec is None else rec.checksum,
        "files": None if rec is None else rec.files,
        "bytes": None if rec is None else rec.size,
        "current": _is(r.current, x.release_id),
        "previous": _is(r.previous, x.release_id),
        "pids": list(x.pids),
        "problem": x.problem,
    }


def host_json(h: HostReleases) -> dict[str, Any]:
    r = h.releases
    return {
        "host": h.host,
        "reachable": h.outcome is not Outcome.UNREACHABLE,
        "outcome": h.outcome.value,
        "error": h.error,
        "current": None if r is None else _pointer_json(r.current),
        "previous": None if r is None else _pointer_json(r.previous),
        "releases": [] if r is None else [release_json(x, r) for x in r.releases],
        "incoming": [] if r is None else list(r.incoming),
        "processes": [] if r is None else [
            {"pid": p.pid, "release": p.release_id, "via": "current" if p.via_current
             else "release"} for p in sorted(r.procs, key=lambda p: (p.pid, p.release_id))],
        "warnings": [] if r is None else warnings(r),
    }


def releases_json(report: ReleasesReport) -> str:
    doc = {
        "schema": SCHEMA,
        "service": report.service,
        "root": report.root,
        "exit_code": int(report.exit_code),
        "hosts": [host_json(h) for h in report.hosts],
    }
    return json.dumps(doc, indent=2)


# -- text ------------------------------------------------------------------------------

def releases_text(report: ReleasesReport) -> str:
    lines: list[str] = []
    for h in report.hosts:
        lines += host_text(h, report.root)
        lines.append("")
    bad = sum(1 for h in report.hosts if h.outcome is not Outcome.LISTED)
    verdict = f"{bad} not listed" if bad else "listed"
    lines.append(f"releases {report.service}: {len(report.hosts)} host(s), {verdict}")
    return "\n".join(lines)


def host_text(h: HostReleases, root: str) -> list[str]:
    r = h.releases
    if r is None:
        state = "UNREACHABLE" if h.outcome is Outcome.UNREACHABLE else "NOT LISTED"
        return [f"== {h.host}  {state}: {safe(h.error or h.outcome.value)}"]
    out = [f"== {h.host}  {safe(root)}"]
    if not r.releases:
        out.append("  (no releases)")
    rows = [_row(x, r) for x in r.releases]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=True)]
        out.append("  " + "  ".join(c for c in [*cells, *row[4:]] if c).rstrip())
    out += [f"  warning: {safe(w)}" for w in warnings(r)]
    return out


def _row(x: Listed, r: Releases) -> list[str]:
    """id, when, who, current/previous (padded into columns), then pids, kind, ci."""
    rec = x.record
    when = "-" if rec is None else _iso(rec.when)
    who = "-" if rec is None else safe(rec.who)
    marks = [" ".join(m for m, on in (("current", _is(r.current, x.release_id)),
                                      ("previous", _is(r.previous, x.release_id))) if on)]
    if x.pids:
        marks.append("pids " + ",".join(str(p) for p in x.pids))
    if x.kind is not Kind.RELEASE:
        marks.append(f"({_KIND_TEXT[x.kind]})")
    if rec is not None and rec.ci is not None:
        marks.append(f"ci {safe(_ci_text(rec.ci))}")
    return [safe(x.release_id), when, who, *marks]


_KIND_TEXT = {Kind.DIR: "a directory without svcctl's manifest",
              Kind.LINK: "a symlink, not followed", Kind.OTHER: "not a directory",
              Kind.RELEASE: "release"}


def _ci_text(ci: CiRun) -> str:
    return ci.url or f"{ci.system} {ci.project} run {ci.run}"
