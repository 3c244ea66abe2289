"""Issue 10 section 1: a copy is recognised by what it runs, not by how its command line reads.

Each scenario is one the old rule got wrong, end to end on a simulated host: a copy started
from a relative path was missed, a wrapper's copies were decoys, and a process that merely
mentioned the service's path, or ran another file of the same name, was a kill target.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.service_kit import SERVICE_PY, Service, Site
from tests.testbed.jobs import detached


def run(svc: Service, *args: str) -> tuple[int, str]:
    proc = svc.svcctl(*args)
    return proc.returncode, proc.stdout + proc.stderr


def _alive(svc: Service, pid: int) -> bool:
    return svc.site.sh(svc.site.main, f"kill -0 {pid}", check=False).returncode == 0


def _basename(svc: Service) -> str:
    return svc.script.rsplit("/", 1)[1]


def test_a_copy_started_from_a_relative_path_is_a_stray(service: Service) -> None:
    # `cd ~ && nohup python3 bot.py &`: ps shows `python3 bot.py`, the commonest stray
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    home = service.site.home
    stray = int(service.site.sh(service.site.main, f"cd {home}; " + detached(
        f"/usr/bin/python3 {_basename(service)} v1 run")).stdout)
    try:
        rc, out = run(service, "audit")
        assert rc == 1 and "duplicate" in out and f"pid {stray}" in out, out
        assert home in out  # the evidence: where it runs from
        rc, out = run(service, "deploy", service.name)
        assert rc == 1 and f"pid {stray}" in out, out  # refused while the stray runs
        rc, out = run(service, "adopt", service.name, "--yes")
        assert rc == 0, out
        assert not _alive(service, stray)
        assert service.launchd_pid() == managed and _alive(service, managed)
    finally:
        service.site.sh(service.site.main, f"kill {stray}", check=False)


def test_a_same_named_script_elsewhere_is_not_an_instance(service: Service) -> None:
    # a loose `match` (as in the example inventory), and a log shipper whose arguments name
    # the service's files: it runs another file of the same name, so it is never a target
    name = _basename(service)
    service.write_inventory(match=re.escape(name))
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    service.site.put(service.site.main, f"/tmp/ship/{name}", SERVICE_PY)
    shipper = int(service.site.sh(service.site.main, detached(
        f"/usr/bin/python3 /tmp/ship/{name} --follow {service.script}.log")).stdout)
    try:
        rc, out = run(service, "audit")
        assert rc == 0 and f"pid {shipper}" not in out, out
        rc, out = run(service, "adopt", service.name, "--yes")
        assert rc == 0 and f"pid {shipper}" not in out, out
        assert _alive(service, shipper)
        assert service.pids() == [managed]
    finally:
        service.site.sh(service.site.main, f"kill {shipper}", check=False)


def test_a_relative_program_operand_is_resolved_against_the_working_directory(
        service: Service) -> None:
    name = _basename(service)
    home = service.site.home
    service.write_inventory(program=["/usr/bin/python3", name, "v1", "run"],
                            working_directory=home)
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    service.site.put(service.site.main, f"/tmp/other/{name}", SERVICE_PY)
    other = int(service.site.sh(service.site.main, "cd /tmp/other; " + detached(
        f"/usr/bin/python3 {name} v1 run")).stdout)
    try:
        rc, out = run(service, "audit")
        assert rc == 0 and f"pid {other}" not in out, out  # another service's file
        stray = int(service.site.sh(service.site.main, f"cd {home}; " + detached(
            f"/usr/bin/python3 {name} v2 run")).stdout)
        rc, out = run(service, "audit")
        assert rc == 1 and f"pid {stray}" in out and f"pid {other}" not in out, out
        assert run(service, "adopt", service.name, "--yes")[0] == 0
        assert _alive(service, other) and not _alive(service, stray)
        assert service.launchd_pid() == managed and _alive(service, managed)
    finally:
        service.site.sh(service.site.main, f"kill {other}", check=False)


def test_a_wrappers_copies_are_found_through_runs(service: Service) -> None:
    # run.sh execs the interpreter: what runs is `python3 bot.py`, declared by `runs:`
    wrapper = service.script[:-3] + ".sh"
    service.site.put(service.site.main, wrapper,
                     f"#!/bin/sh\nexec /usr/bin/python3 {service.script} \"$@\"\n")
    service.site.sh(service.site.main, f"chmod 755 {wrapper}")
    service.write_inventory(program=[wrapper, "v1", "run"],
                            runs=["/usr/bin/python3", service.script])
    assert run(service, "deploy", service.name)[0] == 0
    managed = service.launchd_pid()
    stray = int(service.site.sh(service.site.main, detached(
        f"{wrapper} v1 run", expect=f"/usr/bin/python3 {service.script} v1 run")).stdout)
    rc, out = run(service, "audit")
    assert rc == 1 and "duplicate" in out and f"pid {stray}" in out, out
    assert run(service, "adopt", service.name, "--yes")[0] == 0
    assert service.pids() == [managed]


def test_a_cut_comm_row_of_another_user_is_a_hidden_candidate(testbed: Site,
                                                               tmp_path: Path) -> None:
    # a Mac's ps shows another user's process as `(comm)`, comm cut to 16 characters
    # (FACTS 5.2): `(shiva-trading-bo)` may be the service, so ops's view is partial
    from tests.deploy.conftest import _make

    service = _make(testbed, tmp_path, "comm", None)
    program = "/Users/ops/bin/shiva-trading-bot-v2"
    try:
        testbed.sh(testbed.main, f"mkdir -p /Users/ops/bin && cp /usr/libexec/gnu/sleep {program}"
                   f" && chmod 755 {program}", user="root")
        service.write_inventory(program=[program, "600"])
        root_copy = int(testbed.sh(testbed.main, detached(f"{program} 600"), user="root").stdout)
        assert testbed.sh(testbed.main, f"ps -o command= -p {root_copy}").stdout == (
            "(shiva-trading-bo)\n")
        rc, out = run(service, "audit")
        assert rc == 1 and "uninspectable" in out and f"pid {root_copy}" in out, out
        rc, out = run(service, "deploy", service.name)
        assert rc == 1 and f"pid {root_copy}" in out and "--user root" in out, out
        assert not service.loaded()
    finally:
        testbed.sh(testbed.main, f"pkill -x shiva-trading-bot-v2; rm -f {program}", user="root",
                   check=False)
        service.cleanup()


def test_a_copy_started_through_a_symlink_is_the_same_file(service: Service) -> None:
    # `current` -> a release directory: launchd runs current/bot.py, a person starts
    # releases/7/bot.py (or the reverse); the probe resolves both on the host
    home, name = service.site.home, service.name
    release, current = f"{home}/{name}-releases/7", f"{home}/{name}-current"
    service.site.put(service.site.main, f"{release}/bot.py", SERVICE_PY)
    service.site.sh(service.site.main, f"ln -s {release} {current}")
    service.write_inventory(program=["/usr/bin/python3", f"{current}/bot.py", "v1", "run"])
    strays: list[int] = []
    try:
        assert run(service, "deploy", service.name)[0] == 0
        managed = service.launchd_pid()
        strays.append(int(service.site.sh(service.site.main, detached(
            f"/usr/bin/python3 {release}/bot.py v1 run")).stdout))
        rc, out = run(service, "audit")
        assert rc == 1 and "duplicate" in out and f"pid {strays[0]}" in out, out
        assert run(service, "adopt", service.name, "--yes")[0] == 0
        assert not _alive(service, strays[0])
        assert service.launchd_pid() == managed and _alive(service, managed)
        # a file of the same name that is not the same file stays out of it
        service.site.put(service.site.main, f"{home}/{name}-other/bot.py", SERVICE_PY)
        strays.append(int(service.site.sh(service.site.main, detached(
            f"/usr/bin/python3 {home}/{name}-other/bot.py v1 run")).stdout))
        rc, out = run(service, "audit")
        assert rc == 0 and f"pid {strays[1]}" not in out, out
    finally:
        for pid in strays:
            service.site.sh(service.site.main, f"kill {pid}", check=False)
        service.site.sh(service.site.main, f"rm -rf {current} {home}/{name}-releases "
                        f"{home}/{name}-other", check=False)
