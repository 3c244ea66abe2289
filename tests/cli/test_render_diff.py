"""`svcctl render` and `svcctl diff` against the simulated hosts, run as a user runs them."""

from __future__ import annotations

import json
import plistlib
import re
from pathlib import Path
from typing import Any

import pytest

from svcctl.host.quote import quote
from tests.service_kit import HOME, Service, Site, svcctl
from tests.testbed.jobs import SESSION_TYPES

pytestmark = pytest.mark.testbed


def _entry(svc: Service) -> dict[str, Any]:
    return svc.entry(["tesseract", "backup"], environment={"MODE": "paper"},
                     working_directory=svc.dir, run_at_load=True)


def _render(inv: Path, svc: Service, *args: str) -> bytes:
    proc = svcctl("render", svc.name, "-i", str(inv), *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout.encode()


def _diff(inv: Path, svc: Service, *args: str) -> tuple[int, dict[str, Any]]:
    proc = svcctl("diff", svc.name, "-i", str(inv), "--json", *args)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["schema"] == "svcctl.diff/1" and doc["ok"] == (proc.returncode == 0)
    return proc.returncode, doc


def test_render_prints_the_plist_to_upload(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: _entry(svc)})
    data = _render(inv, svc)
    job = plistlib.loads(data)
    assert job["Label"] == svc.label
    assert job["ProgramArguments"] == ["/usr/bin/python3", svc.script]
    assert job["EnvironmentVariables"] == {"MODE": "paper"}
    assert job["LimitLoadToSessionType"] == SESSION_TYPES
    assert data == kit.rendered(inv, svc)  # byte for byte what deploy would upload
    assert _render(inv, svc, "--host", "backup") == data


def test_render_bad_input_is_one_line_and_exit_2(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: _entry(svc)})
    system = kit.inventory(
        {svc.name: {**_entry(svc), "user_name": "ops"}}, name="daemon.yaml",
        hosts={"tesseract": {"domain": "user/501", "home": HOME},
               "backup": {"domain": "user/501", "home": HOME}})
    cases = [
        (["render", "nope", "-i", str(inv)], "unknown service 'nope'"),
        (["render", svc.name, "-i", str(inv), "--host", "nowhere"], "unknown host 'nowhere'"),
        (["render", svc.name, "-i", str(inv.parent / "missing.yaml")], "no such file"),
        (["render", svc.name, "-i", str(system)], "user_name applies to LaunchDaemons"),
        (["diff", "nope", "-i", str(inv)], "unknown service 'nope'"),
        (["diff", svc.name, "-i", str(inv), "--host", "nowhere"], "unknown host 'nowhere'"),
    ]
    for args, message in cases:
        proc = svcctl(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith("svcctl: error: ") and proc.stderr.count("\n") == 1
        assert message in proc.stderr, (args, proc.stderr)


def test_diff_through_install_bootstrap_and_edits(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: _entry(svc)})
    path = svc.plist

    # 1. nothing installed: drift, on every host of the service
    rc, doc = _diff(inv, svc)
    assert rc == 1
    assert [h["host"] for h in doc["hosts"]] == ["tesseract", "backup"]
    for h in doc["hosts"]:
        assert (h["drift"], h["installed"], h["loaded"], h["path"]) == (
            True, "missing", False, path)
    human = svcctl("diff", svc.name, "-i", str(inv), "--host", "tesseract")
    assert human.returncode == 1
    assert "installed: MISSING" in human.stdout and "NOT LOADED in user/501" in human.stdout

    # 2. the rendered file installed and bootstrapped: no drift
    kit.install_program("tesseract", svc)
    kit.install_plist("tesseract", svc, _render(inv, svc))
    pid = kit.bootstrap("tesseract", svc)
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    [h] = doc["hosts"]
    assert (rc, h["drift"], h["installed"], h["loaded"], h["loaded_pid"]) == (
        0, False, "present", True, pid), h
    assert h["differences"] == []
    human = svcctl("diff", svc.name, "-i", str(inv), "--host", "tesseract")
    assert human.returncode == 0 and "no drift" in human.stdout, human.stdout

    # 3. the file edited, not re-bootstrapped: rendered != installed, and installed !=
    #    loaded, since launchd still runs the copy it read at bootstrap (FACTS 2.1)
    edited = plistlib.loads(_render(inv, svc))
    edited["EnvironmentVariables"]["MODE"] = "live"
    kit.install_plist("tesseract", svc, plistlib.dumps(edited))
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    [h] = doc["hosts"]
    assert rc == 1
    [row] = h["differences"]
    assert row == {"key": "EnvironmentVariables.MODE", "rendered": "paper",
                   "installed": "live", "loaded": "paper", "loaded_shown": True,
                   "differ": ["rendered/installed", "installed/loaded"]}
    text = svcctl("diff", svc.name, "-i", str(inv), "--host", "tesseract").stdout
    assert re.search(r"EnvironmentVariables\.MODE\s+paper\s+live\s+paper\s+"
                     r"rendered/installed, installed/loaded", text), text

    # 4. the edited file re-bootstrapped: file and job agree, both differ from the render
    kit.sh("tesseract", f"launchctl bootout user/501/{svc.label}", check=False)
    kit.bootstrap("tesseract", svc)
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    [row] = doc["hosts"][0]["differences"]
    assert rc == 1
    assert (row["key"], row["installed"], row["loaded"], row["differ"]) == (
        "EnvironmentVariables.MODE", "live", "live", ["rendered/installed", "rendered/loaded"])

    # 5. arguments edited without re-bootstrap: launchd's loaded arguments are the old ones
    edited["ProgramArguments"] = ["/usr/bin/python3", svc.script, "ignore-term"]
    kit.install_plist("tesseract", svc, plistlib.dumps(edited))
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    rows = {r["key"]: r for r in doc["hosts"][0]["differences"]}
    assert rc == 1
    assert rows["ProgramArguments"]["differ"] == ["rendered/installed", "installed/loaded"]
    assert rows["ProgramArguments"]["loaded"] == ["/usr/bin/python3", svc.script]


def test_diff_loaded_but_file_removed_and_unreadable_file(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: _entry(svc)})
    kit.install_program("tesseract", svc)
    kit.install_plist("tesseract", svc, _render(inv, svc))
    kit.bootstrap("tesseract", svc)

    kit.sh("tesseract", f"rm {quote(svc.plist)}")
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    [h] = doc["hosts"]
    assert (rc, h["installed"], h["loaded"]) == (1, "missing", True)
    assert h["differences"] == []  # launchd still holds the rendered job: only the file is gone

    kit.put("tesseract", svc.plist, "<plist><dict><key>Label</key>")
    rc, doc = _diff(inv, svc, "--host", "tesseract")
    [h] = doc["hosts"]
    assert (rc, h["installed"]) == (1, "unreadable")
    assert "not a valid plist" in h["installed_detail"]
