"""adopt stops all of a stray and nothing of launchd's (issue 10, section 3).

On simulated Macs: a pid that became launchd's since the probe is refused in the very
call that signals.
"""

from __future__ import annotations

import pytest

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.ops.adopt import Kill, signal_checked
from svcctl.procs import parse_ps, ps_argv
from tests.deploy.site import Service, Site

pytestmark = pytest.mark.testbed


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def ssh_host(site: Site) -> SSHHost:
    return SSHHost(site.main, SSHTarget(site.main, ssh_config=site.ssh_config, user=site.user))


def test_a_pid_that_is_launchds_now_is_never_signalled(service: Service, site: Site) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    # after a KeepAlive respawn the new pid is launchd's, yet a probe that read launchctl
    # before the respawn and ps after it calls it a stray (issue 10, section 3): here the
    # stray's Kill is made from a fresh ps row of launchd's own pid
    managed = service.launchd_pid()
    assert managed is not None
    with ssh_host(site) as host:
        procs = {p.pid: p for p in parse_ps(host.run(ps_argv()).stdout)}
        kill = Kill(procs[managed], service.target)  # identified as a stray would be
        assert signal_checked(host, kill, "0") == "launchd"
        assert signal_checked(host, kill, "TERM") == "launchd"
        assert signal_checked(host, kill, "KILL") == "launchd"
    assert service.launchd_pid() == managed and service.pids() == [managed]
