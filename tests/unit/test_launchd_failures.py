"""launchctl exit codes from FACTS 2.0-2.5, each named with a remedy."""

from __future__ import annotations

import pytest

from svcctl.launchd import GONE_CODES, classify_launchctl_error
from svcctl.launchd.argv import (
    bootout_argv,
    bootstrap_argv,
    enable_argv,
    kickstart_argv,
    list_argv,
    print_argv,
    print_disabled_argv,
)
from svcctl.model import Domain

USER = Domain.parse("user/501")


@pytest.mark.parametrize(
    ("verb", "rc", "stderr", "cause", "remedy_has"),
    [
        ("bootout", 3, "Boot-out failed: 3: No such process\n", "not-loaded", "not loaded"),
        (
            "bootstrap",
            5,
            "Bootstrap failed: 5: Input/output error\n"
            "Try re-running the command as root for richer errors.\n",
            "ambiguous-eio",
            "enable",
        ),
        ("bootstrap", 17, "Bootstrap failed: 17: File exists\n", "already-loaded", "bootout"),
        ("bootstrap", 37, "", "already-loaded", "bootout"),
        ("kickstart", 37, "", "already-running", "already runs"),
        ("print", 64, "Unrecognized target specifier.\n", "usage", "bug"),
        ("print", 112, "Could not find domain for user gui: 501\n", "domain-missing", "user/<uid>"),
        (
            "kickstart",
            113,
            'Could not find service "x" in domain for user gui: 501\n',
            "not-loaded",
            "bootstrap",
        ),
        (
            "bootstrap",
            119,
            "/L/x.plist: Service is disabled\nBootstrap failed: 119: Service is disabled\n",
            "disabled",
            "launchctl enable",
        ),
        (
            "bootstrap",
            122,
            "Load failed: 122: Path had bad ownership/permissions\n",
            "bad-permissions",
            "root:wheel",
        ),
        (
            "bootstrap",
            125,
            "Bootstrap failed: 125: Domain does not support specified action\n",
            "domain-unsupported",
            "console login",
        ),
        ("bootstrap", 134, "", "session-mismatch", "Background"),
        ("kill", 3, "No process to signal.\n", "not-running", "no process"),
        ("bootstrap", 154, "", "unknown", "launchctl error 154"),
    ],
)
def test_classify(verb: str, rc: int, stderr: str, cause: str, remedy_has: str) -> None:
    out = classify_launchctl_error(rc, stderr, verb, target="user/501/x")
    assert out.cause == cause
    assert remedy_has in out.remedy
    assert not out.ok
    assert "{target}" not in out.remedy
    assert out.one_line().startswith(f"launchctl {verb} failed ({rc}: ")


def test_message_and_reported_code() -> None:
    out = classify_launchctl_error(
        5,
        "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for "
        "richer errors.\n",
        "bootstrap",
    )
    assert out.message == "Bootstrap failed: 5: Input/output error"
    assert out.reported == 5
    assert out.meaning == "Input/output error"


def test_bootout_gone_codes() -> None:
    # accept 3, 5 and 113 as "gone" (FACTS 2.2)
    for rc in GONE_CODES:
        assert classify_launchctl_error(rc, "", "bootout").gone
    assert not classify_launchctl_error(36, "", "bootout").gone


def test_success() -> None:
    out = classify_launchctl_error(0, "", "bootstrap")
    assert out.ok and out.cause == "ok"


def test_argv_builders() -> None:
    system = Domain.parse("system")
    assert bootstrap_argv(USER, "/Users/ops/Library/LaunchAgents/a.b.plist") == [
        "launchctl",
        "bootstrap",
        "user/501",
        "/Users/ops/Library/LaunchAgents/a.b.plist",
    ]
    assert bootout_argv(system, "a.b") == ["launchctl", "bootout", "system/a.b"]
    assert kickstart_argv(USER, "a.b") == ["launchctl", "kickstart", "user/501/a.b"]
    assert kickstart_argv(USER, "a.b", k=True, p=True) == [
        "launchctl",
        "kickstart",
        "-kp",
        "user/501/a.b",
    ]
    assert enable_argv(Domain.parse("gui/501"), "a.b") == ["launchctl", "enable", "gui/501/a.b"]
    assert print_argv(USER) == ["launchctl", "print", "user/501"]
    assert print_argv(USER, "a.b") == ["launchctl", "print", "user/501/a.b"]
    assert print_disabled_argv(system) == ["launchctl", "print-disabled", "system"]
    assert list_argv("a.b") == ["launchctl", "list", "a.b"]


@pytest.mark.parametrize("bad", ["", "gui", "gui/", "user/x", "login/100007", "system/0", "pid/1"])
def test_domain_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a launchd domain"):
        Domain.parse(bad)


def test_domain_targets() -> None:
    assert Domain.parse("gui/501").target == "gui/501"
    assert Domain.parse(" system ").target == "system"
    assert Domain.parse("user/0").service_target("a.b") == "user/0/a.b"
