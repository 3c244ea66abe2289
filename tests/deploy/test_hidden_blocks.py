"""Candidates whose arguments ps hides block deploy and start (issue 10, section 3).

A stray started by root, seen as ops, shows only as `(comm)` (FACTS 5.2): any such
candidate may be a copy, so deploy's pre-flight and `svcctl start` refuse beside it
whether launchd's job is loaded, down, not loaded or crash-looping: exit 1, nothing
changed, the pids, users and the `--user root` remedy named.
"""

from __future__ import annotations

import plistlib

import pytest

from tests.service_kit import Service, Site
from tests.wait import wait_until

pytestmark = pytest.mark.testbed


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def crash_loop(service: Service) -> None:
    """launchd's job loaded, KeepAlive, exiting 1 at once: `spawn scheduled` (FACTS 3.3)."""
    site = service.site
    plist = plistlib.dumps({
        "Label": service.label, "KeepAlive": True, "ThrottleInterval": 30,
        "ProgramArguments": ["/usr/bin/python3", service.script, "v1", "crash"],
        # user/<uid> over SSH is a Background session (FACTS 1.4)
        "LimitLoadToSessionType": ["Aqua", "Background", "LoginWindow", "StandardIO",
                                   "System"]}).decode()
    site.put(site.main, service.plist, plist)
    site.sh(site.main, f"launchctl bootstrap user/{site.uid} {service.qplist}")
    wait_until(lambda: "state = spawn scheduled" in site.sh(
        site.main, f"launchctl print {service.target}").stdout)


def test_hidden_candidates_block_deploy_when_the_job_crash_loops(testbed: Site,
                                                                  tmp_path: object) -> None:
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "hid", None)  # type: ignore[arg-type]
    try:
        crash_loop(service)
        stray = service.start_stray(user="root")  # ops sees it as `(Python)`-like: hidden
        before = testbed.sh(testbed.main, f"cat {service.qplist}").stdout
        rc, out = run(service, "deploy", service.name)
        assert rc == 1, out
        assert f"pid {stray} (user root" in out and "--user root" in out, out
        assert "nothing changed" in out, out
        assert testbed.sh(testbed.main, f"cat {service.qplist}").stdout == before
        assert testbed.sh(testbed.main, f"test -e {service.qplist}.previous",
                          check=False).returncode == 1
        assert service.pids() == [stray]
    finally:
        service.cleanup()


def test_hidden_candidates_block_start_when_the_job_is_not_loaded(testbed: Site,
                                                                   tmp_path: object) -> None:
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "hid", None)  # type: ignore[arg-type]
    try:
        assert run(service, "deploy", service.name)[0] == 0
        assert run(service, "stop", service.name)[0] == 0
        stray = service.start_stray(user="root")
        rc, out = run(service, "start", service.name)
        assert rc == 1, out
        assert f"pid {stray} (user root" in out and "--user root" in out, out
        assert not service.loaded() and service.pids() == [stray]
        rc, out = run(service, "deploy", service.name)
        assert rc == 1 and f"pid {stray} (user root" in out and "--user root" in out, out
        assert not service.loaded() and service.pids() == [stray]
    finally:
        service.cleanup()
