"""`hostname: localhost`: svcctl on the machine itself, without SSH.

This machine is Linux, with no launchd: audit must say so plainly (not blame process
permissions, not report clean), and a deploy must stop before it changes anything.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.service_kit import svcctl


def _inventory(tmp_path: Path) -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "hosts:\n"
        "  here:\n"
        "    hostname: localhost\n"
        "    domain: user/501\n"
        f"    home: {tmp_path}\n"
        "services:\n"
        "  bot:\n"
        "    label: com.example.localbot\n"
        "    hosts: [here]\n"
        f"    program: [/usr/bin/python3, {tmp_path}/bot.py]\n")
    return inv


def test_audit_of_a_local_host_without_launchctl_is_a_finding_with_the_cause(
        tmp_path: Path) -> None:
    assert shutil.which("launchctl") is None  # the premise: this is not a Mac
    inv = _inventory(tmp_path)
    proc = svcctl("audit", "-i", str(inv), "--json")
    assert proc.returncode == 1, proc.stderr
    host, = json.loads(proc.stdout)["hosts"]
    assert host["host"] == "here" and host["reachable"] is True
    finding, = host["services"]
    assert finding["verdict"] == "uninspectable"
    assert finding["detail"] == "launchctl not found on here: it is not a macOS host"
    assert "which machine `here` reaches" in finding["next"]

    text = svcctl("audit", "-i", str(inv))
    assert text.returncode == 1 and "launchctl not found on here" in text.stdout, text.stdout
    assert "Traceback" not in text.stdout + text.stderr


def test_deploy_to_a_local_host_without_launchctl_changes_nothing(tmp_path: Path) -> None:
    inv = _inventory(tmp_path)
    proc = svcctl("deploy", "bot", "-i", str(inv), "--yes")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # refused, nothing changed (README: exit codes)
    assert "Traceback" not in out
    assert "here: launchctl not found: it is not a macOS host" in out, out
    assert "now: uninspectable: launchctl not found" in out, out  # not a guessed "not loaded"
    assert not (tmp_path / "Library").exists()  # no plist was written
