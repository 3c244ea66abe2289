"""The event's shape (svcctl.event/1), pinned: what `svcctl watch` prints per line and what
`--on-change` commands read from stdin and their environment. Adding a key is additive;
renaming or removing one needs svcctl.event/2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from svcctl.watch.state import EVENT_SCHEMA, KINDS, Event

EVENT_KEYS = {
    "schema", "kind", "host", "service", "at", "verdict", "previous", "detail", "pids",
    "release", "previous_release", "launchd_pid",
}
ENV_KEYS = {
    "SVCCTL_EVENT", "SVCCTL_EVENT_KIND", "SVCCTL_HOST", "SVCCTL_SERVICE", "SVCCTL_AT",
    "SVCCTL_VERDICT", "SVCCTL_PREVIOUS", "SVCCTL_DETAIL", "SVCCTL_PIDS", "SVCCTL_RELEASE",
    "SVCCTL_PREVIOUS_RELEASE",
}
AT = datetime(2026, 3, 29, 3, 12, 7, 250000, tzinfo=UTC).timestamp()

STRAY = Event("stray", "tesseract", "shiva", AT, "duplicate", "duplicate",
              "new stray pid(s) 905: launchd's pid 400 and 2 strays", (905,), "v2", None, 400)
HOST = Event("unreachable", "tesseract", None, AT, None, None, "ssh: connection refused")


def test_the_schema_and_kinds() -> None:
    assert EVENT_SCHEMA == "svcctl.event/1"
    assert KINDS == ("verdict", "stray", "release", "unreachable", "reachable", "reminder")


def test_the_json_keys_and_values() -> None:
    doc = json.loads(STRAY.to_json())
    assert set(doc) == EVENT_KEYS
    assert doc == {
        "schema": "svcctl.event/1", "kind": "stray", "host": "tesseract", "service": "shiva",
        "at": "2026-03-29T03:12:07.250Z", "verdict": "duplicate", "previous": "duplicate",
        "detail": "new stray pid(s) 905: launchd's pid 400 and 2 strays", "pids": [905],
        "release": "v2", "previous_release": None, "launchd_pid": 400,
    }


def test_a_host_event_has_every_key_with_nulls() -> None:
    doc = json.loads(HOST.to_json())
    assert set(doc) == EVENT_KEYS
    assert (doc["service"], doc["verdict"], doc["previous"], doc["pids"]) == (
        None, None, None, [])


def test_the_time_is_iso_8601_utc_and_round_trips() -> None:
    at = json.loads(STRAY.to_json())["at"]
    assert at.endswith("Z")
    parsed = datetime.fromisoformat(at)
    offset = parsed.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert parsed.timestamp() == AT


def test_one_line_whatever_the_detail_holds() -> None:
    nasty = Event("verdict", "h", "s", AT, "down", "ok", "line one\nline two\r\x00\x1b[2J")
    line = nasty.to_json()
    assert "\n" not in line and "\r" not in line and "\x00" not in line and "\x1b" not in line
    assert json.loads(line)["detail"] == "line one\nline two\r\x00\x1b[2J"  # exact in JSON


def test_the_environment() -> None:
    env = STRAY.env()
    assert set(env) == ENV_KEYS
    assert json.loads(env["SVCCTL_EVENT"]) == json.loads(STRAY.to_json())
    assert env["SVCCTL_EVENT_KIND"] == "stray"
    assert (env["SVCCTL_HOST"], env["SVCCTL_SERVICE"]) == ("tesseract", "shiva")
    assert env["SVCCTL_AT"] == "2026-03-29T03:12:07.250Z"
    assert (env["SVCCTL_VERDICT"], env["SVCCTL_PREVIOUS"]) == ("duplicate", "duplicate")
    assert env["SVCCTL_DETAIL"] == STRAY.detail
    assert env["SVCCTL_PIDS"] == "905"
    assert (env["SVCCTL_RELEASE"], env["SVCCTL_PREVIOUS_RELEASE"]) == ("v2", "")


def test_none_is_the_empty_string_in_the_environment() -> None:
    env = HOST.env()
    assert set(env) == ENV_KEYS
    for key in ("SVCCTL_SERVICE", "SVCCTL_VERDICT", "SVCCTL_PREVIOUS", "SVCCTL_PIDS",
                "SVCCTL_RELEASE", "SVCCTL_PREVIOUS_RELEASE"):
        assert env[key] == "", key


def test_no_environment_value_holds_a_nul_or_a_newline() -> None:
    nasty = Event("verdict", "h\nx", "s\x00", AT, "down", "ok", "one\ntwo\r\x00three",
                  (1, 2), "v\n1")
    env = nasty.env()
    for key, value in env.items():
        assert "\x00" not in value and "\n" not in value and "\r" not in value, key
    assert env["SVCCTL_DETAIL"] == "one\\x0atwo\\x0d\\x00three"
    assert env["SVCCTL_HOST"] == "h\\x0ax"
    assert env["SVCCTL_PIDS"] == "1 2"
    assert json.loads(env["SVCCTL_EVENT"])["detail"] == "one\ntwo\r\x00three"
