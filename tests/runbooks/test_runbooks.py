"""Every command in the runbooks' console blocks runs here, against simulated hosts.

A runbook's `$ ` lines run in order from a working directory laid out as the demo's
(inventory.yaml + the example bot), with `.testbed` pointing at this session's hosts;
`# exit N` after a command says which exit code it must give. So runbooks cannot rot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from svcctl_testbed.demo.run import prepare
from svcctl_testbed.demo.script import environment, parse_console, run_steps
from tests.conftest import Hosts
from tests.deploy.reboot import ensure_headless

pytestmark = pytest.mark.testbed
RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
ALL = [*sorted(RUNBOOKS.glob("*.md")), RUNBOOKS.parent / "README.md"]  # README's tour too


def test_every_runbook_has_commands_to_run() -> None:
    assert {p.name for p in ALL} >= {"README.md", "deploy.md", "duplicate-instance.md",
                                     "new-service.md", "headless-mac.md", "guard.md",
                                     "failover.md", "system-daemon.md"}
    for path in ALL:
        assert parse_console(path.read_text()), f"{path.name} has no console commands"


def test_parse_console_reads_commands_exit_notes_and_continuations() -> None:
    text = ("intro\n```console\n$ svcctl audit  # exit 1\nsome output\n$ echo a \\\n  b\n```\n"
            "```sh\n$ not-run\n```\n")
    steps = parse_console(text)
    assert [(s.command, s.expect_rc) for s in steps] == [
        ("svcctl audit  # exit 1", 1), ("echo a \\\n  b", 0)]
    doc = "```console\n$ cat >> f <<'EOF'  # exit 3\nx: 1\n$ not a command\nEOF\n$ true\n```\n"
    assert [(s.command, s.expect_rc) for s in parse_console(doc)] == [
        ("cat >> f <<'EOF'  # exit 3\nx: 1\n$ not a command\nEOF", 3), ("true", 0)]


LABEL = "com.example.shiva"
SVCCTL_STATE = "Library/Application Support/svcctl"
# Every place a runbook may leave shiva: its code, its plists (LaunchDaemons, the agents'
# auto-load directory, svcctl's own), a fence's moved plists, record and --fenced
# acknowledgements, and a deploy lock left by a runbook that failed half-way.
_SHIVA_FILES = (
    "/Users/ops/shiva",
    f"/Library/LaunchDaemons/{LABEL}.plist*",
    f"/Users/ops/Library/LaunchAgents/{LABEL}.plist*",
    f'"/Users/ops/{SVCCTL_STATE}/LaunchAgents/{LABEL}.plist"*',
    f'"/Users/ops/{SVCCTL_STATE}/fenced/{LABEL}."*',
    f'"/{SVCCTL_STATE}/fenced/{LABEL}."*',
    "/tmp/svcctl-deploy/shiva.lock",
)


def _clean_shiva(hosts: Hosts) -> None:
    """Both hosts up and headless, and no trace of shiva: runbooks must not leak into
    each other (failover.md reboots hosts and fences; system-daemon.md installs a daemon).

    As root, so the system domain and root-owned files are reachable; through `sh -c`, so
    a glob that matches nothing stays a harmless literal. A fence disables the label in
    user/501, and that persists across reboots (FACTS 2.5): enable it again.
    """
    ensure_headless(hosts)
    script = "; ".join([
        *(f"launchctl bootout {d}/{LABEL}" for d in ("system", "user/501", "gui/501")),
        f"launchctl enable user/501/{LABEL}",
        # everything run from the shiva tree, its releases' copies too; the [a] keeps
        # this very sh -c (whose command line carries the pattern) out of the match
        "pkill -9 -f '/Users/ops/shiv[a]/'",
        "rm -rf " + " ".join(_SHIVA_FILES),
    ])
    for host in ("tesseract", "backup"):
        hosts.ssh(host, ["sh", "-c", script], user="root")  # rc: rm's, else ssh's


@pytest.mark.parametrize("runbook", ALL, ids=[p.stem for p in ALL])
def test_runbook_commands_behave_as_written(runbook: Path, hosts: Hosts, tmp_path: Path) -> None:
    _clean_shiva(hosts)
    workdir = tmp_path / "work"
    prepare(workdir)
    (workdir / ".testbed").symlink_to(hosts.tb.layout.root)
    lines: list[str] = []
    try:
        outcomes = run_steps(parse_console(runbook.read_text()), workdir, environment(workdir),
                             lines.append)
    finally:
        _clean_shiva(hosts)
    bad = [o for o in outcomes if not o.ok]
    assert not bad and len(outcomes) == len(parse_console(runbook.read_text())), \
        "\n".join(lines)


def test_the_demo_ships_the_example_inventory() -> None:
    top = RUNBOOKS.parent / "inventory.yaml"
    packaged = RUNBOOKS.parent / "testbed" / "svcctl_testbed" / "demo" / "inventory.yaml"
    assert packaged.read_text() == top.read_text()
