"""adopt stops all of a stray and nothing of launchd's (issue 10, section 3).

On simulated Macs: a stray's work in a `multiprocessing` spawn child (macOS's default
start method) and in its process group goes with it; a pid that became launchd's since
the probe is refused in the very call that signals.
"""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.ops.kill import Kill, signal_checked
from svcctl.procs import parse_ps, ps_argv
from tests.service_kit import Service, Site
from tests.testbed.jobs import detached
from tests.wait import wait_until

pytestmark = pytest.mark.testbed

# The service's work runs in a spawn child, as on macOS (spawn is its default start
# method): the child's command line is `python3 -c from multiprocessing.spawn import
# spawn_main; ...`, which names no script, so it is no instance of the service. Each
# top process writes its child's pid to /tmp/mp-child.<its pid>.
MP_PY = r'''
import multiprocessing, os, sys, time

def work():
    while True:
        time.sleep(0.5)

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    child = multiprocessing.Process(target=work)
    child.start()
    with open("/tmp/mp-child.%d.tmp" % os.getpid(), "w") as fh:
        fh.write(str(child.pid))
    os.rename("/tmp/mp-child.%d.tmp" % os.getpid(), "/tmp/mp-child.%d" % os.getpid())
    print("started", sys.argv[1], os.getpid(), flush=True)
    while True:
        time.sleep(0.5)
'''


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def alive(svc: Service, pid: int) -> bool:
    # as root: the processes may be another user's (FACTS 5.2 hides their arguments only)
    return svc.site.sh(svc.site.main, f"ps -p {pid} -o pid=", user="root",
                       check=False).returncode == 0


def child_of(svc: Service, pid: int) -> int:
    path = f"/tmp/mp-child.{pid}"
    wait_until(lambda: svc.site.sh(svc.site.main, f"test -s {path}", check=False).returncode == 0)
    return int(svc.site.sh(svc.site.main, f"cat {path}").stdout)


def ssh_host(site: Site, user: str | None = None) -> SSHHost:
    return SSHHost(site.main, SSHTarget(site.main, ssh_config=site.ssh_config,
                                        user=user or site.user))


def test_adopt_stops_the_strays_spawn_child_and_group_not_launchds(testbed: Site,
                                                                   tmp_path: object) -> None:
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "mp", None)  # type: ignore[arg-type]
    marker = 4000 + int(service.name[2:]) % 1000  # the helper's unique `sleep N`
    try:
        testbed.put(testbed.main, service.script, MP_PY)
        assert run(service, "deploy", service.name)[0] == 0
        managed = service.launchd_pid()
        assert managed is not None
        managed_child = child_of(service, managed)
        # by hand over SSH: the script, plus a helper left in its process group and
        # orphaned at once (its parent subshell exits), so only the group ties it to it
        py = f"/usr/bin/python3 {service.script} v1 run"
        stray = int(testbed.sh(testbed.main, detached(
            f"sh -c '(sleep {marker} &); exec {py}'", expect=py)).stdout)
        worker = child_of(service, stray)
        table = testbed.sh(testbed.main, "ps -axo pid=,command=").stdout
        helper = next(int(x.split()[0]) for x in table.splitlines()
                      if x.split()[1:] == ["sleep", str(marker)])
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "2")
        assert rc == 0, out
        assert not alive(service, stray), out
        assert not alive(service, worker), f"the spawn child {worker} kept running: {out}"
        assert not alive(service, helper), f"the group's {helper} kept running: {out}"
        # launchd's instance and its own child are untouched
        assert service.launchd_pid() == managed and alive(service, managed_child), out
        assert service.pids() == [managed]
    finally:
        service.cleanup()
        testbed.sh(testbed.main, "rm -f /tmp/mp-child.*; ps -axo pid=,command= | awk "
                   f"'$2 == \"sleep\" && $3 == \"{marker}\" {{ print $1 }}' | xargs kill",
                   user="root", check=False)


def test_a_pid_that_is_launchds_now_is_never_signalled(service: Service, site: Site) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    # after a KeepAlive respawn the new pid is launchd's, yet a probe that read launchctl
    # before the respawn and ps after it calls it a stray (issue 10, section 3): here the
    # stray's Kill is made from a fresh ps row of launchd's own pid
    managed = service.launchd_pid()
    assert managed is not None
    with ssh_host(site) as host:
        procs = {p.pid: p for p in parse_ps(host.run(ps_argv()).stdout)}
        kill = Kill(procs[managed], (service.target,))  # identified as a stray would be
        assert signal_checked(host, kill, "0") == "launchd"
        assert signal_checked(host, kill, "TERM") == "launchd"
        assert signal_checked(host, kill, "KILL") == "launchd"
    assert service.launchd_pid() == managed and service.pids() == [managed]


def test_launchds_pid_for_the_label_in_another_domain_is_never_signalled(
        testbed: Site, tmp_path: Path) -> None:
    # the same label loaded in `system` beside the host's `user/501`: its pid is launchd's
    # too (adopt boots such a job out; a kill would only make launchd respawn it)
    from svcctl.model import Domain, DomainKind
    from svcctl.ops.audit import probe_domains
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "dom", None)
    daemon = f"/Library/LaunchDaemons/{service.label}.plist"
    plist = plistlib.dumps({"Label": service.label, "KeepAlive": True,
                            "ProgramArguments": ["/usr/bin/python3", service.script, "v1", "run"]})
    try:
        testbed.sh(testbed.main, f"cat > {daemon} && launchctl bootstrap system {daemon}",
                   user="root", stdin=plist.decode())
        system_pid = wait_until(lambda: _print_pid(testbed, f"system/{service.label}"))
        everywhere = tuple(d.service_target(service.label)
                           for d in probe_domains(Domain(DomainKind.USER, testbed.uid)))
        assert f"system/{service.label}" in everywhere
        with ssh_host(testbed, user="root") as host:
            procs = {p.pid: p for p in parse_ps(host.run(ps_argv()).stdout)}
            row = procs[system_pid]
            assert signal_checked(host, Kill(row, everywhere), "0") == "launchd"
            # the host's own domain alone does not know it: that was the old check
            assert signal_checked(host, Kill(row, (service.target,)), "0") == "alive"
    finally:
        testbed.sh(testbed.main, f"launchctl bootout system/{service.label}; rm -f {daemon}",
                   user="root", check=False)
        service.cleanup()


def _print_pid(site: Site, target: str) -> int | None:
    out = site.sh(site.main, f"launchctl print {target}", user="root", check=False).stdout
    for line in out.splitlines():
        if line.startswith("\tpid = "):
            return int(line.split("=")[1])
    return None


# A stray that, told to stop, forks a helper into its own process group and exits: the
# helper is born after adopt's family read, so only a second read can find it.
FORKS_ON_TERM = r"""
import os, signal, subprocess, sys, time
def bye(*_):
    subprocess.Popen(["sleep", sys.argv[1]])
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
open("/tmp/ignoring-term.%d" % os.getpid(), "w").close()
while True:
    time.sleep(0.5)
"""


def test_a_child_forked_while_stopping_goes_with_the_stray(service: Service) -> None:
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    marker = str(7000 + int(service.name[-3:]))
    forker = service.script[:-3] + "-forker.py"
    service.site.put(service.site.main, forker, FORKS_ON_TERM)
    service.write_inventory(runs=["/usr/bin/python3", forker])
    try:
        stray = int(service.site.sh(service.site.main, detached(
            f"/usr/bin/python3 {forker} {marker}")).stdout)
        wait_until(lambda: service.site.sh(service.site.main, f"test -e /tmp/ignoring-term.{stray}",
                                           check=False).returncode == 0)
        rc, out = run(service, "adopt", service.name, "--yes", "--grace", "1")
        assert rc == 0 and "joined a stray's group" in out, out
        left = service.site.sh(service.site.main, f"pgrep -x -f 'sleep {marker}'", check=False)
        assert left.returncode == 1, f"the helper {left.stdout.strip()} outlived adopt: {out}"
        assert service.launchd_pid() == managed
    finally:
        service.site.sh(service.site.main, f"pkill -f 'sleep {marker}'", check=False)
