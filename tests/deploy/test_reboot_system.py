"""A LaunchDaemon in `system` with UserName: the service that survives a headless reboot.

`user/<uid>` exists only once that user has logged in, and `gui/<uid>` only with a console
login (FACTS 1.4): after a reboot with nobody logged in, an agent svcctl bootstrapped there
is gone. launchd loads /Library/LaunchDaemons into `system` at boot (FACTS 1.2), with or
without a login, and `UserName` runs the program as the login user. Issue 11 recommends
that path; runbooks/system-daemon.md is its runbook. Everything runs through the CLI, as a
user types it, against an inventory whose host is reached as root.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Hosts
from tests.deploy.reboot import FleetSampler, ensure_headless, headless_after, reboot
from tests.service_kit import SERVICE_PY, Service, Site
from tests.testbed.jobs import detached

pytestmark = pytest.mark.testbed
HOST = "tesseract"
BOOT_WAIT = 30.0


class Daemon(Service):
    """A test service deployed as /Library/LaunchDaemons/<label>.plist, run as ops."""

    @property
    def plist(self) -> str:
        return f"/Library/LaunchDaemons/{self.label}.plist"

    @property
    def target(self) -> str:
        return f"system/{self.label}"

    def write_inventory(self, version: str = "v1", mode: str = "run", **extra: Any) -> Path:
        site = self.site
        svc = {"label": self.label, "hosts": [site.main],
               "program": ["/usr/bin/python3", self.script, version, mode],
               "user_name": "ops", "keep_alive": True, "stay_up": 1.5, "exit_timeout": 2,
               "stdout_path": f"{site.home}/{self.name}.log", **extra}
        doc = {"ssh_config": str(site.ssh_config),
               "hosts": {site.main: {"domain": "system", "user": "root", "home": site.home}},
               "services": {self.name: svc}}
        self.inventory.write_text(yaml.safe_dump(doc))
        return self.inventory

    def launchd_pid(self, host: str | None = None) -> int | None:
        """launchd's pid for the job in `system`, asked as root (None: not loaded or idle)."""
        out = self.site.sh(host or self.site.main, f"launchctl print {self.target}",
                           user="root", check=False).stdout
        pids = [int(x.split("=")[1]) for x in out.splitlines() if x.startswith("\tpid = ")]
        return pids[0] if pids else None


@pytest.fixture
def daemon(hosts: Hosts, testbed: Site, tmp_path: Path) -> Iterator[Daemon]:
    site = testbed
    svc = Daemon(site, f"sysd{time.time_ns() % 10**9}", tmp_path, [site.main])
    site.put(site.main, svc.script, SERVICE_PY)
    svc.write_inventory()
    try:
        yield svc
    finally:
        ensure_headless(hosts)  # a test that failed half-way still leaves the hosts as found
        svc.cleanup()  # as root: bootout system/ and gui/501/, pkill, rm the plist
        assert not svc.pids(), "the daemon outlived its cleanup"


def came_back_once(svc: Daemon) -> int:
    """launchd's pid for the job after a boot: the only process running the script, as ops,
    and still the same one a stay-up later (KeepAlive would show a crash as a new pid)."""
    deadline = time.monotonic() + BOOT_WAIT
    pid = svc.launchd_pid()
    while pid is None and time.monotonic() < deadline:
        time.sleep(0.2)
        pid = svc.launchd_pid()
    assert pid is not None, f"{svc.target} was not running after the boot"
    time.sleep(2)
    assert svc.launchd_pid() == pid and svc.pids() == [pid], (pid, svc.pids())
    uid = svc.site.sh(svc.site.main, f"ps -o uid= -p {pid}", user="root").stdout.split()
    assert uid == ["501"], f"pid {pid} runs as uid {uid}, not ops (UserName)"
    for domain in ("user/501", "gui/501"):  # the label lives in `system` only
        print_ = svc.site.sh(svc.site.main, f"launchctl print {domain}/{svc.label}",
                             user="root", check=False)
        assert print_.returncode != 0, f"{svc.label} is loaded in {domain} too: {print_.stdout}"
    return pid


def audit_ok(svc: Service) -> None:
    proc = svc.svcctl("audit")
    assert proc.returncode == 0 and " ok " in proc.stdout, proc.stdout + proc.stderr


def test_a_system_daemon_with_user_name_comes_back_once_after_each_reboot(
        hosts: Hosts, daemon: Daemon) -> None:
    site: Site = daemon.site
    with FleetSampler(daemon) as fleet:
        proc = daemon.svcctl("deploy", daemon.name, "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        installed = site.sh(HOST, f"ls -ln {daemon.plist}", user="root").stdout.split()
        assert installed[0] == "-rw-r--r--" and installed[2] == "0", installed  # FACTS 1.2
        came_back_once(daemon)
        audit_ok(daemon)

        reboot(hosts, HOST, console=False)
        assert site.sh(HOST, "launchctl print gui/501", check=False).returncode == 112
        came_back_once(daemon)
        audit_ok(daemon)

        reboot(hosts, HOST, console=True)
        assert site.sh(HOST, "launchctl print gui/501", check=False).returncode == 0
        came_back_once(daemon)  # ~/Library/LaunchAgents holds no copy to load at login
        audit_ok(daemon)

        reboot(hosts, HOST, console=False)
        came_back_once(daemon)
        audit_ok(daemon)
    fleet.check()
    # one instance per boot, each seen by the sampler across the hosts' pid namespaces
    assert fleet.max == 1 and len(fleet.pids) >= 4, fleet.result


def test_a_reboot_keeps_the_disk_and_the_overrides_and_nothing_that_ran(
        hosts: Hosts, testbed: Site) -> None:
    """What `reboot` gives the tests above: a Mac's disk survives, its processes do not."""
    site = testbed
    label = f"com.example.rebootmark{time.time_ns() % 10**9}"
    marks = [f"/Library/LaunchDaemons/{label}.mark", f"{site.home}/Library/{label}.mark"]
    site.sh(HOST, f"touch {marks[0]} && launchctl disable system/{label}", user="root")
    site.sh(HOST, f"touch {marks[1]}")
    sleeper = int(site.sh(HOST, detached("/bin/sleep 600", "sleep 600")).stdout)
    try:
        with headless_after(hosts):
            reboot(hosts, HOST, console=False)
            site.sh(HOST, f"ls {marks[0]} {marks[1]}")
            disabled = site.sh(HOST, "launchctl print-disabled system", user="root").stdout
            assert f'"{label}" => disabled' in disabled, disabled
            ps = site.sh(HOST, "ps -axo command=", user="root").stdout
            assert "sleep 600" not in ps, f"pid {sleeper} outlived the reboot: {ps}"
    finally:
        site.sh(HOST, f"rm -f {marks[0]} {marks[1]}; launchctl enable system/{label}",
                user="root", check=False)
