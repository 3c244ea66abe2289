"""Every real sample from FACTS.md (saved verbatim in tests/data/facts) parsed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from svcctl.errors import ParseError
from svcctl.launchd import (
    decode_wait_status,
    parse_list,
    parse_list_label,
    parse_print,
    parse_print_disabled,
    parse_print_domain,
    parse_service_line,
)
from svcctl.model import Domain, DomainKind, ListEntry


def read(facts: Path, name: str) -> str:
    return (facts / name).read_text(encoding="utf-8")


def test_list_table_el_capitan(facts: Path) -> None:
    assert parse_list(read(facts, "list_elcapitan.txt")) == [
        ListEntry("com.apple.CoreAuthentication.daemon", None, 0, "0"),
        ListEntry("com.apple.Finder", 279, 0, "0"),
        ListEntry("com.apple.bird", 324, 0, "0"),
    ]


def test_list_rows_tabs_and_spaces(facts: Path) -> None:
    rows = parse_list(read(facts, "list_rows_misc.txt"))
    assert [(r.pid, r.status, r.label) for r in rows] == [
        (None, -9, "homebrew.mxcl.redis"),
        (91178, -3, "homebrew.mxcl.redis"),
        (54109, 0, "otelcol-sumo"),
        (512, 0, "actions.runner.…"),
        (None, 1, "space.plainlist.wepaper"),
        (69375, 0, "com.sin.opencode-rate-limit-watcher"),
    ]


def test_list_status_dash_means_unknown() -> None:
    assert parse_list("PID\tStatus\tLabel\n-\t-\tx.y\n") == [ListEntry("x.y", None, None, "-")]


def test_list_label_running_bluekvm(facts: Path) -> None:
    job = parse_list_label(read(facts, "list_label_bluekvm.txt"))
    assert (job.label, job.pid, job.last_exit_code, job.last_signal) == ("bluekvm", 31317, 0, None)
    assert job.program == "/usr/local/bin/bluekvm.sh"
    assert job.on_demand is False
    assert job.source == "list"


def test_list_label_stopped_has_no_pid(facts: Path) -> None:
    job = parse_list_label(read(facts, "list_label_agent_usage_bar.txt"))
    assert job.label == "com.agent-usage-bar.menubar"
    assert job.pid is None and job.running is False
    assert job.last_exit_code == 0 and job.last_exit_raw == "0"


def test_list_label_program_arguments_with_space_indent(facts: Path) -> None:
    job = parse_list_label(read(facts, "list_label_homebrew_zap.txt"))
    assert job.label == "my.fancy.package.service"
    assert job.arguments == ("argument",)
    assert job.program == "argument"
    assert job.on_demand is True


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (0, (0, None)),
        (256, (1, None)),
        (512, (2, None)),
        (19200, (75, None)),
        (65280, (255, None)),
        (15, (None, 15)),
        (9, (None, 9)),
    ],
)
def test_last_exit_status_is_a_raw_wait_status(
    raw: int, decoded: tuple[int | None, int | None]
) -> None:
    # FACTS 3.2: exit 75 -> 19200, SIGKILL -> 9
    assert decode_wait_status(raw) == decoded
    text = f'{{\n\t"Label" = "a.b";\n\t"LastExitStatus" = {raw};\n}};\n'
    job = parse_list_label(text)
    assert (job.last_exit_code, job.last_signal) == decoded


def test_list_label_mach_services_and_quotes_inside_strings() -> None:
    text = (
        '{\n\t"Label" = "a.b";\n\t"MachServices" = {\n\t\t"com.x.helper" = mach-port-object;\n'
        '\t};\n\t"ProgramArguments" = (\n\t\t"/bin/echo";\n\t\t"say "hi"; now";\n\t);\n};\n'
    )
    job = parse_list_label(text)
    assert job.arguments == ("/bin/echo", 'say "hi"; now')


def test_print_system_daemon_running(facts: Path) -> None:
    job = parse_print(read(facts, "print_otelcol_sumo.txt"))
    assert job.label == "otelcol-sumo"
    assert job.domain == Domain(DomainKind.SYSTEM)
    assert job.path == "/Library/LaunchDaemons/com.sumologic.otelcol-sumo.plist"
    assert job.job_type == "LaunchDaemon"
    assert job.state == "running"
    assert job.pid == 54109
    assert job.runs == 1
    assert job.program == "/usr/local/bin/otelcol-sumo"
    assert job.arguments == (
        "/usr/local/bin/otelcol-sumo",
        "--config",
        "/etc/otelcol-sumo/sumologic.yaml",
    )
    assert job.environment == {"XPC_SERVICE_NAME": "otelcol-sumo"}  # not `default environment`
    assert job.stdout_path == job.stderr_path == "/var/log/otelcol-sumo/otelcol-sumo.log"
    assert (job.minimum_runtime, job.exit_timeout) == (10, 5)
    assert job.last_exit_code is None and job.last_exit_raw == "(never exited)"
    assert job.properties == ("keepalive", "runatload", "inferred program")


def test_print_user_agent_not_running(facts: Path) -> None:
    job = parse_print(read(facts, "print_resticprofile.txt"))
    assert job.label == "local.resticprofile.self.check"
    assert job.domain == Domain(DomainKind.USER, 503)
    assert job.state == "not running"
    assert job.pid is None
    assert job.asid == 100008
    assert job.working_directory == "/Users/cp/go/src/github.com/creativeprojects/resticprofile"
    assert job.stdout_path == "local.resticprofile.self.check.log"
    assert job.last_exit_code == 0
    # FACTS elides with `...`; inside the arguments block it is read as an argument
    assert job.arguments == ("/Users/cp/.../resticprofile", "--no-prio", "...")
    assert job.properties == ()


def test_print_gui_agent_crash_loop(facts: Path) -> None:
    job = parse_print(read(facts, "print_jamf_crashloop.txt"))
    assert job.label == "com.jamf.protect.agent"
    assert job.domain == Domain(DomainKind.GUI, 501)
    assert job.domain_raw == "gui/501 [100007]"
    assert job.asid == 100007
    assert job.state == "spawn scheduled"
    assert job.pid is None
    assert job.runs == 311
    assert job.minimum_runtime == 60
    assert job.environment == {"XPC_SERVICE_NAME": "com.jamf.protect.agent"}
    assert job.properties == ("keepalive", "runatload")


def test_print_only_top_level_keys_count() -> None:
    # nested blocks repeat `state` and `pid` deeper (FACTS 3.3 pitfalls)
    text = (
        'user/501/a.b = {\n\tstate = not running\n\tendpoints = {\n\t\t"a.b.x" = {\n'
        "\t\t\tstate = active\n\t\t\tpid = 42\n\t\t}\n\t}\n\tjob state = exited\n"
        "\tlast exit code = 75: EX_TEMPFAIL\n\tlast terminating signal = Terminated: 15\n}\n"
    )
    job = parse_print(text)
    assert (job.state, job.pid) == ("not running", None)
    assert (job.last_exit_code, job.last_exit_raw) == (75, "75: EX_TEMPFAIL")
    assert job.last_signal == 15


def test_print_arguments_with_braces_and_newlines() -> None:
    text = (
        "user/501/a.b = {\n\targuments = {\n\t\t/bin/sh\n\t\t-c\n\t\techo {\nnext line }\n"
        "\t\t}\n\t}\n\tpid = 7\n}\n"
    )
    job = parse_print(text)
    assert job.arguments == ("/bin/sh", "-c", "echo {\nnext line }", "}")
    assert job.pid == 7


def test_print_truncated_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_print("gui/501/a.b = {\n\tpid = 3\n")


def test_print_disabled_ventura_vocabulary(facts: Path) -> None:
    assert parse_print_disabled(read(facts, "print_disabled_ventura.txt")) == {
        "com.docker.helper": False,
        "com.jigged.worker": True,
    }


def test_print_disabled_pre_ventura_true_means_disabled(facts: Path) -> None:
    text = read(facts, "print_disabled_pre_ventura.txt")
    with pytest.raises(ParseError):  # the FACTS elision `...` is not a real line
        parse_print_disabled(text)
    real = "\n".join(x for x in text.split("\n") if x.strip() != "...")
    assert parse_print_disabled(real) == {
        "com.docker.helper": False,
        "com.apple.ManagedClientAgent.enrollagent": True,
    }


def test_domain_services_line(facts: Path) -> None:
    line = read(facts, "print_domain_services_line.txt").rstrip("\n")
    assert parse_service_line(line) == ListEntry("com.apple.modelcatalogd", 9682, None, "(pe)")


def test_print_domain_services_block(facts: Path) -> None:
    line = read(facts, "print_domain_services_line.txt").rstrip("\n")
    # a synthetic frame around the real line: the domain print's `services = {` block
    text = (
        f"gui/501 = {{\n\ttype = login\n\tservices = {{\n\t\t{line}\n"
        "\t\t       0      -  \tx.y\n\t}\n}\n"
    )
    assert parse_print_domain(text) == [
        ListEntry("com.apple.modelcatalogd", 9682, None, "(pe)"),
        ListEntry("x.y", None, None, "-"),
    ]
