"""Issue 10 §2: files another local user can write must not steer what svcctl kills or writes.

Every attack runs as `nobody` on a simulated host (`setpriv` as root over SSH is test
instrumentation: on a Mac it is `sudo -u nobody`); svcctl then runs as ops, or root,
over its real SSH transport, against the host's real files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.ops.lock import LOCK_DIR
from tests.conftest import Hosts

pytestmark = pytest.mark.testbed
H = "tesseract"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody(hosts: Hosts, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`script` run by the unprivileged user nobody on the host (the attacker)."""
    return hosts.ssh(H, [*NOBODY, "sh", "-c", script], user="root", check=check)


@pytest.fixture
def attacker(hosts: Hosts) -> Hosts:
    passwd = hosts.ssh(H, ["cat", "/etc/passwd"]).stdout
    assert any(line.split(":")[0] == "nobody" and line.split(":")[2] == "65534"
               for line in passwd.splitlines()), passwd
    assert as_nobody(hosts, "id -u").stdout.strip() == "65534"
    return hosts


def _host(hosts: Hosts, user: str = "ops") -> SSHHost:
    return SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config, user=user))


def _mode(hosts: Hosts, path: str) -> str:
    return hosts.ssh(H, ["ls", "-ldn", path], user="root").stdout.split()[0]


@pytest.fixture
def fresh_lock_dir(attacker: Hosts) -> Iterator[None]:
    """No /tmp/svcctl-deploy yet: the first lock after boot."""
    attacker.ssh(H, ["rm", "-rf", LOCK_DIR], user="root")
    yield
    attacker.ssh(H, ["rm", "-rf", LOCK_DIR], user="root")


def _service() -> str:
    return f"hostile{time.time_ns() % 10**9}"


def _inventory(hosts: Hosts, tmp_path: Path, name: str) -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"""
ssh_config: {hosts.ssh_config}
hosts:
  tesseract: {{domain: user/501, home: /Users/ops}}
services:
  {name}:
    label: com.example.{name}
    hosts: [tesseract]
    program: [/usr/bin/python3, /Users/ops/{name}/main.py]
    keep_alive: true
    guard: true
""")
    return inv


def _audit(inv: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "audit", "-i", str(inv),
                           "--service", name, *extra], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def test_a_forged_guard_record_makes_no_process_a_stray(attacker: Hosts, tmp_path: Path) -> None:
    name = _service()
    inv = _inventory(attacker, tmp_path, name)
    victim = attacker.ssh(H, "nohup sleep 300 >/dev/null 2>&1 & echo $!").stdout.strip()
    try:
        as_nobody(attacker, f"mkdir -p -m 1777 /tmp/svcctl-guard; "
                  f"printf '%s' '{{\"pid\": {victim}}}' > /tmp/svcctl-guard/{name}.lock")
        doc = json.loads(_audit(inv, name, "--json").stdout)
        (finding,) = doc["hosts"][0]["services"]
        assert [i["pid"] for i in finding["instances"]] == [], finding
        assert finding["verdict"] == "down", finding
        text = _audit(inv, name).stdout
        assert victim not in text, text
        assert attacker.ssh(H, ["kill", "-0", victim], check=False).returncode == 0
    finally:
        attacker.ssh(H, ["kill", victim], check=False)
        attacker.ssh(H, ["rm", "-f", f"/tmp/svcctl-guard/{name}.lock"], user="root")


