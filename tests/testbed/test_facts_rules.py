"""FACTS §7, rule by rule, through `launchctl` over real SSH on a simulated host.

Each test drives the emulator the way a person or svcctl would (ssh + launchctl)
and watches the real processes it starts and stops.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.conftest import Hosts
from tests.testbed.jobs import (
    AGENTS,
    SERVICE_PY,
    agent_plist,
    alive,
    detached,
    install_agent,
    job_pid,
    launchctl,
    print_field,
    unique_label,
    wait_ignores,
)
from tests.wait import wait_until

pytestmark = pytest.mark.testbed
H = "tesseract"
HINT = "Try re-running the command as root for richer errors."
EIO = f"Bootstrap failed: 5: Input/output error\n{HINT}\n"


@pytest.fixture
def label(hosts: Hosts) -> Iterator[str]:
    name = unique_label()
    yield name
    for domain in ("user/501", "gui/501"):
        launchctl(hosts, H, "bootout", f"{domain}/{name}")
    launchctl(hosts, H, "bootout", f"system/{name}", user="root")


# -- rule 1: per-domain job tables; gui only with a console session; system needs root --


def test_rule1_same_label_in_gui_and_user_domains(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, KeepAlive=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    # A console login loads ~/Library/LaunchAgents into gui/501 (FACTS 1.2): the same
    # label now runs twice, once per domain, a real source of duplicates.
    hosts.tb.set_console(H, True)
    try:
        proc = launchctl(hosts, H, "bootstrap", "gui/501", path)
        assert (proc.returncode, proc.stderr) == (5, EIO)  # already loaded there
        pid_user = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
        pid_gui = wait_until(lambda: job_pid(hosts, H, f"gui/501/{label}"))
        assert pid_user != pid_gui and alive(hosts, H, pid_user) and alive(hosts, H, pid_gui)
        # gui and user keep discrete sets of services (FACTS 1.1)
        domain = launchctl(hosts, H, "print", "user/501").stdout
        assert label in domain
    finally:
        hosts.tb.set_console(H, False)
    # logout tears the gui domain down, and its agents die with it (FACTS 1.4)
    wait_until(lambda: not alive(hosts, H, pid_gui))
    assert launchctl(hosts, H, "print", f"gui/501/{label}").returncode == 112
    assert alive(hosts, H, pid_user)


def test_rule1_gui_domain_missing_over_ssh(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label))
    proc = launchctl(hosts, H, "bootstrap", "gui/501", path)
    assert proc.returncode == 125
    assert proc.stderr == "Bootstrap failed: 125: Domain does not support specified action\n"
    proc = launchctl(hosts, H, "print", "gui/501")
    assert proc.returncode == 112
    assert "Could not find domain for user gui: 501" in proc.stderr


def test_rule1_system_domain_needs_root(hosts: Hosts, label: str) -> None:
    path = f"/Library/LaunchDaemons/{label}.plist"
    hosts.put(H, path, agent_plist(label).decode(), user="root")
    proc = launchctl(hosts, H, "bootstrap", "system", path)
    assert proc.returncode != 0 and proc.stderr
    assert launchctl(hosts, H, "print", f"system/{label}").returncode == 113  # anyone may read
    assert launchctl(hosts, H, "bootstrap", "system", path, user="root").returncode == 0
    assert launchctl(hosts, H, "print", f"system/{label}").returncode == 0


# -- rule 2: bootstrap's checks ------------------------------------------------------


def test_rule2_bad_mode_is_refused(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label))
    hosts.ssh(H, ["chmod", "664", path])
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)
    assert (proc.returncode, proc.stderr) == (5, EIO)
    hosts.ssh(H, ["chmod", "644", path])
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0


def test_rule2_daemon_not_owned_by_root_gets_122_as_root(hosts: Hosts, label: str) -> None:
    path = f"/Library/LaunchDaemons/{label}.plist"
    hosts.put(H, path, agent_plist(label).decode(), user="root")
    hosts.ssh(H, ["chown", "501", path], user="root")
    proc = launchctl(hosts, H, "bootstrap", "system", path, user="root")
    assert proc.returncode == 122
    assert "Path had bad ownership/permissions" in proc.stderr


def test_rule2_disabled_label_fails_until_enabled(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label))
    assert launchctl(hosts, H, "disable", f"user/501/{label}").returncode == 0
    disabled = launchctl(hosts, H, "print-disabled", "user/501").stdout
    assert f'\t\t"{label}" => disabled\n' in disabled
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)
    assert (proc.returncode, proc.stderr) == (5, EIO)
    assert launchctl(hosts, H, "enable", f"user/501/{label}").returncode == 0
    assert f'"{label}" => enabled' in launchctl(hosts, H, "print-disabled", "user/501").stdout
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0


def test_rule2_already_loaded(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)
    assert (proc.returncode, proc.stderr) == (5, EIO)


def test_rule2_aqua_only_agent_cannot_load_in_user_domain(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, LimitLoadToSessionType="Aqua"))
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)
    assert proc.returncode == 134
    assert "Service cannot load in requested session" in proc.stderr
    plain = agent_plist(label)
    plain = plain.replace(b"<key>LimitLoadToSessionType</key>", b"<key>X-Unused</key>")
    install_agent(hosts, H, label, plain)  # no key at all: defaults to Aqua (FACTS 1.4)
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 134


def test_rule2_runatload_starts_and_plain_job_waits(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    out = launchctl(hosts, H, "print", f"user/501/{label}").stdout
    assert print_field(out, "state") == "not running" and print_field(out, "pid") is None
    other = unique_label()
    path2 = install_agent(hosts, H, other, agent_plist(other, RunAtLoad=True))
    try:
        assert launchctl(hosts, H, "bootstrap", "user/501", path2).returncode == 0
        pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{other}"))
        assert alive(hosts, H, pid)
    finally:
        launchctl(hosts, H, "bootout", f"user/501/{other}")


def test_rule2_malformed_plist(hosts: Hosts, label: str) -> None:
    path = f"{AGENTS}/{label}.plist"
    hosts.put(H, path, "<plist><dict><key>Label</key>")
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)
    assert (proc.returncode, proc.stderr) == (5, EIO)
    assert "Traceback" not in proc.stderr


# -- rule 3: bootout is asynchronous ---------------------------------------------------


def test_rule3_bootout_sigterm_then_sigkill_after_exit_timeout(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label,
                         agent_plist(label, "ignore-term", RunAtLoad=True, ExitTimeOut=2))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    wait_ignores(hosts, H, pid)
    t0 = time.monotonic()
    assert launchctl(hosts, H, "bootout", f"user/501/{label}").returncode == 0
    out = launchctl(hosts, H, "print", f"user/501/{label}").stdout
    assert print_field(out, "state") == "SIGTERMed"
    assert alive(hosts, H, pid)
    proc = launchctl(hosts, H, "bootstrap", "user/501", path)  # still draining (FACTS 2.2)
    assert (proc.returncode, proc.stderr) == (5, EIO)
    wait_until(lambda: not alive(hosts, H, pid), timeout=10)
    assert time.monotonic() - t0 >= 1.5  # SIGKILL only after ExitTimeOut
    wait_until(lambda: launchctl(hosts, H, "print", f"user/501/{label}").returncode == 113)
    proc = launchctl(hosts, H, "bootout", f"user/501/{label}")
    assert (proc.returncode, proc.stderr) == (3, "Boot-out failed: 3: No such process\n")


# -- rule 4: kickstart -------------------------------------------------------------------


def test_rule4_kickstart(hosts: Hosts, label: str) -> None:
    proc = launchctl(hosts, H, "kickstart", f"user/501/{label}")
    assert proc.returncode == 113
    assert proc.stderr == f'Could not find service "{label}" in domain for uid: 501\n'
    path = install_agent(hosts, H, label, agent_plist(label, KeepAlive=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    proc = launchctl(hosts, H, "kickstart", "-p", f"user/501/{label}")  # running: a no-op
    assert (proc.returncode, proc.stdout) == (0, f"{pid}\n")
    assert job_pid(hosts, H, f"user/501/{label}") == pid
    proc = launchctl(hosts, H, "kickstart", "-k", "-p", f"user/501/{label}")
    assert proc.returncode == 0
    new = int(proc.stdout)
    assert new != pid and not alive(hosts, H, pid) and alive(hosts, H, new)
    listing = launchctl(hosts, H, "list", label).stdout
    assert '\t"LastExitStatus" = 9;\n' in listing and f'\t"PID" = {new};\n' in listing


# -- rule 5: stop and kill -------------------------------------------------------------


def test_rule5_stop_on_keepalive_job_respawns(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, KeepAlive=True, ThrottleInterval=1))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    assert launchctl(hosts, H, "stop", label).returncode == 0
    new = wait_until(lambda: (p := job_pid(hosts, H, f"user/501/{label}")) and p != pid and p)
    assert alive(hosts, H, new) and not alive(hosts, H, pid)


def test_rule5_kill(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, RunAtLoad=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    assert launchctl(hosts, H, "kill", "TERM", f"user/501/{label}").returncode == 0
    wait_until(lambda: not alive(hosts, H, pid))
    wait_until(lambda: job_pid(hosts, H, f"user/501/{label}") is None)
    proc = launchctl(hosts, H, "kill", "SIGTERM", f"user/501/{label}")
    assert (proc.returncode, proc.stderr) == (3, "No process to signal.\n")


# -- rule 6: list --------------------------------------------------------------------------


def test_rule6_list_table_and_label_dictionary(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, "exit-75", RunAtLoad=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    wait_until(lambda: f"-\t75\t{label}\n" in launchctl(hosts, H, "list").stdout)
    table = launchctl(hosts, H, "list").stdout
    assert table.startswith("PID\tStatus\tLabel\n")
    entry = launchctl(hosts, H, "list", label)
    assert entry.returncode == 0
    assert entry.stdout.startswith("{\n") and entry.stdout.endswith("};\n")
    assert '\t"LastExitStatus" = 19200;\n' in entry.stdout  # raw wait status (FACTS 3.2)
    assert f'\t"Label" = "{label}";\n' in entry.stdout
    assert '"PID"' not in entry.stdout
    missing = launchctl(hosts, H, "list", label + ".nope")
    assert missing.returncode == 113
    assert missing.stderr == f'Could not find service "{label}.nope" in domain for port\n'


# -- rule 7: print -------------------------------------------------------------------------


def test_rule7_print_layout_and_counters(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, RunAtLoad=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    out = launchctl(hosts, H, "print", f"user/501/{label}").stdout
    assert out.startswith(f"user/501/{label} = {{\n") and out.endswith("}\n")
    assert print_field(out, "state") == "running"
    assert print_field(out, "path") == path
    assert print_field(out, "type") == "LaunchAgent"
    assert print_field(out, "exit timeout") == "5"
    assert print_field(out, "minimum runtime") == "10"
    assert print_field(out, "runs") == "1"
    assert print_field(out, "last exit code") == "(never exited)"
    assert print_field(out, "domain") == "user/501"
    assert f"\t\tXPC_SERVICE_NAME => {label}\n" in out
    assert launchctl(hosts, H, "kickstart", "-k", f"user/501/{label}").returncode == 0
    wait_until(lambda: (p := job_pid(hosts, H, f"user/501/{label}")) and p != pid)
    out = launchctl(hosts, H, "print", f"user/501/{label}").stdout
    assert print_field(out, "runs") == "2"
    missing = launchctl(hosts, H, "print", f"user/501/{label}.nope")
    assert missing.returncode == 113


def test_rule7_job_is_a_session_leader_with_xpc_service_name(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, RunAtLoad=True))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    # a Mac's `sess` is a kernel pointer (0 today): STAT's `s` marks a session leader
    row = hosts.ssh(H, ["ps", "-o", "pid=,ppid=,pgid=,uid=,stat=", "-p", str(pid)]).stdout.split()
    assert row[:4] == [str(pid), "1", str(pid), "501"] and "s" in row[4], row
    # ps -E appends the environment to the command (own processes only, FACTS 5.1 (b))
    env = hosts.ssh(H, ["ps", "-E", "-o", "command=", "-p", str(pid)]).stdout.split()
    assert f"XPC_SERVICE_NAME={label}" in env, env


# -- rule 8: throttle ------------------------------------------------------------------------


def _started(hosts: Hosts, pid: int) -> datetime:
    """The process's start, as the host's BSD ps tells it (`lstart`, whole seconds)."""
    out = hosts.ssh(H, ["env", "LC_ALL=C", "ps", "-o", "lstart=", "-p", str(pid)]).stdout
    return datetime.strptime(" ".join(out.split()), "%a %b %d %H:%M:%S %Y")


def test_rule8_keepalive_respawn_is_throttled_after_kill_9(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, KeepAlive=True, ThrottleInterval=3))
    assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
    pid = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
    spawned = _started(hosts, pid)  # the host's clock: when we first saw it may be later
    hosts.ssh(H, ["kill", "-9", str(pid)])
    wait_until(lambda: print_field(launchctl(hosts, H, "print", f"user/501/{label}").stdout,
                                   "state") == "spawn scheduled", timeout=5, interval=0.05)
    new = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"), timeout=10, interval=0.05)
    assert new != pid
    # no sooner than ThrottleInterval after the spawn: whole seconds, so a gap of >= 3 s
    # reads as >= 3 however the two starts fall within their seconds
    assert (_started(hosts, new) - spawned).total_seconds() >= 3
    out = launchctl(hosts, H, "print", f"user/501/{label}").stdout
    assert print_field(out, "last terminating signal") == "Killed: 9"
    assert re.search(rf"^{new}\t-9\t{re.escape(label)}$", launchctl(hosts, H, "list").stdout, re.M)


# -- rule 9: processes launchd did not start are never touched ---------------------------------


def test_rule9_strays_are_untouched_by_every_verb(hosts: Hosts, label: str) -> None:
    path = install_agent(hosts, H, label, agent_plist(label, KeepAlive=True, ThrottleInterval=1))
    hosts.put(H, "/Users/ops/service.py", SERVICE_PY)
    hosts.ssh(H, detached("/usr/bin/python3 /Users/ops/service.py"))
    pattern = "^/usr/bin/python3 /Users/ops/service.py$"
    strays = hosts.ssh(H, ["pgrep", "-f", pattern]).stdout.split()
    assert len(strays) == 1
    stray = int(strays[0])
    try:
        ppid = ["ps", "-o", "ppid=", "-p", str(stray)]
        wait_until(lambda: hosts.ssh(H, ppid).stdout.strip() == "1")
        assert launchctl(hosts, H, "bootstrap", "user/501", path).returncode == 0
        job = wait_until(lambda: job_pid(hosts, H, f"user/501/{label}"))
        target = f"user/501/{label}"
        for verb in (["kickstart", "-k", target], ["kill", "KILL", target],
                     ["stop", label], ["bootout", target]):
            assert launchctl(hosts, H, *verb).returncode == 0, verb
            assert alive(hosts, H, stray), verb
        wait_until(lambda: launchctl(hosts, H, "print", f"user/501/{label}").returncode == 113)
        assert not alive(hosts, H, job)
        assert alive(hosts, H, stray)
        assert not re.search(rf"^{stray}\t", launchctl(hosts, H, "list").stdout, re.M)
    finally:
        hosts.ssh(H, ["kill", "-9", str(stray)], check=False)
