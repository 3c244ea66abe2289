"""Diff's pure judgement (svcctl.assess.drift): three sides, one vocabulary of plist keys.

The loaded jobs are real captures (../shared/launchd/captures, SOURCES.md there): a
LaunchAgent running in gui/501 (`launchctl print`, which shows its environment) and a
Homebrew job read by `launchctl list <label>` (which does not). The rendered and installed
plists are written here to match, or differ from, what the captures show.
"""

from __future__ import annotations

import plistlib

from svcctl.assess.drift import (
    I_L,
    PATH,
    PROGRAM,
    R_I,
    R_L,
    UNKNOWN,
    Row,
    assess_drift,
    compare,
)
from svcctl.launchd import parse_list_label, parse_print
from svcctl.model import Domain, DomainKind, HostSpec
from tests.unit.captures import capture

LABEL = "com.motherboard.disaster.backup"
PRINTED = capture("print_service/motherboard_backup_gui_running_sigterm_noexitline.txt")
JOB = parse_print(PRINTED)
PATH_ = f"/Users/marcela-dev/Library/LaunchAgents/{LABEL}.plist"
LOGS = "/Users/marcela-dev/Projects/motherboard-systems-hq-clean/logs"
SCRIPT = ("/Users/marcela-dev/Projects/motherboard-systems-hq-clean/scripts/disaster-recovery/"
          "create-phase736-external-backup.sh")
RENDERED = {"Label": LABEL, "ProgramArguments": ["/bin/bash", SCRIPT], "RunAtLoad": True,
            "StandardOutPath": f"{LOGS}/disaster-backup.out.log",
            "StandardErrorPath": f"{LOGS}/disaster-backup.err.log"}
HOST = HostSpec("studio", Domain(DomainKind.GUI, 501), home="/Users/marcela-dev")


def test_the_capture_matches_its_plist_and_nothing_differs() -> None:
    assert JOB.path == PATH_ and JOB.pid == 4669
    assert compare(RENDERED, dict(RENDERED), JOB, PATH_) == ()


def test_an_edited_file_not_bootstrapped_again_differs_from_the_render_and_the_job() -> None:
    """launchd keeps the copy it read at bootstrap (FACTS 2.1): the job still matches the
    render, the file matches neither."""
    installed = {**RENDERED, "EnvironmentVariables": {"MODE": "live"}}
    assert compare(RENDERED, installed, JOB, PATH_) == (
        # the file gained a dictionary the render has not: one row for the key ...
        Row("EnvironmentVariables", None, {"MODE": "live"}, UNKNOWN, (R_I,)),
        # ... and launchd's environment (FACTS 3.4: XPC_SERVICE_NAME only) lacks its entry
        Row("EnvironmentVariables.MODE", None, "live", None, (I_L,)),
    )
    both = {"EnvironmentVariables": {"MODE": "paper", "TZ": "UTC"}}
    edited = {**RENDERED, "EnvironmentVariables": {"MODE": "live", "TZ": "UTC"}}
    assert compare({**RENDERED, **both}, edited, JOB, PATH_) == (
        Row("EnvironmentVariables.MODE", "paper", "live", None, (R_I, R_L, I_L)),
        Row("EnvironmentVariables.TZ", "UTC", "UTC", None, (R_L, I_L)),
    )


def test_arguments_program_and_path_are_compared_with_what_launchd_shows() -> None:
    moved = "/Users/marcela-dev/Library/Application Support/svcctl/LaunchAgents/x.plist"
    rendered = {**RENDERED, "ProgramArguments": ["/usr/local/bin/bash", SCRIPT, "--full"]}
    rows = {r.key: r for r in compare(rendered, rendered, JOB, moved)}
    assert set(rows) == {PATH, PROGRAM, "ProgramArguments"}
    assert rows[PATH] == Row(PATH, moved, moved, PATH_, (R_L, I_L))
    assert rows[PROGRAM] == Row(PROGRAM, "/usr/local/bin/bash", "/usr/local/bin/bash",
                                "/bin/bash", (R_L, I_L))
    assert rows["ProgramArguments"].loaded == ["/bin/bash", SCRIPT]


def test_keys_launchctl_print_does_not_show_are_unknown_and_dictionaries_split() -> None:
    rendered = {**RENDERED, "KeepAlive": {"SuccessfulExit": False}, "ThrottleInterval": 60}
    installed = {**rendered, "KeepAlive": {"SuccessfulExit": True}, "ThrottleInterval": 10,
                 "WorkingDirectory": "/tmp"}
    assert compare(rendered, installed, JOB, PATH_) == (
        Row("KeepAlive.SuccessfulExit", False, True, UNKNOWN, (R_I,)),
        Row("ThrottleInterval", 60, 10, UNKNOWN, (R_I,)),
        Row("WorkingDirectory", None, "/tmp", None, (R_I,)),  # shown by print: none there
    )


def test_a_missing_side_compares_nothing_and_shows_none() -> None:
    rendered = {**RENDERED, "ProgramArguments": ["/bin/bash", SCRIPT, "--full"]}
    assert compare(rendered, None, JOB, PATH_) == (
        Row("ProgramArguments", ["/bin/bash", SCRIPT, "--full"], None,
            ["/bin/bash", SCRIPT], (R_L,)),)
    assert compare(rendered, RENDERED, None, PATH_) == (
        Row("ProgramArguments", ["/bin/bash", SCRIPT, "--full"], ["/bin/bash", SCRIPT], None,
            (R_I,)),)


def test_launchctl_list_shows_no_environment_so_none_is_compared() -> None:
    job = parse_list_label(capture("list_label/homebrew_services_601_node_exporter.txt"))
    program = "/usr/local/opt/node_exporter/bin/node_exporter_brew_services"
    rendered = {"Label": job.label, "Program": program, "ProgramArguments": [program],
                "EnvironmentVariables": {"A": "1"}}
    assert compare(rendered, rendered, job, "/x.plist") == ()


def test_assess_drift_reads_cat_and_print() -> None:
    ok = (0, plistlib.dumps(RENDERED).decode(), "")
    d = assess_drift(HOST, RENDERED, PATH_, ok, (0, PRINTED, ""))
    assert (d.installed, d.loaded, d.rows, d.drift) == ("present", JOB, (), False)
    missing = (1, "", f"cat: {PATH_}: No such file or directory\n")
    d = assess_drift(HOST, RENDERED, PATH_, missing, (113, "", "Could not find service\n"))
    assert (d.installed, d.installed_detail, d.loaded, d.loaded_detail, d.drift) == (
        "missing", "", None, "", True)
    d = assess_drift(HOST, RENDERED, PATH_, (1, "", "cat: x: Permission denied\n"),
                     (5, "", "Input/output error\n"))
    assert d.installed_detail == "cat exited 1: cat: x: Permission denied"
    assert d.loaded_detail == f"launchctl print gui/501/{LABEL} exited 5: Input/output error"
    assert not d.inspected
    d = assess_drift(HOST, RENDERED, PATH_, (0, "bplist00\x00", ""), (0, "Bad request.", ""))
    assert d.installed == "unreadable" and d.installed_detail.startswith("a binary plist")
    assert d.loaded_detail.startswith("cannot read launchctl print: ")
    for text in ("<plist><dict>", plistlib.dumps([1]).decode()):
        d = assess_drift(HOST, RENDERED, PATH_, (0, text, ""), (0, PRINTED, ""))
        assert d.installed == "unreadable" and d.rows == ()


def test_an_installed_file_of_the_wrong_shape_is_drift_not_a_crash() -> None:
    """The installed file is anyone's to edit: a string where launchd wants a dictionary or
    an array is reported as a difference, never a traceback."""
    odd = {**RENDERED, "EnvironmentVariables": "MODE=live", "ProgramArguments": "/bin/bash"}
    rows = {r.key: r for r in compare(RENDERED, odd, JOB, PATH_)}
    assert rows["EnvironmentVariables"].installed == "MODE=live"
    assert I_L in rows["EnvironmentVariables"].differ
    assert rows["ProgramArguments"].installed == "/bin/bash"
