"""svcctl is tolerant of every launchd variant FACTS lists as unconfirmed.

Each case boots a simulated host whose emulator answers with the other variants
(already-loaded 17 or 37, kickstart-while-running 37, session mismatch 5, pre-Ventura
print-disabled, a disabled label that loads but never runs) and drives the whole
cycle through the CLI: deploy, redeploy, audit, a stray, adopt, audit.
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
from tests.testbed.jobs import SERVICE_PY

pytestmark = pytest.mark.testbed

VARIANTS = {
    "codes-37-session-5-legacy": {"already_loaded_code": 37, "kickstart_running_code": 37,
                                  "session_mismatch_code": 5,
                                  "print_disabled_style": "legacy"},
    "code-17-disabled-loads": {"already_loaded_code": 17, "bootstrap_disabled_fails": False},
}


@pytest.fixture(params=sorted(VARIANTS), scope="module")
def variant(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Testbed, Path]]:
    tb = Testbed(tmp_path_factory.mktemp("variant"))
    try:
        tb.up(["mac"], quirks=VARIANTS[request.param])
        (tb.layout.root / "variant-name").write_text(request.param)
        inv = tb.layout.root / "inventory.yaml"
        inv.write_text(f"""
ssh_config: {tb.layout.ssh_config}
hosts:
  mac: {{domain: user/501, home: /Users/ops}}
services:
  bot:
    label: com.example.variant.bot
    hosts: [mac]
    program: [/usr/bin/python3, /Users/ops/bot/main.py]
    keep_alive: true
    throttle_interval: 1
    stay_up: 2
""")
        _ssh(tb, "mkdir -p bot && cat > bot/main.py", stdin=SERVICE_PY)
        yield tb, inv
    finally:
        tb.down()


def _variant_name(tb: Testbed) -> str:
    return (tb.layout.root / "variant-name").read_text()


def _ssh(tb: Testbed, command: str, stdin: str | None = None) -> str:
    proc = subprocess.run(tb.ssh_argv("mac", command), input=stdin, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _svcctl(inv: Path, *args: str) -> tuple[int, Any]:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", *args, "-i", str(inv),
                           "--json"], capture_output=True, text=True, timeout=180)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _verdict(inv: Path) -> tuple[int, str, list[tuple[int, bool]]]:
    rc, doc = _svcctl(inv, "audit")
    (svc,) = doc["hosts"][0]["services"]
    return rc, svc["verdict"], [(i["pid"], i["managed"]) for i in svc["instances"]]


def test_full_cycle_on_a_launchd_variant(variant: tuple[Testbed, Path]) -> None:
    tb, inv = variant
    # a disabled override in the way: deploy's `enable` must clear it (FACTS 2.1, 2.5)
    _ssh(tb, "launchctl disable user/501/com.example.variant.bot")
    rc, doc = _svcctl(inv, "deploy", "bot", "--yes")
    assert rc == 0, doc
    rc, verdict, instances = _verdict(inv)
    assert (rc, verdict) == (0, "ok") and len(instances) == 1
    first = instances[0][0]
    # the host really answers with the variant (so the cycle below exercises it)
    codes = VARIANTS[_variant_name(tb)]
    again = subprocess.run(tb.ssh_argv("mac", "launchctl bootstrap user/501 'Library/"
                                       "Application Support/svcctl/LaunchAgents/"
                                       "com.example.variant.bot.plist'"),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == codes["already_loaded_code"]

    rc, doc = _svcctl(inv, "deploy", "bot", "--yes")  # already loaded, already running
    assert rc == 0, doc
    rc, verdict, instances = _verdict(inv)
    assert (rc, verdict) == (0, "ok") and instances[0][0] != first

    _ssh(tb, "nohup /usr/bin/python3 /Users/ops/bot/main.py </dev/null >/dev/null 2>&1 &")
    deadline = time.monotonic() + 10
    while (v := _verdict(inv))[1] != "duplicate" and time.monotonic() < deadline:
        time.sleep(0.2)
    rc, verdict, instances = v
    assert (rc, verdict) == (1, "duplicate")
    stray = next(pid for pid, managed in instances if not managed)

    rc, doc = _svcctl(inv, "adopt", "bot", "--yes")
    assert rc == 0, doc
    rc, verdict, instances = _verdict(inv)
    assert (rc, verdict) == (0, "ok")
    assert stray not in [pid for pid, _ in instances]
