"""The refused-duplicate contract between svcctl.guard and launchd, on a simulated host.

A stray that holds the service's guard lock makes launchd's instance exit 75
(EX_TEMPFAIL); audit reports `blocked`, naming the stray, and not `crashloop`.
"""

from __future__ import annotations

import json
import plistlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

import svcctl.guard
from svcctl.host.quote import join
from svcctl.inventory import load_inventory
from svcctl.render import GUARD_SUBPATH, plist_path_for, render_plist
from tests.conftest import Hosts
from tests.testbed.jobs import SERVICE_PY, launchctl, print_field
from tests.wait import wait_until

pytestmark = pytest.mark.testbed
H = "tesseract"
WRAPPER = f"/Users/ops/{GUARD_SUBPATH}"


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


def _audit(inv: Path, name: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "audit", "-i", str(inv),
                           "--service", name, "--json"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    (host,) = doc["hosts"]
    (finding,) = host["services"]
    finding["_rc"] = proc.returncode
    return finding  # type: ignore[no-any-return]


def test_stray_holding_the_guard_blocks_launchd_and_audit_says_blocked(
        hosts: Hosts, tmp_path: Path) -> None:
    name = f"g{time.time_ns() % 10**8}"
    label = f"com.example.{name}"
    inv_path = _inventory(hosts, tmp_path, name)
    inv = load_inventory(inv_path)
    svc, spec = inv.services[name], inv.hosts[H]
    rendered = render_plist(svc, spec.domain, inv.templates_dir, home=spec.home)
    args = plistlib.loads(rendered.data)["ProgramArguments"]
    assert args == ["/usr/bin/python3", WRAPPER, name, "--",
                    "/usr/bin/python3", f"/Users/ops/{name}/main.py"]
    assert plistlib.loads(rendered.data)["ThrottleInterval"] == 60

    hosts.ssh(H, ["mkdir", "-p", f"/Users/ops/{name}", str(Path(WRAPPER).parent)])
    hosts.put(H, f"/Users/ops/{name}/main.py", SERVICE_PY)
    hosts.put(H, WRAPPER, Path(svcctl.guard.__file__).read_text(), mode="755")
    # the March 29 pattern, with the guard in place: started by hand, left running
    hosts.ssh(H, "nohup " + join(args) + " >/dev/null 2>&1 &")
    stray = int(wait_until(lambda: hosts.ssh(
        H, ["pgrep", "-f", f"^/usr/bin/python3 /Users/ops/{name}/main.py$"],
        check=False).stdout.strip()))
    try:
        plist_path = str(plist_path_for(inv.services[name], inv.hosts[H].domain, "/Users/ops"))
        hosts.put(H, plist_path, rendered.data.decode())
        assert launchctl(hosts, H, "bootstrap", "user/501", plist_path).returncode == 0
        # launchd's instance starts, finds the lock held, exits 75 and waits out the throttle
        out = wait_until(lambda: (o := launchctl(hosts, H, "print", f"user/501/{label}").stdout)
                         and print_field(o, "state") == "spawn scheduled" and o)
        assert print_field(out, "last exit code") in ("75", "75: EX_TEMPFAIL")
        finding = _audit(inv_path, name)
        assert finding["verdict"] == "blocked", finding
        assert finding["_rc"] == 1
        assert f"blocked by pid {stray}" in str(finding["detail"])
        instances = finding["instances"]
        assert isinstance(instances, list)
        assert [(i["pid"], i["managed"]) for i in instances] == [(stray, False)]
        assert "svcctl adopt" in str(finding["next"])
        log = hosts.ssh(H, ["cat", f"/tmp/svcctl-guard/{name}.lock"]).stdout
        assert json.loads(log)["pid"] == stray
    finally:
        launchctl(hosts, H, "bootout", f"user/501/{label}")
        hosts.ssh(H, ["kill", "-9", str(stray)], check=False)


def test_guard_holder_that_is_launchds_instance_is_ok(hosts: Hosts, tmp_path: Path) -> None:
    name = f"g{time.time_ns() % 10**8}"
    label = f"com.example.{name}"
    inv_path = _inventory(hosts, tmp_path, name)
    inv = load_inventory(inv_path)
    rendered = render_plist(inv.services[name], inv.hosts[H].domain, inv.templates_dir,
                            home="/Users/ops")
    hosts.ssh(H, ["mkdir", "-p", f"/Users/ops/{name}", str(Path(WRAPPER).parent)])
    hosts.put(H, f"/Users/ops/{name}/main.py", SERVICE_PY)
    hosts.put(H, WRAPPER, Path(svcctl.guard.__file__).read_text(), mode="755")
    plist_path = str(plist_path_for(inv.services[name], inv.hosts[H].domain, "/Users/ops"))
    hosts.put(H, plist_path, rendered.data.decode())
    try:
        assert launchctl(hosts, H, "bootstrap", "user/501", plist_path).returncode == 0
        pid = int(wait_until(lambda: print_field(
            launchctl(hosts, H, "print", f"user/501/{label}").stdout, "pid")))
        # the wrapper execs the program under the same pid, holding the lock
        wait_until(lambda: json.loads(hosts.ssh(
            H, ["cat", f"/tmp/svcctl-guard/{name}.lock"]).stdout or "{}").get("pid") == pid)
        finding = _audit(inv_path, name)
        assert finding["verdict"] == "ok", finding
        assert [(i["pid"], i["managed"]) for i in finding["instances"]] == [(pid, True)]  # type: ignore[union-attr]
    finally:
        launchctl(hosts, H, "bootout", f"user/501/{label}")
