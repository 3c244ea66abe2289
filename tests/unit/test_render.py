"""Rendering: values are placed as plist data, validated after rendering, and compared 3-way."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck as HC
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.assess.drift import I_L, PATH, R_I, R_L, compare
from svcctl.errors import ExitCode, RenderError
from svcctl.inventory import load_inventory
from svcctl.model import Domain, JobState, ServiceSpec
from svcctl.render import (
    AGENT_TEMPLATE,
    DAEMON_TEMPLATE,
    PACKAGE_TEMPLATES,
    SESSION_TYPES,
    plist_path_for,
    render_plist,
)

ROOT = Path(__file__).resolve().parents[2]
USER, GUI, SYSTEM = Domain.parse("user/501"), Domain.parse("gui/501"), Domain.parse("system")


def spec(**kw: object) -> ServiceSpec:
    base: dict[str, object] = {
        "name": "shiva",
        "label": "com.example.shiva",
        "hosts": ("tesseract",),
        "program": ("/usr/bin/python3", "/Users/ops/shiva/main.py"),
        "match": None,
    }
    return ServiceSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_the_repo_templates_dir_is_an_empty_override_dir() -> None:
    # svcctl's templates live once, in the package; templates/ beside the example inventory
    # is where a user's overrides go, so it must not shadow them with a copy that drifts
    assert sorted(p.name for p in PACKAGE_TEMPLATES.glob("*.j2")) == sorted(
        [AGENT_TEMPLATE, DAEMON_TEMPLATE]
    )
    assert sorted(p.name for p in (ROOT / "templates").iterdir()) == ["README.md"]
    inv = load_inventory(ROOT / "inventory.yaml")
    assert inv.templates_dir == ROOT / "templates"
    for svc in inv.services.values():
        for host in svc.hosts:
            spec_ = inv.hosts[host]
            assert render_plist(svc, spec_.domain, inv.templates_dir, home=spec_.home) == (
                render_plist(svc, spec_.domain, None, home=spec_.home)
            )


def test_agent_plist_for_user_domain() -> None:
    s = spec(
        working_directory="/Users/ops/shiva",
        environment={"SHIVA_MODE": "paper"},
        keep_alive=True,
        run_at_load=True,
        throttle_interval=10,
        exit_timeout=5,
        stdout_path="/tmp/o.log",
        stderr_path="/tmp/e.log",
        plist_extra={"Nice": 5},
    )
    r = render_plist(s, USER)
    assert r.template == AGENT_TEMPLATE
    got = plistlib.loads(r.data)
    assert got == {
        "Label": "com.example.shiva",
        "ProgramArguments": ["/usr/bin/python3", "/Users/ops/shiva/main.py"],
        "WorkingDirectory": "/Users/ops/shiva",
        "EnvironmentVariables": {"SHIVA_MODE": "paper"},
        "KeepAlive": True,
        "RunAtLoad": True,
        "ThrottleInterval": 10,
        "ExitTimeOut": 5,
        "StandardOutPath": "/tmp/o.log",
        "StandardErrorPath": "/tmp/e.log",
        "LimitLoadToSessionType": list(SESSION_TYPES),
        "Nice": 5,
    }
    assert "Background" in got["LimitLoadToSessionType"]  # loads into user/<uid> (FACTS 1.4)
    assert r.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')


def test_daemon_plist_for_system_domain() -> None:
    s = spec(user_name="_shiva", keep_alive={"SuccessfulExit": False, "PathState": {"/x": True}})
    r = render_plist(s, SYSTEM)
    got = plistlib.loads(r.data)
    assert r.template == DAEMON_TEMPLATE
    assert got["UserName"] == "_shiva"
    assert got["KeepAlive"] == {"SuccessfulExit": False, "PathState": {"/x": True}}
    assert "LimitLoadToSessionType" not in got


def test_user_name_on_an_agent_is_refused() -> None:
    with pytest.raises(RenderError, match="user_name applies to LaunchDaemons"):
        render_plist(spec(user_name="x"), USER)


# any text XML 1.0 can carry; a carriage return is refused rather than turned into \n
XML_TEXT = st.text(
    st.characters(
        blacklist_categories=["Cs"], blacklist_characters="\r\ufffe\uffff", min_codepoint=0x9
    ).filter(lambda c: c in "\t\n" or ord(c) >= 0x20)
)
HOSTILE = st.one_of(
    XML_TEXT,
    st.sampled_from(
        [
            "& < > \" '",
            "$(rm -rf /)",
            "`id`; echo |cat",
            "]]><!--",
            "</string><string>x",
            "ünïcødé ☃ 日本",
            "line1\nline2\n",
            "{{ label }}",
            "{% raw %}",
            "\t",
            " lead and trail ",
        ]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HC.too_slow])
@given(arg=HOSTILE, env_key=HOSTILE.filter(bool), env_val=HOSTILE, path=HOSTILE, extra=HOSTILE)
def test_hostile_values_round_trip_exactly(
    arg: str, env_key: str, env_val: str, path: str, extra: str
) -> None:
    s = spec(
        program=("/opt/my app/bin/shiva", arg, "--name=" + arg),
        environment={env_key: env_val},
        working_directory="/" + path,
        stdout_path=path or "x",
        plist_extra={"X-Extra": [extra, {"k": extra}]},
    )
    for domain in (USER, SYSTEM):
        got = plistlib.loads(render_plist(s, domain).data)
        assert got["ProgramArguments"] == ["/opt/my app/bin/shiva", arg, "--name=" + arg]
        assert got["EnvironmentVariables"] == {env_key: env_val}
        assert got["WorkingDirectory"] == "/" + path
        assert got["X-Extra"] == [extra, {"k": extra}]


@pytest.mark.parametrize("bad", ["a\rb", "nul\0", "bell\x07"])
def test_values_xml_cannot_carry_are_render_errors(bad: str) -> None:
    with pytest.raises(
        RenderError, match=r"service shiva: template launch-agent\.plist\.j2"
    ) as info:
        render_plist(spec(program=("/bin/echo", bad)), USER)
    assert info.value.exit_code == ExitCode.BAD_INPUT


def write(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / "templates"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return d


def agent_template() -> str:
    return (PACKAGE_TEMPLATES / AGENT_TEMPLATE).read_text()


def test_inventory_templates_win_over_package(tmp_path: Path) -> None:
    text = agent_template().replace(
        "</dict>\n</plist>", "\t<key>Custom</key>\n\t<true/>\n</dict>\n</plist>"
    )
    d = write(tmp_path, AGENT_TEMPLATE, text)
    assert plistlib.loads(render_plist(spec(), USER, d).data)["Custom"] is True
    # the package default still serves the daemon template
    assert render_plist(spec(), SYSTEM, d).template == DAEMON_TEMPLATE


def test_templates_beside_an_inventory_override_svcctls_own(tmp_path: Path) -> None:
    # no templates_dir: key, so templates/ next to the file is looked up first
    text = agent_template().replace(
        "</dict>\n</plist>", "\t<key>Custom</key>\n\t<true/>\n</dict>\n</plist>"
    )
    write(tmp_path, AGENT_TEMPLATE, text)
    inventory = (ROOT / "inventory.yaml").read_text()
    assert "\ntemplates_dir:" not in inventory
    (tmp_path / "inventory.yaml").write_text(inventory)
    inv = load_inventory(tmp_path / "inventory.yaml")
    svc = next(s for s in inv.services.values() if not inv.hosts[s.hosts[0]].domain.is_system)
    host = inv.hosts[svc.hosts[0]]
    got = plistlib.loads(render_plist(svc, host.domain, inv.templates_dir, home=host.home).data)
    assert got["Custom"] is True
    assert "Custom" not in plistlib.loads(render_plist(svc, host.domain, home=host.home).data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("{{ label | plist }}", "<string>com.other</string>"),
            "Label renders as 'com.other', not 'com.example.shiva'",
        ),
        (
            lambda t: re.sub(r'\t\{\{ "KeepAlive".*?\n.*?\n', "", t),
            "the template leaves out KeepAlive",
        ),
        (
            lambda t: t.replace("{{ session_types | plist }}", "<string>Aqua</string>"),
            "LimitLoadToSessionType renders as 'Aqua'",
        ),
        (lambda t: t.replace("{{ label | plist }}", "{{ labl | plist }}"), "'labl' is undefined"),
        (lambda t: t.replace("</dict>\n</plist>", "</dict>"), "not a valid plist"),
        (
            lambda t: t.replace("{{ program | plist }}", "<array/>"),
            "ProgramArguments must be a non-empty list of strings",
        ),
        (lambda t: t.replace("{% if", "{% iff", 1), "template launch-agent.plist.j2:"),
    ],
)
def test_bad_templates_are_render_errors(tmp_path: Path, edit: object, message: str) -> None:
    d = write(tmp_path, AGENT_TEMPLATE, edit(agent_template()))  # type: ignore[operator]
    with pytest.raises(RenderError) as info:
        render_plist(spec(keep_alive=True), USER, d)
    line = info.value.one_line()
    assert line.startswith("service shiva: template launch-agent.plist.j2")
    assert message in line


def test_aqua_only_custom_template_cannot_go_to_user_domain(tmp_path: Path) -> None:
    text = re.sub(
        r'\t\{#- Background.*?\n\t\{\{ "LimitLoad.*?\n\t\{\{ session_types.*?\n',
        "",
        agent_template(),
    )
    assert "LimitLoadToSessionType" not in text
    d = write(tmp_path, "aqua.plist.j2", text)
    s = spec(template="aqua.plist.j2")
    with pytest.raises(RenderError, match="leaves out LimitLoadToSessionType"):
        render_plist(s, USER, d)


def test_missing_template(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"template 'nope\.j2' not found"):
        render_plist(spec(template="nope.j2"), USER, tmp_path)


def test_pasted_text_is_escaped_not_interpreted(tmp_path: Path) -> None:
    # a template that pastes a value without `plist` still cannot inject markup (autoescape)
    text = agent_template().replace(
        "</dict>\n</plist>",
        "\t<key>Pasted</key>\n\t<string>{{ label }}</string>\n</dict>\n</plist>",
    )
    d = write(tmp_path, AGENT_TEMPLATE, text)
    evil = "a.b</string><key>RunAtLoad</key><true/><string>&'\""
    got = plistlib.loads(render_plist(spec(label=evil), USER, d).data)
    assert got["Pasted"] == got["Label"] == evil
    assert "RunAtLoad" not in got


def test_plist_path_for() -> None:
    s = spec()
    assert plist_path_for(s, SYSTEM, None) == PurePosixPath(
        "/Library/LaunchDaemons/com.example.shiva.plist"
    )
    # user/<uid>: out of ~/Library/LaunchAgents, which a console login loads into gui/<uid>
    # (FACTS 1.2): never two copies after a reboot with a login (issue 11)
    assert plist_path_for(s, USER, "/Users/ops") == PurePosixPath(
        "/Users/ops/Library/Application Support/svcctl/LaunchAgents/com.example.shiva.plist"
    )
    assert plist_path_for(s, GUI, "/Users/ops") == PurePosixPath(
        "/Users/ops/Library/LaunchAgents/com.example.shiva.plist"
    )
    with pytest.raises(RenderError, match="home directory"):
        plist_path_for(s, GUI, None)


def test_the_rendered_plist_against_the_file_and_the_job_three_ways() -> None:
    """The rendered plist against the installed file and launchd's job, through diff's one
    comparison (svcctl.assess.drift.compare; tests/unit/test_drift.py has the rest)."""
    r = render_plist(spec(environment={"A": "1"}), USER).values
    path = "/Users/ops/Library/LaunchAgents/com.example.shiva.plist"
    loaded = JobState(
        label="com.example.shiva",
        source="print",
        path=path,
        program="/usr/bin/python3",
        arguments=("/usr/bin/python3", "/Users/ops/shiva/main.py"),
        environment={"A": "1", "XPC_SERVICE_NAME": "com.example.shiva"},
    )
    assert compare(r, dict(r), loaded, path) == ()
    drifted = {**r, "KeepAlive": True}
    stale = JobState(
        label="com.example.shiva",
        source="print",
        path="/tmp/old.plist",
        program="/usr/bin/python3",
        arguments=("/usr/bin/python3", "/old/main.py"),
        environment={},
    )
    got = {row.key: row.differ for row in compare(r, drifted, stale, path)}
    assert got == {
        "KeepAlive": (R_I,),  # launchctl print does not show KeepAlive: the job is unknown
        PATH: (R_L, I_L),
        "ProgramArguments": (R_L, I_L),
        "EnvironmentVariables.A": (R_L, I_L),
    }


# -- guard: true wraps the program in svcctl's singleton guard (issue: svcctl.guard) --------


def test_guard_wraps_program_arguments_and_slows_the_throttle() -> None:
    rendered = render_plist(spec(guard=True, keep_alive=True), USER, home="/Users/ops")
    got = plistlib.loads(rendered.data)
    wrapper = "/Users/ops/Library/Application Support/svcctl/svcctl-guard"
    assert got["ProgramArguments"] == [
        "/usr/bin/python3", wrapper, "shiva", "--", "/usr/bin/python3", "/Users/ops/shiva/main.py"
    ]
    assert got["ThrottleInterval"] == 60
    assert got["KeepAlive"] is True


def test_guard_keeps_an_explicit_throttle_and_uses_the_system_library() -> None:
    rendered = render_plist(spec(guard=True, throttle_interval=15), SYSTEM)
    got = plistlib.loads(rendered.data)
    assert got["ProgramArguments"][1] == "/Library/Application Support/svcctl/svcctl-guard"
    assert got["ThrottleInterval"] == 15


def test_guard_in_a_user_domain_needs_the_home() -> None:
    with pytest.raises(RenderError, match="set `home:` on the host"):
        render_plist(spec(guard=True), USER)
