"""`svcctl releases` rendered (svcctl.release.report, pure; issue 13): the JSON contract
`svcctl.releases/1`, the text table and its warnings, and host text (a record, a link's
target) that tries to drive the terminal shown escaped, never raw.

The listings are release_list.sh's output as the host prints it, through the real parser.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from svcctl.errors import ExitCode
from svcctl.release.listing import parse_listing
from svcctl.release.report import (
    SCHEMA,
    HostReleases,
    Outcome,
    ReleasesReport,
    releases_json,
    releases_text,
)

ROOT = "/Users/ops/shiva"
TOP = {"schema", "service", "root", "exit_code", "hosts"}
HOST = {"host", "reachable", "outcome", "error", "current", "previous", "releases",
        "incoming", "processes", "warnings"}
RELEASE = {"id", "kind", "when", "who", "ci", "checksum", "files", "bytes", "current",
           "previous", "pids", "problem"}
POINTER = {"state", "id", "target"}
CI = {"system", "project", "run", "url", "commit"}


def _record(rid: str, when: str, who: str = "ops@builder", ci: Any = None) -> str:
    doc = {"schema": "svcctl.release/1", "id": rid, "who": who, "when": when,
           "manifest_sha256": rid[-1] * 64, "files": 2, "bytes": 40, "ci": ci}
    return "".join("|" + line + "\n" for line in json.dumps(doc, indent=2).split("\n"))


GITHUB = {"system": "github", "project": "acme/shiva", "run": "42",
          "url": "https://github.com/acme/shiva/actions/runs/42", "commit": "abc123"}


def _listing(current: str = "id v2", previous: str = "id v1", extra: str = "") -> str:
    return (f"current {current}\nprevious {previous}\n"
            "release v2 release record\n" + _record("v2", "2026-12-01T10:00:00Z", ci=GITHUB) +
            "release v1 release record\n" + _record("v1", "2026-11-30T09:00:00Z") +
            "release theirs dir none\n" + extra +
            "proc 501 v2 release\nproc 777 v1 release\nproc 778 v1 current\n")


def _report(*hosts: HostReleases) -> ReleasesReport:
    return ReleasesReport("shiva", ROOT, hosts)


def test_json_lists_each_release_newest_first_with_its_record_and_pids() -> None:
    rep = _report(HostReleases("tesseract", Outcome.LISTED, parse_listing(_listing())))
    doc = json.loads(releases_json(rep))
    assert set(doc) == TOP and doc["schema"] == SCHEMA == "svcctl.releases/1"
    assert (doc["service"], doc["root"], doc["exit_code"]) == ("shiva", ROOT, 0)
    (h,) = doc["hosts"]
    assert set(h) == HOST
    assert (h["host"], h["reachable"], h["outcome"], h["error"]) == \
        ("tesseract", True, "listed", None)
    assert h["current"] == {"state": "id", "id": "v2", "target": None}
    assert h["previous"] == {"state": "id", "id": "v1", "target": None}
    assert [r["id"] for r in h["releases"]] == ["v2", "v1", "theirs"]
    assert all(set(r) == RELEASE for r in h["releases"])
    v2, v1, theirs = h["releases"]
    assert v2 == {"id": "v2", "kind": "release", "when": "2026-12-01T10:00:00Z",
                  "who": "ops@builder", "ci": GITHUB, "checksum": "2" * 64, "files": 2,
                  "bytes": 40, "current": True, "previous": False, "pids": [501],
                  "problem": None}
    assert set(v2["ci"]) == CI
    assert (v1["current"], v1["previous"], v1["pids"], v1["ci"]) == (False, True, [777, 778],
                                                                      None)
    assert theirs["kind"] == "dir" and theirs["when"] is None and theirs["problem"] == \
        "no record" and theirs["current"] is False
    assert h["processes"] == [{"pid": 501, "release": "v2", "via": "release"},
                              {"pid": 777, "release": "v1", "via": "release"},
                              {"pid": 778, "release": "v1", "via": "current"}]
    assert h["incoming"] == [] and h["warnings"] == []  # a dir that is not svcctl's: no alarm


def test_text_is_a_table_per_host_with_markers() -> None:
    rep = _report(HostReleases("tesseract", Outcome.LISTED, parse_listing(_listing())))
    lines = releases_text(rep).split("\n")
    assert lines[0] == f"== tesseract  {ROOT}"
    v2, v1, theirs = lines[1:4]
    assert v2.split() == ["v2", "2026-12-01T10:00:00Z", "ops@builder", "current", "pids",
                          "501", "ci", "https://github.com/acme/shiva/actions/runs/42"]
    assert v1.split() == ["v1", "2026-11-30T09:00:00Z", "ops@builder", "previous", "pids",
                          "777,778"]
    assert theirs.split()[:3] == ["theirs", "-", "-"]
    assert "without svcctl's manifest" in theirs
    # the columns line up: each row's `when` starts where the others' does
    assert len({ln.index("20") for ln in (v2, v1)}) == 1
    assert lines[-1] == "releases shiva: 1 host(s), listed"


def test_warnings_for_a_current_that_is_no_link_leftover_uploads_and_bad_records() -> None:
    bad = "release v0 release record\n|{\"schema\": \"svcctl.release/0\"}\n" \
          "release v9 release none\nincoming v3\n"
    r = parse_listing(_listing(current="notlink", previous="elsewhere /srv/old", extra=bad))
    rep = _report(HostReleases("tesseract", Outcome.LISTED, r))
    (h,) = json.loads(releases_json(rep))["hosts"]
    assert h["current"] == {"state": "notlink", "id": None, "target": None}
    assert h["previous"] == {"state": "elsewhere", "id": None, "target": "/srv/old"}
    assert h["incoming"] == ["v3"]
    assert not any(x["current"] or x["previous"] for x in h["releases"])
    v0 = next(x for x in h["releases"] if x["id"] == "v0")
    assert "schema 'svcctl.release/0'" in v0["problem"] and v0["when"] is None
    assert rep.exit_code is ExitCode.OK  # listed: warnings are shown, not an exit code
    warned = [ln for ln in releases_text(rep).split("\n") if ln.startswith("  warning: ")]
    assert len(warned) == 5 and warned == [f"  warning: {w}" for w in h["warnings"]]
    text = "\n".join(warned)
    assert "current is not a symlink" in text
    assert ".svcctl-previous points outside releases/: /srv/old" in text
    assert "releases/.incoming-v3: an upload under way" in text
    assert "v0: release record: schema 'svcctl.release/0'" in text
    assert "v9: no record" in text


def test_current_naming_a_release_that_is_gone_is_a_warning() -> None:
    rep = _report(HostReleases("h", Outcome.LISTED, parse_listing(_listing(current="id v7"))))
    assert "  warning: current points to releases/v7, which is not there" in \
        releases_text(rep).split("\n")


def test_hosts_not_listed_are_results_and_exit_1() -> None:
    rep = _report(
        HostReleases("tesseract", Outcome.LISTED, parse_listing("current none\nprevious none\n")),
        HostReleases("backup", Outcome.UNREACHABLE, None, "backup: connection refused"),
        HostReleases("old", Outcome.UNTRUSTED, None, "releases is not a plain directory: x"))
    assert rep.exit_code is ExitCode.FINDINGS
    doc = json.loads(releases_json(rep))
    assert doc["exit_code"] == 1
    ok, down, untrusted = doc["hosts"]
    assert ok["releases"] == [] and ok["current"]["state"] == "none"
    assert set(down) == HOST and (down["reachable"], down["outcome"]) == (False, "unreachable")
    assert down["error"] == "backup: connection refused"
    assert down["current"] is None and down["releases"] == [] and down["warnings"] == []
    assert (untrusted["reachable"], untrusted["outcome"]) == (True, "untrusted")
    text = releases_text(rep)
    assert "== tesseract  /Users/ops/shiva\n  (no releases)" in text
    assert "== backup  UNREACHABLE: backup: connection refused" in text
    assert "== old  NOT LISTED: releases is not a plain directory: x" in text
    assert text.endswith("releases shiva: 3 host(s), 2 not listed")


HOSTILE = "\x1b]0;owned\x07\x1b[2J\r\u202eevil\x9b"


def _raw_controls(text: str) -> set[str]:
    return {c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")}


def test_hostile_host_text_is_escaped_in_text_and_exact_in_json() -> None:
    """A record's who and CI url, a link target and an error are the host's words: a
    record with terminal escapes redraws nothing (the JSON keeps them, as JSON escapes)."""
    ci = {**GITHUB, "url": f"https://x/{HOSTILE}", "project": HOSTILE}
    listing = (f"current elsewhere /tmp/{HOSTILE}\nprevious none\n"
               "release v5 release record\n" + _record("v5", "2026-12-01T10:00:00Z",
                                                       who=f"mallory{HOSTILE}", ci=ci) +
               "release v4 release record\n|{\"schema\": \"\x1b[31m\"}\n")
    r = parse_listing(listing)
    rep = _report(HostReleases("tesseract", Outcome.LISTED, r),
                  HostReleases("backup", Outcome.FAILED, None, f"failed: {HOSTILE}"))
    text = releases_text(rep)
    assert _raw_controls(text) == set(), repr(text)
    assert "mallory\\x1b]0;owned\\x07\\x1b[2J\\x0d\\u202eevil\\x9b" in text
    assert f"points outside releases/: /tmp/{HOSTILE}" not in text
    assert "points outside releases/: /tmp/\\x1b]0;owned" in text
    assert "== backup  NOT LISTED: failed: \\x1b]0;owned" in text
    doc = releases_json(rep)
    assert _raw_controls(doc) == set()  # json.dumps escapes them itself
    (h, _) = json.loads(doc)["hosts"]
    assert h["releases"][0]["who"] == f"mallory{HOSTILE}"  # exact, for machines
    assert h["releases"][0]["ci"]["url"] == f"https://x/{HOSTILE}"
    assert h["current"]["target"] == f"/tmp/{HOSTILE}"
    assert "not a svcctl.release/1 record" in h["releases"][1]["problem"]
