"""inventory.yaml's `release:` (issue 13): the documented form loads into a ReleaseSpec;
every mistake, and `{{ release }}` in a service without one, is one line naming
file:line: key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from svcctl.errors import ExitCode, InventoryError
from svcctl.inventory import load_inventory
from svcctl.model import HealthCheck, Inventory, ReleaseSpec

BASE = """\
hosts:
  tesseract:
    domain: user/501
services:
  shiva:
    label: com.example.shiva
    hosts: [tesseract]
    program: ['{{ release }}/run.sh', --paper]
    runs: [/usr/bin/python3, '{{ release }}/main.py']
    working_directory: '{{ release }}'
    environment: {SHIVA_STATE: '{{ release }}/state'}
    stdout_path: '{{ release }}/logs/out.log'
    release:
      root: /Users/ops/shiva
      source: build/
      keep: 3
      shared: [state, logs]
  plain:
    label: com.example.plain
    hosts: [tesseract]
    program: [/bin/sleep, '60']
"""


def load(text: str, tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return load_inventory(path)


def test_the_documented_form(tmp_path: Path) -> None:
    inv = load(BASE, tmp_path)
    s = inv.services["shiva"]
    assert s.release == ReleaseSpec(
        root="/Users/ops/shiva", source=str(tmp_path / "build"), keep=3, shared=("state", "logs")
    )
    # the token is kept as written: svcctl.release.concrete binds it to one release
    assert s.program == ("{{ release }}/run.sh", "--paper")
    assert s.runs == ("/usr/bin/python3", "{{ release }}/main.py")
    assert s.working_directory == "{{ release }}"
    assert s.environment == {"SHIVA_STATE": "{{ release }}/state"}
    assert inv.services["plain"].release is None


def test_defaults_normalised_root_and_sources(tmp_path: Path) -> None:
    text = BASE.replace("      keep: 3\n      shared: [state, logs]\n", "").replace(
        "root: /Users/ops/shiva", "root: //Users/ops/./shiva/").replace(
        "source: build/", "source: /ci/out/shiva.tar.gz")
    r = load(text, tmp_path).services["shiva"].release
    assert r == ReleaseSpec(root="/Users/ops/shiva", source="/ci/out/shiva.tar.gz")
    sub = tmp_path / "deploy"
    sub.mkdir()
    (sub / "inventory.yaml").write_text(BASE.replace("source: build/", "source: ../dist/a.tar.gz")
                                        .replace("shared: [state, logs]", "shared: []"))
    r = load_inventory(sub / "inventory.yaml").services["shiva"].release
    assert r is not None and r.source == str(sub / "../dist/a.tar.gz") and r.shared == ()


def test_a_missing_source_is_the_deploys_question(tmp_path: Path) -> None:
    r = load(BASE, tmp_path).services["shiva"].release
    assert r is not None and not Path(r.source).exists()


def test_health_and_defaults_may_use_the_token(tmp_path: Path) -> None:
    text = BASE.replace("hosts:\n  tesseract", "defaults:\n  stderr_path: '{{ release }}/e'\n"
                        "hosts:\n  tesseract", 1).replace(
        "    release:\n", "    health: {command: ['{{ release }}/check']}\n    release:\n")
    text = text.replace("program: [/bin/sleep, '60']", "program: [/bin/sleep, '60']\n"
                        "    stderr_path: /tmp/plain.err")
    inv = load(text, tmp_path)
    assert inv.services["shiva"].health == HealthCheck(command=("{{ release }}/check",))
    assert inv.services["shiva"].stderr_path == "{{ release }}/e"
    assert inv.services["plain"].stderr_path == "/tmp/plain.err"


REL = "    release:\n      root: /Users/ops/shiva\n"
PLAIN = "    program: [/bin/sleep, '60']\n"

ERRORS = [
    (REL, "    release:\n      root: Users/ops\n",
     "inventory.yaml:14: services.shiva.release.root: expected an absolute path, got 'Users/ops'"),
    (REL, "    release:\n      root: /Users/../shiva\n",
     "inventory.yaml:14: services.shiva.release.root: must not contain `..`"),
    (REL, "    release:\n      root: //\n",
     "inventory.yaml:14: services.shiva.release.root: must not be `/`"),
    (REL, "    release:\n      root: /x/{{ release }}\n",
     "inventory.yaml:14: services.shiva.release.root: {{ release }} names a release"),
    (REL, "    release:\n      root: \"/x\\ny\"\n",
     "inventory.yaml:14: services.shiva.release.root: must not contain control characters"),
    (REL, "    release:\n", "inventory.yaml:14: services.shiva.release: missing `root`"),
    ("      source: build/\n", "",
     "inventory.yaml:14: services.shiva.release: missing `source`"),
    ("      source: build/\n", "      source: [build]\n",
     "inventory.yaml:15: services.shiva.release.source: expected a directory or a .tar.gz, "
     "got a list"),
    ("      keep: 3\n", "      keep: 0\n",
     "inventory.yaml:16: services.shiva.release.keep: expected an integer at least 1, got 0"),
    ("      keep: 3\n", "      keep: many\n",
     "inventory.yaml:16: services.shiva.release.keep: expected an integer, got 'many'"),
    ("      keep: 3\n", "      kept: 3\n",
     "inventory.yaml:16: services.shiva.release.kept: unknown key (did you mean 'keep'?)"),
    ("[state, logs]", "state",
     "inventory.yaml:17: services.shiva.release.shared: expected a list of directory names"),
    ("[state, logs]", "[state, logs/x]",
     "inventory.yaml:17: services.shiva.release.shared[1]: expected a name inside the release, "
     "without `/`, got 'logs/x'"),
    ("[state, logs]", "[state, '..']",
     "inventory.yaml:17: services.shiva.release.shared[1]: expected a name inside the release"),
    ("[state, logs]", "[state, .svcctl-x]",
     "inventory.yaml:17: services.shiva.release.shared[1]: names starting with '.svcctl-'"),
    ("[state, logs]", "[state, logs, state]",
     "inventory.yaml:17: services.shiva.release.shared[2]: 'state' is listed twice"),
    ("hosts:\n", "defaults:\n  release: {root: /x, source: y}\nhosts:\n",
     "inventory.yaml:2: defaults.release: unknown key"),
    ("'{{ release }}/run.sh'", "'{{ release }}run'",
     "inventory.yaml:8: services.shiva.program: program[0] must be an absolute path, "
     "got '{{ release }}run'"),
    ("    working_directory: '{{ release }}'\n", "    working_directory: '{{ release }}x'\n",
     "inventory.yaml:10: services.shiva.working_directory: expected an absolute path"),
    # {{ release }} in a service without `release:`, wherever for_release would replace it
    (PLAIN, "    program: ['{{ release }}/run']\n",
     "inventory.yaml:21: services.plain.program[0]: {{ release }} stands for a release "
     "directory, and service 'plain' has no `release:`"),
    (PLAIN, PLAIN + "    runs: [/bin/sh, '{{ release }}/x']\n",
     "inventory.yaml:22: services.plain.runs[1]: {{ release }} stands for"),
    (PLAIN, PLAIN + "    working_directory: '{{ release }}'\n",
     "inventory.yaml:22: services.plain.working_directory: {{ release }} stands for"),
    (PLAIN, PLAIN + "    environment: {A: b, C: 'x:{{ release }}'}\n",
     "inventory.yaml:22: services.plain.environment.C: {{ release }} stands for"),
    (PLAIN, PLAIN + "    stdout_path: '{{ release }}/o'\n",
     "inventory.yaml:22: services.plain.stdout_path: {{ release }} stands for"),
    (PLAIN, PLAIN + "    stderr_path: '{{ release }}/e'\n",
     "inventory.yaml:22: services.plain.stderr_path: {{ release }} stands for"),
    (PLAIN, PLAIN + "    health: {command: [/bin/test, -d, '{{ release }}']}\n",
     "inventory.yaml:22: services.plain.health.command[2]: {{ release }} stands for"),
    # from defaults: the key named is the default's, with its line
    ("hosts:\n", "defaults:\n  stdout_path: '{{ release }}/o'\nhosts:\n",
     "inventory.yaml:2: defaults.stdout_path: {{ release }} stands for a release directory, "
     "and service 'plain' has no `release:`"),
    ("hosts:\n", "defaults:\n  environment: {A: '{{ release }}'}\nhosts:\n",
     "inventory.yaml:2: defaults.environment.A: {{ release }} stands for"),
]


@pytest.mark.parametrize(("old", "new", "message"), ERRORS, ids=[e[2][15:70] for e in ERRORS])
def test_errors_name_file_line_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(InventoryError) as info:
        load(BASE.replace(old, new, 1), tmp_path)
    assert info.value.exit_code == ExitCode.BAD_INPUT
    line = info.value.one_line()
    assert "\n" not in line
    assert line.startswith(str(tmp_path / message)), line


def test_a_default_the_service_overrides_is_no_use_of_the_token(tmp_path: Path) -> None:
    text = BASE.replace("hosts:\n", "defaults:\n  stdout_path: '{{ release }}/o'\n"
                        "  environment: {A: '{{ release }}', B: x}\nhosts:\n", 1).replace(
        PLAIN, PLAIN + "    stdout_path: /tmp/o\n    environment: {A: /tmp}\n")
    plain = load(text, tmp_path).services["plain"]
    assert plain.stdout_path == "/tmp/o" and plain.environment == {"A": "/tmp", "B": "x"}
    # and the same inventory without the service's overrides is refused
    with pytest.raises(InventoryError, match=r"defaults\.stdout_path: \{\{ release \}\}"):
        load(text.replace("    stdout_path: /tmp/o\n", ""), tmp_path)
    with pytest.raises(InventoryError, match=r"defaults\.environment\.A: \{\{ release \}\}"):
        load(text.replace("    environment: {A: /tmp}\n", ""), tmp_path)


def test_only_the_exact_token_is_the_token(tmp_path: Path) -> None:
    # `{{release}}` is an ordinary string: launchd gets it as written
    text = BASE.replace(PLAIN, "    program: ['/bin/echo', '{{release}}']\n")
    assert load(text, tmp_path).services["plain"].program == ("/bin/echo", "{{release}}")
