"""`svcctl deploy` scenarios, run as a user runs svcctl, against `site` (testbed or a Mac).

Every scenario that changes anything samples the host's process table every few ms
for its whole duration and asserts that two instances never ran at once.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable

import pytest

from tests.service_kit import Sampler, Service, Site, free_port, wait_line

pytestmark = pytest.mark.testbed


def deploy(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl("deploy", svc.name, *args)
    return proc.returncode, proc.stdout + proc.stderr


def test_deploy_twice_restarts_through_the_gates(service: Service) -> None:
    with Sampler(service) as sampler:
        rc, out = deploy(service)
        assert rc == 0, out
        first = service.launchd_pid()
        assert first is not None and service.pids() == [first]
        # nothing changed, yet new code on disk must go live: a real restart
        rc, out = deploy(service)
        assert rc == 0, out
        second = service.launchd_pid()
    sampler.check()
    assert second is not None and second != first and service.pids() == [second]
    for step in ("lock", "preflight", "upload", "stop", "start", "verify", "unlock"):
        assert f" {step} " in out and "failed" not in out, out
    assert f"bootout {service.target}" in out
    assert service.lock_file() is None  # released
    prev = service.site.sh(service.site.main, f"cat {service.qplist}.previous").stdout
    assert service.label in prev  # the previous plist is kept for rollback


def test_dry_run_prints_the_steps_and_changes_nothing(service: Service) -> None:
    assert deploy(service)[0] == 0
    pid = service.launchd_pid()
    before = service.site.sh(service.site.main, f"cat {service.qplist}").stdout
    service.write_inventory("v2")
    rc, out = deploy(service, "--dry-run")
    assert rc == 0, out
    for n, step in enumerate(["lock", "preflight", "upload", "stop", "start", "verify",
                              "unlock"], 1):
        assert f"{n}. {step}" in out, out
    assert f"launchctl bootout {service.target}" in out
    assert f"launchctl bootstrap user/{service.site.uid} {service.qplist}" in out
    assert service.launchd_pid() == pid and service.versions() == ["v1"]
    assert service.site.sh(service.site.main, f"cat {service.qplist}").stdout == before
    assert service.lock_file() is None


def test_new_version_that_crash_loops_is_rolled_back(service: Service) -> None:
    assert deploy(service)[0] == 0
    service.write_inventory("v2", "crash")
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 3, out
    assert "crash loop" in out and "rollback: restored" in out, out
    assert "rollback-verify  ok" in out, out
    assert service.versions() == ["v1"] and service.pids() == [service.launchd_pid()]
    assert "v1" in service.site.sh(service.site.main, f"cat {service.qplist}").stdout


def test_first_deploy_that_fails_leaves_nothing_running_and_says_so(service: Service) -> None:
    service.write_inventory("v1", "crash")
    rc, out = deploy(service)
    assert rc == 3, out
    assert "rollback: nothing-running" in out and "nothing runs now" in out, out
    assert service.pids() == [] and not service.loaded()
    assert service.site.sh(service.site.main, f"test -e {service.qplist}",
                           check=False).returncode == 1


def test_a_service_that_ignores_sigterm_is_killed_after_exit_timeout(service: Service) -> None:
    service.write_inventory("v1", "ignore-term", exit_timeout=1)
    assert deploy(service)[0] == 0
    old = service.launchd_pid()
    service.write_inventory("v2", "ignore-term", exit_timeout=1)
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 0, out
    assert service.versions() == ["v2"] and service.launchd_pid() != old


def test_a_service_that_never_dies_aborts_without_starting(service: Service) -> None:
    # ExitTimeOut 0 is infinity: launchd never SIGKILLs it (FACTS 4)
    service.write_inventory("v1", "never-dies", exit_timeout=0)
    assert deploy(service)[0] == 0
    old = service.pids()
    service.write_inventory("v2", "run", exit_timeout=0)
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 3, out
    assert "not stopped within" in out and f"pid {old[0]}" in out, out
    assert f"not restarted: pid {old[0]} (the previous version) still runs" in out, out
    # never both: the old process is the only one, nothing new was started
    assert service.pids() == old and service.versions() == ["v1"]
    assert service.lock_file() is None


def test_sigterm_mid_deploy_rolls_back_and_releases_the_lock(service: Service) -> None:
    assert deploy(service)[0] == 0
    service.write_inventory("v2", stay_up=4)
    with Sampler(service) as sampler:
        proc = service.spawn("deploy", service.name)
        wait_line(proc, " start ")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    sampler.check()
    assert proc.returncode == 3, out + err
    assert "interrupted" in out and "rollback: restored" in out, out
    assert service.versions() == ["v1"] and service.pids() == [service.launchd_pid()]
    assert service.lock_file() is None


def test_sigint_before_any_change_changes_nothing(service: Service) -> None:
    assert deploy(service)[0] == 0
    pid = service.launchd_pid()
    service.write_inventory("v2")
    proc = service.spawn("deploy", service.name)
    wait_line(proc, " lock ")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out  # documented: interrupted = failed (exit 3)
    if " upload " not in out:  # the signal landed before the upload: nothing changed
        assert service.launchd_pid() == pid and service.versions() == ["v1"], out
    else:  # it landed later: rolled back
        assert "rollback: restored" in out and service.versions() == ["v1"], out
    assert service.lock_file() is None


def test_lost_connection_mid_deploy_next_run_proceeds_safely(service: Service) -> None:
    assert deploy(service)[0] == 0
    service.write_inventory("v2", stay_up=4)
    # the lease must outlive the next deploy and the audit below, two whole svcctl runs:
    # 8 s did not under load (parallel workers), and the wait for expiry ends at expiry
    proc = service.spawn("deploy", service.name, "--lock-ttl", "20")
    wait_line(proc, " start ")
    proc.kill()  # the deploying machine is gone: no rollback, no unlock
    proc.communicate()
    left = service.lock_file()
    assert left is not None
    rc, out = deploy(service, "--lock-wait", "0.5")
    assert rc == 4 and "holds the lock" in out and "pid" in out, out
    audit = service.svcctl("audit").stdout
    assert f"deploy lock for {service.name} HELD" in audit, audit
    time.sleep(max(0.0, json.loads(left)["expires"] - time.time()) + 0.2)
    with Sampler(service) as sampler:
        rc, out = deploy(service, "--lock-wait", "0.5")
    sampler.check()
    assert rc == 0 and "took over the expired lock" in out, out
    assert service.versions() == ["v2"] and service.pids() == [service.launchd_pid()]


def test_a_second_deploy_waits_then_fails_naming_the_holder(service: Service) -> None:
    assert deploy(service)[0] == 0
    # the first must still hold the lock after the second deploy and the audit, two whole
    # svcctl runs: a 4 s stay-up was over first under load (parallel workers)
    service.write_inventory("v1", stay_up=10)
    first = service.spawn("deploy", service.name)
    wait_line(first, " lock ")
    rc, out = deploy(service, "--lock-wait", "1")
    assert rc == 4 and "another deploy of" in out and "holds the lock" in out, out
    _, doc = service.json("audit")
    locks = [lk for h in doc["hosts"] for lk in h["deploy_locks"]]
    assert any(lk["service"] == service.name and not lk["expired"] for lk in locks), doc
    first.communicate(timeout=60)
    assert first.returncode == 0
    # --break-lock takes over a live one, explicitly
    service.site.sh(service.site.main, "mkdir -p /tmp/svcctl-deploy && printf '%s' "
                    f"'{{\"service\": \"{service.name}\", \"who\": \"x@y\", \"pid\": 1, "
                    f"\"started\": {time.time()}, \"expires\": {time.time() + 999}, "
                    f"\"token\": \"t\", \"ci_run\": \"42\"}}' > "
                    f"/tmp/svcctl-deploy/{service.name}.lock")
    rc, out = deploy(service, "--lock-wait", "0")
    assert rc == 4 and "CI run 42" in out, out
    rc, out = deploy(service, "--break-lock")
    assert rc == 0 and "broke the lock of x@y" in out, out


def test_gui_domain_over_ssh_is_refused_with_the_user_domain_suggested(
        service: Service, site: Site) -> None:
    text = service.inventory.read_text().replace(f"user/{site.uid}", f"gui/{site.uid}")
    service.inventory.write_text(text)
    rc, out = deploy(service)
    if site.kind == "macos" and rc == 0:
        pytest.skip("this Mac has a console login, so gui/<uid> exists")
    assert rc == 1, out
    assert f"use `domain: user/{site.uid}`" in out, out
    assert not service.loaded()


def test_failing_health_check_rolls_back(service: Service) -> None:
    assert deploy(service)[0] == 0
    service.write_inventory("v2", health={"command": ["/bin/sh", "-c", "exit 7"]})
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 3 and "health check" in out and "rollback: restored" in out, out
    assert service.versions() == ["v1"]


def test_tcp_health_check_passes_when_the_port_listens_and_rolls_back_when_not(
        service: Service) -> None:
    port = free_port()
    assert deploy(service)[0] == 0
    service.write_inventory("v2", f"serve-{port}", health={"tcp": port, "timeout": 3})
    rc, out = deploy(service)
    assert rc == 0, out
    assert f"health check `nc -z -w 3 127.0.0.1 {port}` passed" in out, out
    assert service.versions() == ["v2"]
    # v3 listens on nothing
    service.write_inventory("v3", "run", health={"tcp": port, "timeout": 3})
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 3 and f"health check `nc -z -w 3 127.0.0.1 {port}` failed" in out, out
    assert "rollback: restored" in out, out
    assert service.versions() == ["v2"]


def test_url_health_check_needs_a_2xx(service: Service) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service.write_inventory("v1", f"serve-{port}", health={"url": f"{url}/ok"})
    rc, out = deploy(service)
    assert rc == 0 and f"{url}/ok` passed" in out, out
    service.write_inventory("v2", f"serve-{port}", health={"url": f"{url}/broken"})
    with Sampler(service) as sampler:
        rc, out = deploy(service)
    sampler.check()
    assert rc == 3 and f"{url}/broken` failed (22)" in out, out  # curl -f: HTTP >= 400
    assert "rollback: restored" in out, out
    assert service.versions() == ["v1"]
    # v1 is back and serving: its own check passes again
    assert service.site.sh(service.site.main, f"curl -fsS {url}/ok").returncode == 0


def test_multi_host_deploy_shows_progress_and_parallel_works(
        make_service: Callable[..., Service], site: Site) -> None:
    if site.other is None:
        pytest.skip("needs a second host (SVCCTL_MAC_BACKUP)")
    service = make_service("mh", [site.main, site.other])
    rc, out = deploy(service)
    assert rc == 0, out
    assert f"[1/2] {site.main}" in out and f"[2/2] {site.other}" in out, out
    firsts = [service.launchd_pid(h) for h in (site.main, site.other)]
    rc, out = deploy(service, "--parallel", "2")
    assert rc == 0, out
    for h, first in zip((site.main, site.other), firsts, strict=True):
        pid = service.launchd_pid(h)
        assert pid is not None and pid != first and service.pids(h) == [pid]


def test_a_lost_lease_stops_the_deploy_without_a_rollback(service: Service) -> None:
    """A deploy whose lock was taken over (it outlived --lock-ttl, or a takeover race)
    must not go on beside the new holder, nor roll back over its work."""
    assert deploy(service)[0] == 0
    service.write_inventory("v2", stay_up=4)
    proc = service.spawn("deploy", service.name)
    wait_line(proc, " start ")
    # another deploy's record replaces ours while we verify
    service.site.sh(service.site.main, "printf '%s' "
                    f"'{{\"service\": \"{service.name}\", \"who\": \"other@ci\", \"pid\": 4242, "
                    f"\"started\": {time.time()}, \"expires\": {time.time() + 999}, "
                    f"\"token\": \"theirs\", \"ci_run\": null}}' > "
                    f"/tmp/svcctl-deploy/{service.name}.lock")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, out + err
    assert "lost the deploy lock" in out and "other@ci" in out, out
    assert "rollback" not in out, out
    assert '"token": "theirs"' in (service.lock_file() or "")  # their lock is left alone
    assert service.pids() == [service.launchd_pid()]  # the state it left: one instance
