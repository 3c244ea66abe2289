"""A Mac without the Command Line Tools: /usr/bin/python3 only offers to install them.

README ("What the Macs need") says what then happens to a `guard: true` service, whose
wrapper runs on /usr/bin/python3: it never starts, deploy sees a crash loop and rolls back
(exit 3), and a job loaded anyway is a `crashloop` in audit. This host's
/usr/bin/python3 is the stub a Mac has (FACTS 5.4).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svcctl_testbed.control import Testbed

pytestmark = pytest.mark.testbed


@pytest.fixture(scope="module")
def bare_mac(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, Path]]:
    tb = Testbed(tmp_path_factory.mktemp("noclt"))
    try:
        tb.up(["mac"], quirks={"command_line_tools": False})
        inv = tb.layout.root / "inventory.yaml"
        inv.write_text(f"""
ssh_config: {tb.layout.ssh_config}
hosts:
  mac: {{domain: user/501, home: /Users/ops}}
services:
  bot:
    label: com.example.noclt.bot
    hosts: [mac]
    program: [/bin/sleep, "600"]
    guard: true
    keep_alive: true
    throttle_interval: 1
    stay_up: 3
""")
        yield tb, inv
    finally:
        tb.down()


def _svcctl(inv: Path, *args: str) -> tuple[int, Any]:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", *args, "-i", str(inv),
                           "--json"], capture_output=True, text=True, timeout=180)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_python3_without_the_tools_offers_to_install_them(bare_mac: tuple[Testbed, Path]) -> None:
    tb, _ = bare_mac
    r = subprocess.run(tb.ssh_argv("mac", "/usr/bin/python3 -c 'print(1)'"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("xcode-select: note: No developer tools were found")


def test_a_guarded_service_rolls_back_and_a_loaded_one_is_a_crashloop(
        bare_mac: tuple[Testbed, Path]) -> None:
    tb, inv = bare_mac
    rc, doc = _svcctl(inv, "deploy", "bot", "--yes")
    (host,) = doc["hosts"]
    assert (rc, host["outcome"]) == (3, "rolled-back"), doc
    assert "crash loop" in host["error"] and "last exit 1" in host["error"], host
    rc, doc = _svcctl(inv, "audit")
    assert (rc, doc["hosts"][0]["services"][0]["verdict"]) == (1, "down"), doc  # nothing left
    # the same job loaded by hand (or before the tools went away): launchd keeps
    # respawning the wrapper, which /usr/bin/python3 never runs
    plist = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "render", "bot", "-i",
                            str(inv)], capture_output=True, text=True, check=True).stdout
    path = "/Users/ops/Library/LaunchAgents/com.example.noclt.bot.plist"
    r = subprocess.run(tb.ssh_argv("mac", f"cat > {path} && launchctl bootstrap user/501 {path}"),
                       input=plist, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 15
    while True:
        rc, doc = _svcctl(inv, "audit")
        (svc,) = doc["hosts"][0]["services"]
        if svc["verdict"] == "crashloop" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (rc, svc["verdict"]) == (1, "crashloop"), svc
    assert svc["instances"] == []  # the guard never ran: nothing of the service runs
