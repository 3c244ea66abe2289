"""`svcctl adopt` and the three seed incidents, reproduced and then refused or repaired.

Seeds (/work/shared/seeds): 1. a copy started by hand and left running beside launchd's
job; 2. a restart without a stop (CI kickstarts while the old process lives); 3. a
failover without fencing (the service also running on `backup`).
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import replace

import pytest

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.ops.kill import Kill, signal_checked
from svcctl.procs import parse_ps, ps_argv
from tests.service_kit import Sampler, Service, Site, wait_line
from tests.testbed.jobs import detached
from tests.wait import wait_until

pytestmark = pytest.mark.testbed


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def test_seed1_copy_left_running_by_hand(service: Service) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    assert run(service, "stop", service.name)[0] == 0
    stray = service.start_stray()  # `python main.py` over SSH, then logout
    # launchd's KeepAlive job coming back would be the second copy: svcctl refuses it
    rc, out = run(service, "start", service.name)
    assert rc == 1 and f"pid {stray}" in out, out
    rc, out = run(service, "deploy", service.name)
    assert rc == 1, out
    assert f"pid {stray}" in out and f"svcctl adopt {service.name} --host" in out, out
    assert not service.loaded() and service.pids() == [stray]  # nothing changed
    # non-interactive without --yes: the plan, exit 1, nothing killed
    rc, out = run(service, "adopt", service.name)
    assert rc == 1 and f"pid {stray}" in out and "SIGTERM" in out, out
    assert service.pids() == [stray]
    with Sampler(service) as sampler:
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "2")
    sampler.check()
    assert rc == 0, out
    assert service.pids() == [service.launchd_pid()] and stray not in service.pids()


def test_seed2_restart_without_stop_duplicate_is_repaired(service: Service) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    old = service.start_stray()  # the old copy CI's kickstart did not stop
    with Sampler(service) as dup:
        pass
    assert dup.max == 2  # the incident, reproduced: two instances at once
    rc, out = run(service, "restart", service.name)
    assert rc == 1 and "duplicate" in out and f"pid {old}" in out, out
    with Sampler(service) as sampler:
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "2")
    assert rc == 0, out
    # adopt only ever removes: no third process appeared while it worked
    assert sampler.pids == {managed, old} and sampler.result["samples"] >= 100
    assert service.pids() == [managed] and service.launchd_pid() == managed  # kept launchd's


def test_seed3_failover_without_fencing(make_service: object, site: Site) -> None:
    if site.other is None:
        pytest.skip("needs a second host (SVCCTL_MAC_BACKUP)")
    service = make_service("fo", [site.main])  # type: ignore[operator]
    assert run(service, "deploy", service.name)[0] == 0
    # a watchdog on backup "recovered" the service there: a launchd job and a stray
    service.bootstrap_by_hand(site.other)
    extra = service.start_stray(site.other)
    rc, out = run(service, "deploy", service.name)
    assert rc == 1, out
    # deploy would fence backup, but a fence never kills: the stray is adopt's to stop
    assert f"refusing to fence {site.other}" in out and f"pid {extra}" in out, out
    assert f"svcctl adopt {service.name} --host {site.other}" in out, out
    rc, out = run(service, "adopt", service.name, "--host", site.other, "--yes",
                  "--grace", "1")
    assert rc == 0, out
    assert service.pids(site.other) == [] and not service.loaded(site.other)
    assert extra not in service.pids(site.other)
    rc, out = run(service, "deploy", service.name)
    assert rc == 0, out
    assert service.pids() == [service.launchd_pid()]
    # the watchdog's plist is still on backup: deploy fenced it, no reboot brings it back
    assert f"{site.other}: fenced" in out, out


def test_adopt_kills_a_stray_that_ignores_sigterm_after_the_grace(service: Service) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    stray = int(service.site.sh(service.site.main, detached(
        f"/usr/bin/python3 {service.script} v0 ignore-term")).stdout)
    # running is not enough: adopt must meet it after it has set SIGTERM to ignored
    # (a Mac's ps has no sigignore keyword: the service leaves a marker once it is set)
    wait_until(lambda: service.site.sh(service.site.main, f"test -e /tmp/ignoring-term.{stray}",
                                       check=False).returncode == 0)
    rc, out = run(service, "adopt", service.name, "--yes", "--grace", "1")
    assert rc == 0, out
    assert f"pid {stray} ignored SIGTERM for 1 s: SIGKILL sent" in out, out
    assert service.pids() == [managed]


def test_a_reused_pid_is_never_signalled(service: Service, site: Site) -> None:
    pid = service.start_stray()
    host = SSHHost(site.main, SSHTarget(site.main, ssh_config=site.ssh_config,
                                        user=site.user))
    with host:
        # the stray as audit reads it: the host's own ps, through the real probe
        procs = {p.pid: p for p in parse_ps(host.run(ps_argv()).stdout)}
        proc = procs[pid]
        assert proc.command.endswith(f" {service.script} v1 run"), proc
        assert len(proc.started_raw) == 24

        def kill(started: str, command: str, sig: str = "TERM") -> str:
            return signal_checked(host, Kill(replace(proc, started_raw=started,
                                                     command=command), (service.target,)), sig)

        assert kill(proc.started_raw, proc.command, "0") == "alive"
        # same pid, another start time or command: a different process now
        assert kill("Mon Jan  1 00:00:00 2001", proc.command) == "changed"
        assert kill(proc.started_raw, proc.command + " x") == "changed"
        assert kill(proc.started_raw, "    " + proc.command) == "changed"  # not the gap
        assert service.pids() == [pid]
        assert kill(proc.started_raw, proc.command) == "sent"
    service.site.sh(site.main, f"while kill -0 {pid} 2>/dev/null; do sleep 0.1; done",
                    timeout=10)
    assert service.pids() == []


def test_permission_denied_is_reported_with_a_remedy(testbed: Site, tmp_path: object) -> None:
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "perm", None)  # type: ignore[arg-type]
    try:
        assert run(service, "deploy", service.name)[0] == 0
        managed = service.launchd_pid()
        stray = service.start_stray(user="root")  # started with sudo
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "1")
        assert rc == 3, out
        assert f"pid {stray}" in out and "--user root" in out, out
        assert stray in service.pids()  # reported, not skipped silently
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "1",
                      "--user", "root")
        assert rc == 0, out
        assert service.pids() == [managed]
    finally:
        service.cleanup()


def test_lifecycle_stop_start_status_logs(service: Service) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    rc, out = run(service, "status", service.name)
    assert rc == 0 and "ok" in out, out
    rc, out = run(service, "stop", service.name)
    assert rc == 0 and "no matching process" in out, out
    assert service.pids() == [] and not service.loaded()
    rc, out = run(service, "status", service.name)
    assert rc == 1 and "down" in out, out
    with Sampler(service) as sampler:
        rc, out = run(service, "start", service.name)
        assert rc == 0, out
        rc, again = run(service, "start", service.name)
        assert rc == 0 and "already running" in again, again
        rc, out = run(service, "restart", service.name)
    sampler.check()
    assert rc == 0 and " upload " not in out, out
    assert service.pids() == [service.launchd_pid()]
    logs = subprocess.run(service.argv("logs", service.name, "-n", "5"), capture_output=True,
                          text=True, timeout=30)
    assert "started v1" in logs.stdout, logs.stdout + logs.stderr


def test_sigterm_mid_stop_finishes_it_releases_the_lock_and_exits_3(service: Service) -> None:
    # README: 3 = interrupted by SIGINT/SIGTERM; the lock must not outlive svcctl
    service.write_inventory("v1", "ignore-term", exit_timeout=2)
    assert run(service, "deploy", service.name)[0] == 0
    proc = service.spawn("stop", service.name)
    wait_line(proc, " lock ")
    proc.send_signal(signal.SIGTERM)  # lands while launchd waits ExitTimeOut to SIGKILL
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, out + err
    assert "interrupted by SIGTERM" in out + err, out + err
    assert service.pids() == [] and service.lock_file() is None
