"""Real services on the testbed hosts, real inventories, and svcctl run as a user runs it.

A `Kit` installs a small Python service at /Users/ops/<name>/main.py, bootstraps it with
launchctl over SSH, starts strays and decoys with `nohup ... &`, and undoes all of it at
teardown (bootout, kill by pid, remove files), so tests never see each other's leftovers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from svcctl.host.quote import quote
from svcctl.inventory import load_inventory
from svcctl.render import render_plist
from tests.conftest import Hosts
from tests.testbed.jobs import (
    SERVICE_PY,
    detached,
    job_pid,
    launchctl,
    print_field,
)
from tests.wait import wait_until

ROOT = Path(__file__).resolve().parents[1]
HOME = "/Users/ops"
# where svcctl keeps a user/<uid> agent's plist: nothing loads it by itself (issue 11)
SVCCTL_AGENTS = f"{HOME}/Library/Application Support/svcctl/LaunchAgents"


@dataclass(frozen=True)
class Svc:
    name: str

    @property
    def label(self) -> str:
        return f"com.example.{self.name}"

    @property
    def dir(self) -> str:
        return f"{HOME}/{self.name}"

    @property
    def script(self) -> str:
        return f"{self.dir}/main.py"

    @property
    def plist(self) -> str:
        return f"{SVCCTL_AGENTS}/{self.label}.plist"

    def entry(self, hosts: list[str], **extra: Any) -> dict[str, Any]:
        """The service's inventory entry."""
        return {"label": self.label, "hosts": hosts,
                "program": ["/usr/bin/python3", self.script], **extra}


def new_service(prefix: str = "svc") -> Svc:
    return Svc(f"{prefix}{time.time_ns() % 10**10}")


def svcctl(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """svcctl exactly as a user runs it: a fresh process, exit code and both streams."""
    return subprocess.run([sys.executable, "-m", "svcctl.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def audit_json(inventory: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = svcctl("audit", "-i", str(inventory), "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def finding(doc: dict[str, Any], host: str, service: str) -> dict[str, Any]:
    h = next(x for x in doc["hosts"] if x["host"] == host)
    return next(f for f in h["services"] if f["service"] == service)


@dataclass
class Kit:
    hosts: Hosts
    tmp_path: Path
    _undo: list[tuple[str, str]] = field(default_factory=list)  # (host, shell command)

    # -- inventory -------------------------------------------------------------------
    def inventory(self, services: dict[str, dict[str, Any]], *,
                  hosts: dict[str, dict[str, Any]] | None = None, name: str = "inventory.yaml",
                  ssh_config: Path | None = None) -> Path:
        """Write an inventory (JSON is YAML, and quotes any hostile value right)."""
        host_map = hosts if hosts is not None else {
            h: {"domain": "user/501", "home": HOME} for h in ("tesseract", "backup")}
        doc = {"ssh_config": str(ssh_config or self.hosts.ssh_config),
               "defaults": {"keep_alive": True, "throttle_interval": 10, "exit_timeout": 2},
               "hosts": host_map, "services": services}
        path = self.tmp_path / name
        path.write_text(json.dumps(doc, indent=2))
        return path

    # -- effects on hosts -------------------------------------------------------------
    def sh(self, host: str, command: str, *, check: bool = True) -> str:
        return self.hosts.ssh(host, command, check=check).stdout

    def on_teardown(self, host: str, command: str) -> None:
        self._undo.append((host, command))

    def install_program(self, host: str, svc: Svc) -> None:
        self.on_teardown(host, f"rm -rf {quote(svc.dir)}")
        self.sh(host, f"mkdir -p {quote(svc.dir)}")
        self.hosts.put(host, svc.script, SERVICE_PY)

    def install_plist(self, host: str, svc: Svc, data: bytes) -> None:
        self.on_teardown(host, f"rm -f {quote(svc.plist)}")
        self.sh(host, f"mkdir -p {quote(SVCCTL_AGENTS)}")
        self.hosts.put(host, svc.plist, data.decode())

    def rendered(self, inventory: Path, svc: Svc, host: str = "tesseract") -> bytes:
        inv = load_inventory(inventory)
        return render_plist(inv.services[svc.name], inv.hosts[host].domain,
                            inv.templates_dir).data

    def bootstrap(self, host: str, svc: Svc, domain: str = "user/501",
                  wait_running: bool = True) -> int | None:
        self.on_teardown(host, f"launchctl bootout {domain}/{svc.label}")
        r = launchctl(self.hosts, host, "bootstrap", domain, svc.plist)
        assert r.returncode == 0, r.stderr
        if not wait_running:
            return None
        pid: int = wait_until(lambda: job_pid(self.hosts, host, f"{domain}/{svc.label}"))
        return pid

    def deploy(self, inventory: Path, svc: Svc, host: str = "tesseract") -> int:
        """Program + rendered plist + bootstrap: launchd's pid for the label."""
        self.install_program(host, svc)
        self.install_plist(host, svc, self.rendered(inventory, svc, host))
        pid = self.bootstrap(host, svc)
        assert pid is not None
        return pid

    def start_detached(self, host: str, command: str) -> int:
        """`nohup COMMAND &` in an SSH session that then ends: the pid, reparented to 1."""
        out = self.sh(host, detached(command))
        pid = int(out.split()[-1])
        self.on_teardown(host, f"kill -9 {pid}")
        wait_until(lambda: self.ppid(host, pid) == 1)
        return pid

    def ppid(self, host: str, pid: int) -> int | None:
        out = self.sh(host, f"ps -o ppid= -p {pid}", check=False).strip()
        return int(out) if out else None

    def job_field(self, host: str, target: str, key: str) -> str | None:
        return print_field(launchctl(self.hosts, host, "print", target).stdout, key)

    def processes(self, host: str) -> dict[int, str]:
        out = self.sh(host, "ps -axww -o pid=,command=")
        rows = (re.match(r"\s*(\d+) (.*)", line) for line in out.splitlines())
        return {int(m.group(1)): m.group(2) for m in rows if m}

    def teardown(self) -> None:
        by_host: dict[str, list[str]] = {}
        for host, command in reversed(self._undo):
            by_host.setdefault(host, []).append(f"{command} >/dev/null 2>&1")
        for host, commands in by_host.items():
            self.hosts.ssh(host, "; ".join(commands), check=False)


@pytest.fixture
def kit(hosts: Hosts, tmp_path: Path) -> Iterator[Kit]:
    k = Kit(hosts, tmp_path)
    try:
        yield k
    finally:
        k.teardown()
