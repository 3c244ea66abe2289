"""inventory.yaml: the documented form loads; every mistake is one line naming file:line: key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svcctl.errors import ExitCode, InventoryError
from svcctl.inventory import load_inventory, parse_inventory, resolve_inventory_path
from svcctl.model import Domain, DomainKind, HealthCheck

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
ssh_config: .testbed/ssh_config
hosts:
  tesseract:
    domain: user/501
  backup:
    domain: user/501
services:
  shiva:
    label: com.example.shiva
    hosts: [tesseract]
    program: [/usr/bin/python3, /Users/ops/shiva/main.py]
    working_directory: /Users/ops/shiva
    environment: {SHIVA_MODE: paper}
    keep_alive: true
    match: 'shiva/main\\.py'
    template: launch-agent.plist.j2
"""


def load(text: str, tmp_path: Path) -> object:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return load_inventory(path)


def test_the_documented_form(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(BASE)
    inv = load_inventory(path)
    assert inv.ssh_config == tmp_path / ".testbed/ssh_config"
    assert inv.templates_dir == tmp_path / "templates"
    assert inv.hosts["tesseract"].domain == Domain(DomainKind.USER, 501)
    s = inv.services["shiva"]
    assert s.label == "com.example.shiva"
    assert s.hosts == ("tesseract",)
    assert s.program == ("/usr/bin/python3", "/Users/ops/shiva/main.py")
    assert s.environment == {"SHIVA_MODE": "paper"}
    assert s.keep_alive is True
    assert s.match is not None and s.match.pattern == r"shiva/main\.py"
    assert s.template == "launch-agent.plist.j2"
    assert s.source.endswith("inventory.yaml:8")


def test_runs_declares_what_a_wrapper_execs(tmp_path: Path) -> None:
    text = BASE.replace(
        "    program: [/usr/bin/python3, /Users/ops/shiva/main.py]\n",
        "    program: [/Users/ops/shiva/run.sh, --paper]\n"
        "    runs: [/usr/bin/python3, /Users/ops/shiva/main.py]\n",
    )
    s = load(text, tmp_path).services["shiva"]  # type: ignore[attr-defined]
    assert s.program == ("/Users/ops/shiva/run.sh", "--paper")
    assert s.runs == ("/usr/bin/python3", "/Users/ops/shiva/main.py")
    assert load(BASE, tmp_path).services["shiva"].runs is None  # type: ignore[attr-defined]


def test_the_shipped_example_loads() -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    s = inv.services["shiva"]
    assert s.guard is True and s.run_at_load is True and s.stay_up == 5.0
    assert s.health == HealthCheck(
        command=("/usr/bin/python3", "/Users/ops/shiva/main.py", "--health")
    )
    assert s.plist_extra == {"ProcessType": "Background"}
    assert inv.hosts["tesseract"].home == "/Users/ops"


def test_defaults_overrides_and_extensions(tmp_path: Path) -> None:
    text = """\
defaults:
  keep_alive: {SuccessfulExit: false, PathState: {/tmp/go: true}}
  environment: {A: "1", B: x}
  plist: {Nice: 5}
  throttle_interval: 30
hosts:
  h1: {domain: system, hostname: 10.0.0.5, user: root, port: 2222, ssh_config: ~/cfg}
  h2: {domain: gui/502}
services:
  a:
    label: com.example.a
    hosts: h1
    program: [/usr/local/bin/a]
    environment: {B: y, PORT: 8080}
    plist: {ProcessType: Interactive}
    user_name: _a
    health: {tcp: 8080, timeout: 2.5}
    stay_up: 3
  b:
    label: com.example.b
    hosts: [h1, h2]
    program: [/usr/local/bin/b]
    keep_alive: false
    throttle_interval: 0
"""
    inv = load(text, tmp_path)
    a, b = inv.services["a"], inv.services["b"]  # type: ignore[attr-defined]
    assert a.keep_alive == {"SuccessfulExit": False, "PathState": {"/tmp/go": True}}
    assert a.environment == {"A": "1", "B": "y", "PORT": "8080"}
    assert a.plist_extra == {"Nice": 5, "ProcessType": "Interactive"}
    assert a.throttle_interval == 30 and b.throttle_interval == 0
    assert a.health == HealthCheck(tcp_port=8080, timeout=2.5)
    assert a.stay_up == 3.0 and a.hosts == ("h1",) and a.match is None
    assert b.keep_alive is False and b.hosts == ("h1", "h2")
    h1 = inv.hosts["h1"]  # type: ignore[attr-defined]
    assert (h1.domain.target, h1.hostname, h1.user, h1.port) == ("system", "10.0.0.5", "root", 2222)
    assert h1.ssh_config == tmp_path / Path("~/cfg").expanduser()


ERRORS = [
    (
        "    keep_alive: true\n",
        "    keep_alive: yes please\n",
        "inventory.yaml:14: services.shiva.keep_alive: "
        "expected a boolean or a mapping, got 'yes please'",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: {SucessfulExit: true}\n",
        "inventory.yaml:14: services.shiva.keep_alive.SucessfulExit: "
        "unknown key (did you mean 'SuccessfulExit'?)",
    ),
    (
        "    working_directory:",
        "    working_dir: /x\n    working_directory:",
        "inventory.yaml:12: services.shiva.working_dir: "
        "unknown key (did you mean 'working_directory'?)",
    ),
    (
        "    working_directory:",
        "    workdir: /x\n    working_directory:",
        "inventory.yaml:12: services.shiva.workdir: unknown key (known: environment, exit_timeout,",
    ),
    ("    label: com.example.shiva\n", "", "inventory.yaml:8: services.shiva: missing `label`"),
    (
        "    label: com.example.shiva\n",
        "    label: com/example shiva\n",
        "inventory.yaml:9: services.shiva.label: 'com/example shiva' has characters",
    ),
    (
        "    hosts: [tesseract]\n",
        "    hosts: [tesserac]\n",
        "inventory.yaml:10: services.shiva.hosts[0]: "
        "unknown host 'tesserac' (did you mean 'tesseract'?)",
    ),
    (
        "    match: 'shiva/main\\.py'\n",
        "    match: 'shiva/(main'\n",
        "inventory.yaml:15: services.shiva.match: "
        "invalid regular expression: missing ), unterminated",
    ),
    (
        "    match: 'shiva/main\\.py'\n",
        "    match: '.*'\n",
        "inventory.yaml:15: services.shiva.match: '.*' matches every command line",
    ),
    (
        "    domain: user/501\n  backup",
        "    domain: usr/501\n  backup",
        "inventory.yaml:4: hosts.tesseract.domain: not a launchd domain: 'usr/501'",
    ),
    (
        "    program: [/usr/bin/python3, /Users/ops/shiva/main.py]\n",
        "    program: [python3, main.py]\n",
        "inventory.yaml:11: services.shiva.program: "
        "program[0] must be an absolute path, got 'python3'",
    ),
    (
        "    program: [/usr/bin/python3, /Users/ops/shiva/main.py]\n",
        "    program: []\n",
        "inventory.yaml:11: services.shiva.program: "
        "expected a non-empty list of strings, got a list",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    runs: [python3, main.py]\n",
        "inventory.yaml:15: services.shiva.runs: runs[0] must be an absolute path, got 'python3'",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    runs: []\n",
        "inventory.yaml:15: services.shiva.runs: expected a non-empty list of strings, got a list",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    runs: [/usr/bin/python3, 3]\n",
        "inventory.yaml:15: services.shiva.runs[1]: expected a string, got 3",
    ),
    (
        "hosts:\n",
        "defaults:\n  runs: [/usr/bin/python3, main.py]\nhosts:\n",
        "inventory.yaml:3: defaults.runs: unknown key",
    ),
    (
        "    environment: {SHIVA_MODE: paper}\n",
        "    environment: {SHIVA_MODE: [a]}\n",
        "inventory.yaml:13: services.shiva.environment.SHIVA_MODE: "
        "expected a string or number, got a list",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    throttle_interval: -1\n",
        "inventory.yaml:15: services.shiva.throttle_interval: "
        "expected an integer at least 0, got -1",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    plist: {Label: x}\n",
        "inventory.yaml:15: services.shiva.plist.Label: svcctl writes this key",
    ),
    (
        "ssh_config:",
        "ssh_confg:",
        "inventory.yaml:1: ssh_confg: unknown key (did you mean 'ssh_config'?)",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    keep_alive: false\n",
        "inventory.yaml:15: services.shiva.keep_alive: repeated key",
    ),
    (
        "    template: launch-agent.plist.j2\n",
        "    template: launch-agent.plist.j2\n  other:\n"
        "    label: com.example.shiva\n    hosts: [backup]\n    program: [/bin/x]\n",
        "inventory.yaml:18: services.other.label: "
        "label 'com.example.shiva' is already used by service 'shiva'",
    ),
    ("hosts:\n", "hosts: [\n", "inventory.yaml:4: invalid YAML: expected ',' or ']'"),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    health: {tcp: 80, command: [/bin/true]}\n",
        "inventory.yaml:15: services.shiva.health: "
        "expected exactly one of `command`, `tcp` or `url`",
    ),
    (
        "    keep_alive: true\n",
        "    keep_alive: true\n    health: {url: 'ftp:x'}\n",
        "inventory.yaml:15: services.shiva.health.url: expected an http(s) URL, got 'ftp:x'",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), ERRORS, ids=[e[2][15:60] for e in ERRORS])
def test_errors_name_file_line_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(InventoryError) as info:
        load(BASE.replace(old, new, 1), tmp_path)
    err = info.value
    assert err.exit_code == ExitCode.BAD_INPUT
    assert int(err.exit_code) == 2
    line = err.one_line()
    assert "\n" not in line
    # the whole message, or its start where the rest comes from yaml or re
    assert line.startswith(str(tmp_path / message)), line
    assert re.match(r".*inventory\.yaml:\d+: ", line)


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such file") as info:
        load_inventory(tmp_path / "nope.yaml")
    assert "SVCCTL_INVENTORY" in info.value.one_line()
    with pytest.raises(InventoryError, match=r"inventory.yaml:1: empty inventory"):
        parse_inventory("", tmp_path)
    with pytest.raises(InventoryError, match=r"inventory.yaml:1: missing top-level `services:`"):
        parse_inventory("hosts: {}\n", tmp_path)


def test_resolve_inventory_path() -> None:
    assert resolve_inventory_path("x/inv.yaml", {"SVCCTL_INVENTORY": "/e.yaml"}) == Path(
        "x/inv.yaml"
    )
    assert resolve_inventory_path(None, {"SVCCTL_INVENTORY": "/e.yaml"}) == Path("/e.yaml")
    assert resolve_inventory_path(None, {}) == Path("inventory.yaml")
