"""One or more tests per FACTS §7 rule (1-9), against a real emulator in a PID namespace."""

from __future__ import annotations

import os
import time
from pathlib import Path
from signal import SIGTERM, SIGUSR1
from typing import Any

import pytest
from jobs_fixtures import SLEEP, TERM_IGNORER, exits_with
from launchd_harness import OPS_UID, Emulator, Factory, Result, _alive, write_plist

from tests.wait import wait_until

pytestmark = pytest.mark.testbed

HINT = "Try re-running the command as root for richer errors.\n"
EIO_HINT = "Bootstrap failed: 5: Input/output error\n" + HINT
BACKGROUND = ["Aqua", "Background"]


def _daemon(emu: Emulator, label: str, args: list[str], **keys: Any) -> Path:
    return write_plist(emu.library / "LaunchDaemons" / f"{label}.plist", label, args, **keys)


def _agent(emu: Emulator, label: str, args: list[str], **keys: Any) -> Path:
    return write_plist(emu.work / "agents" / f"{label}.plist", label, args, owner=OPS_UID,
                       LimitLoadToSessionType=BACKGROUND, **keys)


# ---- rule 1: domains ---------------------------------------------------------------------
def test_rule1_gui_domain_exists_only_with_console_session(emu: Emulator) -> None:
    agent = write_plist(emu.home / "Library/LaunchAgents/com.ops.agent.plist", "com.ops.agent",
                        SLEEP, owner=OPS_UID, RunAtLoad=True)
    res = emu.launchctl("print", "gui/501", uid=OPS_UID)
    assert (res.rc, res.err) == (112, "Could not find domain for user gui: 501\n")
    res = emu.launchctl("kickstart", "gui/501/com.ops.agent", uid=OPS_UID)
    assert (res.rc, res.err) == (112, "Could not find domain for user gui: 501\n")
    res = emu.launchctl("bootstrap", "gui/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (
        125, "Bootstrap failed: 125: Domain does not support specified action\n")

    assert emu.admin({"admin": "console", "uid": OPS_UID, "on": True})["rc"] == 0  # GUI login
    pid = wait_until(lambda: emu.job_pid("gui/501/com.ops.agent", uid=OPS_UID))
    host = emu.host_pid(pid)
    assert emu.prop("gui/501/com.ops.agent", "domain") == "gui/501 [100007]"

    # gui and user domains hold discrete service sets (FACTS 1.1)
    bg = _agent(emu, "com.ops.agent", SLEEP)
    assert emu.launchctl("bootstrap", "user/501", str(bg), uid=OPS_UID).rc == 0
    assert emu.prop("user/501/com.ops.agent", "state", uid=OPS_UID) == "not running"
    assert emu.launchctl("list", uid=OPS_UID).out == "PID\tStatus\tLabel\n-\t0\tcom.ops.agent\n"

    # logout tears the gui domain down and its agents die with it (FACTS 1.4)
    assert emu.admin({"admin": "console", "uid": OPS_UID, "on": False})["rc"] == 0
    wait_until(lambda: not _alive(host))
    assert emu.launchctl("print", "gui/501", uid=OPS_UID).rc == 112
    assert emu.launchctl("print", "user/501/com.ops.agent", uid=OPS_UID).rc == 0


def test_rule1_system_needs_root_but_anyone_may_read(emu: Emulator) -> None:
    daemon = _daemon(emu, "com.test.d", SLEEP)
    res = emu.launchctl("bootstrap", "system", str(daemon), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)
    assert emu.launchctl("bootstrap", "system", str(daemon)).rc == 0
    assert emu.launchctl("print", "system/com.test.d", uid=OPS_UID).rc == 0
    res = emu.launchctl("kill", "TERM", "system/com.test.d", uid=OPS_UID)
    assert (res.rc, res.err) == (1, "Not privileged to signal service.\n")
    res = emu.launchctl("bootout", "system/com.test.d", uid=OPS_UID)
    assert res.rc == 1
    assert emu.launchctl("print", "system/com.test.d").rc == 0  # still loaded


# ---- rule 2: bootstrap checks ------------------------------------------------------------
def test_rule2_bad_ownership_and_mode(emu: Emulator) -> None:
    not_root = _daemon(emu, "com.test.owner", SLEEP, owner=OPS_UID)
    res = emu.launchctl("bootstrap", "system", str(not_root))
    assert res.rc == 122
    assert res.err == (f"{not_root}: Path had bad ownership/permissions\n"
                       "Bootstrap failed: 122: Path had bad ownership/permissions\n")
    writable = _daemon(emu, "com.test.mode", SLEEP, mode=0o664)
    assert emu.launchctl("bootstrap", "system", str(writable)).rc == 122
    agent = _agent(emu, "com.ops.w", SLEEP)
    os.chmod(agent, 0o666)
    res = emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)
    assert emu.launchctl("print", "user/501/com.ops.w", uid=OPS_UID).rc == 113


def test_rule2_disabled_override_beats_plist(emu: Emulator) -> None:
    daemon = _daemon(emu, "com.test.dis", SLEEP)
    assert emu.launchctl("disable", "system/com.test.dis").rc == 0
    res = emu.launchctl("bootstrap", "system", str(daemon))
    assert (res.rc, res.err) == (119, f"{daemon}: Service is disabled\n"
                                      "Bootstrap failed: 119: Service is disabled\n")
    agent = _agent(emu, "com.ops.dis", SLEEP, Disabled=True)
    res = emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)
    assert emu.launchctl("enable", "user/501/com.ops.dis", uid=OPS_UID).rc == 0
    assert emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID).rc == 0


def test_rule2_already_loaded_session_mismatch_and_success(emu: Emulator) -> None:
    agent = _agent(emu, "com.ops.twice", SLEEP, RunAtLoad=True)
    res = emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID)
    assert res == Result(0, "", "")
    assert emu.job_pid("user/501/com.ops.twice", uid=OPS_UID) is not None  # RunAtLoad applied
    res = emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)
    # no LimitLoadToSessionType means Aqua, which user/<uid> (Background) refuses (FACTS 1.4)
    aqua = write_plist(emu.work / "agents/com.ops.aqua.plist", "com.ops.aqua", SLEEP,
                       owner=OPS_UID)
    res = emu.launchctl("bootstrap", "user/501", str(aqua), uid=OPS_UID)
    assert (res.rc, res.err) == (
        134, "Bootstrap failed: 134: Service cannot load in requested session\n")
    idle = _agent(emu, "com.ops.idle", SLEEP)
    assert emu.launchctl("bootstrap", "user/501", str(idle), uid=OPS_UID).rc == 0
    assert emu.prop("user/501/com.ops.idle", "state", uid=OPS_UID) == "not running"
    assert emu.prop("user/501/com.ops.idle", "runs", uid=OPS_UID) == "0"


def test_rule2_configurable_variants(emulator_factory: Factory) -> None:
    emu = emulator_factory(already_loaded_code=37, session_mismatch_code=5)
    daemon = _daemon(emu, "com.test.v", SLEEP)
    assert emu.launchctl("bootstrap", "system", str(daemon)).rc == 0
    res = emu.launchctl("bootstrap", "system", str(daemon))
    assert (res.rc, res.err) == (37, f"{daemon}: service already bootstrapped\n"
                                      "Bootstrap failed: 37: Operation already in progress\n")
    aqua = write_plist(emu.work / "a/com.ops.aqua.plist", "com.ops.aqua", SLEEP, owner=OPS_UID)
    res = emu.launchctl("bootstrap", "user/501", str(aqua), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)


def test_rule2_relative_paths_and_directories(emu: Emulator) -> None:
    _agent(emu, "com.ops.one", SLEEP)
    _agent(emu, "com.ops.two", SLEEP)
    res = emu.launchctl("bootstrap", "user/501", "agents", uid=OPS_UID, cwd=emu.work)
    assert res.rc == 0, res
    listing = emu.launchctl("list", uid=OPS_UID).out.splitlines()
    assert listing == ["PID\tStatus\tLabel", "-\t0\tcom.ops.one", "-\t0\tcom.ops.two"]


# ---- rule 3: bootout ---------------------------------------------------------------------
def test_rule3_bootout_is_async_then_sigkill_after_exit_timeout(emu: Emulator) -> None:
    agent = _agent(emu, "com.ops.stubborn", TERM_IGNORER, RunAtLoad=True, ExitTimeOut=1)
    assert emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID).rc == 0
    pid = emu.wait_signal_handled("user/501/com.ops.stubborn", SIGTERM, uid=OPS_UID)
    host = emu.host_pid(pid)
    start = time.monotonic()
    res = emu.launchctl("bootout", "user/501/com.ops.stubborn", uid=OPS_UID)
    assert (res.rc, res.out, res.err) == (0, "", "")
    assert time.monotonic() - start < 0.8  # returns at once (FACTS 2.2)
    assert emu.prop("user/501/com.ops.stubborn", "state", uid=OPS_UID) == "SIGTERMed"
    assert emu.job_pid("user/501/com.ops.stubborn", uid=OPS_UID) == pid
    assert _alive(host)
    res = emu.launchctl("bootstrap", "user/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (5, EIO_HINT)  # still tearing down
    wait_until(lambda: emu.launchctl("print", "user/501/com.ops.stubborn", uid=OPS_UID).rc == 113,
               timeout=4)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3.0, elapsed
    assert not _alive(host)
    assert "Service did not exit 1 seconds after SIGTERM. Sending SIGKILL." in emu.log_text
    res = emu.launchctl("bootout", "user/501/com.ops.stubborn", uid=OPS_UID)
    assert (res.rc, res.err) == (3, "Boot-out failed: 3: No such process\n")
    res = emu.launchctl("bootout", "user/501", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (5, "Boot-out failed: 5: Input/output error\n" + HINT)


def test_rule3_bootout_wait_and_exit_timeout_zero(emu: Emulator) -> None:
    _daemon(emu, "com.test.slow", TERM_IGNORER, RunAtLoad=True, ExitTimeOut=1)
    _daemon(emu, "com.test.never", TERM_IGNORER, RunAtLoad=True, ExitTimeOut=0)
    path_dir = str(emu.library / "LaunchDaemons")
    assert emu.launchctl("bootstrap", "system", path_dir).rc == 0
    emu.wait_signal_handled("system/com.test.slow", SIGTERM)
    emu.wait_signal_handled("system/com.test.never", SIGTERM)
    start = time.monotonic()
    res = emu.launchctl("bootout", "--wait", "system/com.test.slow")
    assert res.rc == 0 and time.monotonic() - start >= 0.9  # deferred until removed
    assert emu.launchctl("print", "system/com.test.slow").rc == 113
    # ExitTimeOut 0 is infinity: no SIGKILL, the label stays SIGTERMed
    assert emu.launchctl("bootout", "system/com.test.never").rc == 0
    time.sleep(1.5)
    assert emu.prop("system/com.test.never", "state") == "SIGTERMed"
    assert emu.launchctl("kill", "KILL", "system/com.test.never").rc == 0
    wait_until(lambda: emu.launchctl("print", "system/com.test.never").rc == 113)


# ---- rule 4: kickstart -------------------------------------------------------------------
def test_rule4_kickstart(emulator_factory: Factory) -> None:
    emu = emulator_factory(throttle_interval=10)
    res = emu.launchctl("kickstart", "system/com.test.nope")
    assert (res.rc, res.err) == (
        113, 'Could not find service "com.test.nope" in domain for system\n')
    _daemon(emu, "com.test.ks", SLEEP)
    assert emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons")).rc == 0
    assert emu.job_pid("system/com.test.ks") is None
    res = emu.launchctl("kickstart", "-p", "system/com.test.ks")
    pid = emu.job_pid("system/com.test.ks")
    assert (res.rc, res.out) == (0, f"{pid}\n")
    res = emu.launchctl("kickstart", "-p", "system/com.test.ks", tty=True)  # running: no-op
    assert (res.rc, res.out) == (0, f"service spawned with pid: {pid}\n")
    assert emu.job_pid("system/com.test.ks") == pid
    old_host = emu.host_pid(pid)
    res = emu.launchctl("kickstart", "-kp", "system/com.test.ks")  # within the 10 s throttle
    new = int(res.out)
    assert res.rc == 0 and new != pid and emu.job_pid("system/com.test.ks") == new
    assert not _alive(old_host)
    assert '\t"LastExitStatus" = 9;\n' in emu.launchctl("list", "com.test.ks").out
    assert emu.prop("system/com.test.ks", "runs") == "2"


def test_rule4_kickstart_running_code_variant(emulator_factory: Factory) -> None:
    emu = emulator_factory(kickstart_running_code=37)
    _daemon(emu, "com.test.k37", SLEEP, RunAtLoad=True)
    assert emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons")).rc == 0
    pid = wait_until(lambda: emu.job_pid("system/com.test.k37"))
    res = emu.launchctl("kickstart", "-p", "system/com.test.k37")
    assert (res.rc, res.out, res.err) == (37, "", "")
    assert emu.job_pid("system/com.test.k37") == pid


# ---- rule 5: stop and kill ---------------------------------------------------------------
def test_rule5_stop_respawns_keepalive_but_not_on_demand_jobs(emu: Emulator) -> None:
    _daemon(emu, "com.test.ka", SLEEP, KeepAlive=True)
    _daemon(emu, "com.test.od", SLEEP, RunAtLoad=True)
    assert emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons")).rc == 0
    ka = wait_until(lambda: emu.job_pid("system/com.test.ka"))
    od = wait_until(lambda: emu.job_pid("system/com.test.od"))
    assert emu.launchctl("stop", "com.test.ka").rc == 0
    assert emu.launchctl("stop", "com.test.od").rc == 0
    new = wait_until(lambda: (p := emu.job_pid("system/com.test.ka")) != ka and p, timeout=4)
    assert new and emu.prop("system/com.test.ka", "runs") == "2"
    assert emu.prop("system/com.test.ka", "last terminating signal") == "Terminated: 15"
    wait_until(lambda: emu.prop("system/com.test.od", "state") == "not running")
    time.sleep(1.3)  # longer than the throttle: still not respawned
    assert emu.job_pid("system/com.test.od") is None and od
    res = emu.launchctl("kill", "TERM", "system/com.test.od")
    assert (res.rc, res.err) == (3, "No process to signal.\n")
    assert emu.launchctl("stop", "com.test.od").rc == 0  # not running: EALREADY -> 0


def test_rule5_kill_signal_spellings(emu: Emulator) -> None:
    from jobs_fixtures import records_signal

    marker = emu.work / "usr1.log"
    _daemon(emu, "com.test.sig", records_signal(str(marker), "SIGUSR1"), RunAtLoad=True)
    assert emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons")).rc == 0
    emu.wait_signal_handled("system/com.test.sig", SIGUSR1, how="SigCgt")
    for spelling in ("SIGUSR1", "usr1", "SigUsr1", "-USR1", str(int(__import__("signal").SIGUSR1))):
        assert emu.launchctl("kill", spelling, "system/com.test.sig").rc == 0
        time.sleep(0.15)
    wait_until(lambda: marker.exists() and marker.read_text().count("SIGUSR1") == 5)
    res = emu.launchctl("kill", "SIGBOGUS", "system/com.test.sig")
    assert res.rc == 64 and res.err.startswith("Unrecognized signal name: SIGBOGUS\n")


# ---- rule 6: list ------------------------------------------------------------------------
def test_rule6_list_decoded_and_raw_status(emu: Emulator) -> None:
    _daemon(emu, "com.test.exit75", exits_with(75), RunAtLoad=True)
    _daemon(emu, "com.test.run", SLEEP, RunAtLoad=True)
    assert emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons")).rc == 0
    pid = wait_until(lambda: emu.job_pid("system/com.test.run"))
    wait_until(lambda: emu.prop("system/com.test.exit75", "last exit code") == "75")
    assert emu.launchctl("list").out == (
        f"PID\tStatus\tLabel\n-\t75\tcom.test.exit75\n{pid}\t0\tcom.test.run\n"
    )
    out = emu.launchctl("list", "com.test.exit75").out
    assert '\t"LastExitStatus" = 19200;\n' in out and '"PID"' not in out
    assert out.startswith("{\n") and out.endswith("};\n")
    out = emu.launchctl("list", "com.test.run").out
    assert f'\t"PID" = {pid};\n' in out and '\t"Label" = "com.test.run";\n' in out
    assert emu.launchctl("kill", "TERM", "system/com.test.run").rc == 0
    wait_until(lambda: "\t-15\tcom.test.run" in emu.launchctl("list").out)
    assert '\t"LastExitStatus" = 15;\n' in emu.launchctl("list", "com.test.run").out
    res = emu.launchctl("list", "com.test.nope")
    assert (res.rc, res.err) == (113, 'Could not find service "com.test.nope" in domain for port\n')
    assert emu.launchctl("list", uid=OPS_UID).out == "PID\tStatus\tLabel\n"  # own domain only


# ---- rule 7: print -----------------------------------------------------------------------
def test_rule7_print_layout(emulator_factory: Factory) -> None:
    emu = emulator_factory(throttle_interval=10, exit_timeout=5)
    path = _daemon(emu, "com.test.p", ["/bin/sleep", "300"], RunAtLoad=True, KeepAlive=True,
                   WorkingDirectory="/tmp", EnvironmentVariables={"FOO": "bar"},
                   StandardOutPath=str(emu.work / "p.out"))
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 0
    pid = wait_until(lambda: emu.job_pid("system/com.test.p"))
    out = emu.launchctl("print", "system/com.test.p").out
    lines = out.splitlines()
    assert lines[0] == "system/com.test.p = {" and lines[-1] == "}"
    for expected in (
        "\tactive count = 1", f"\tpath = {path}", "\ttype = LaunchDaemon", "\tstate = running",
        "\tprogram = /bin/sleep", "\targuments = {", "\t\t/bin/sleep", "\t\t300",
        "\tworking directory = /tmp", f"\tstdout path = {emu.work / 'p.out'}",
        "\tenvironment = {", "\t\tFOO => bar", "\t\tXPC_SERVICE_NAME => com.test.p",
        "\tdomain = system", "\tminimum runtime = 10", "\texit timeout = 5", "\truns = 1",
        f"\tpid = {pid}", "\tlast exit code = (never exited)",
        "\tproperties = keepalive | runatload | inferred program",
    ):
        assert expected in lines, (expected, out)
    # the process really is what print says: a session leader with launchd's environment
    host = emu.host_pid(pid)
    stat = Path(f"/proc/{host}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[2]) == host and int(stat[3]) == host  # pgid == sid == pid (FACTS 5.1c)
    assert emu.ppid_of(host) == emu.pid1
    environ = Path(f"/proc/{host}/environ").read_bytes().split(b"\0")
    assert b"XPC_SERVICE_NAME=com.test.p" in environ and b"FOO=bar" in environ
    assert b"PATH=/usr/bin:/bin:/usr/sbin:/sbin" in environ
    assert os.readlink(f"/proc/{host}/cwd") == "/tmp"
    res = emu.launchctl("print", "system/com.test.nope")
    assert (res.rc, res.err) == (
        113, 'Could not find service "com.test.nope" in domain for system\n')
    res = emu.launchctl("print", "user/501/com.test.nope", uid=OPS_UID)
    assert (res.rc, res.err) == (
        113, 'Could not find service "com.test.nope" in domain for uid: 501\n')


# ---- rule 8: throttle --------------------------------------------------------------------
def test_rule8_throttle_counts_from_previous_spawn(emulator_factory: Factory) -> None:
    emu = emulator_factory(throttle_interval=10)
    path = _daemon(emu, "com.test.thr", SLEEP, KeepAlive=True, ThrottleInterval=2)
    spawned = time.monotonic()
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 0
    first = wait_until(lambda: emu.job_pid("system/com.test.thr"))
    assert emu.launchctl("kill", "-9", "system/com.test.thr").rc == 0
    killed = time.monotonic()
    wait_until(lambda: emu.prop("system/com.test.thr", "state") == "spawn scheduled", timeout=1)
    assert emu.job_pid("system/com.test.thr") is None
    assert emu.prop("system/com.test.thr", "last terminating signal") == "Killed: 9"
    second = wait_until(lambda: emu.job_pid("system/com.test.thr"), timeout=4, interval=0.02)
    back = time.monotonic()
    assert second != first
    # no sooner than 2 s after the previous *spawn*, and not much later
    assert back - spawned >= 1.9, back - spawned
    assert back - killed < 3.0, back - killed
    # a job that lived longer than the throttle comes back at once
    time.sleep(2.2)
    assert emu.launchctl("kill", "KILL", "system/com.test.thr").rc == 0
    killed = time.monotonic()
    wait_until(lambda: (p := emu.job_pid("system/com.test.thr")) and p != second, timeout=2,
               interval=0.02)
    assert time.monotonic() - killed < 0.8
    assert emu.prop("system/com.test.thr", "runs") == "3"


# ---- rule 9: strays ----------------------------------------------------------------------
def test_rule9_strays_are_never_touched(emu: Emulator) -> None:
    stray = emu.spawn_stray("/bin/sleep 300")
    stray_host = emu.host_pid(stray)
    wait_until(lambda: emu.ppid_of(stray_host) == emu.pid1)  # orphaned: PPID 1 inside
    path = _daemon(emu, "com.test.twin", ["/bin/sleep", "300"], KeepAlive=True)
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 0
    managed = wait_until(lambda: emu.job_pid("system/com.test.twin"))
    assert managed != stray
    for argv in (
        ("kickstart", "-k", "system/com.test.twin"),
        ("kill", "TERM", "system/com.test.twin"),
        ("stop", "com.test.twin"),
        ("kickstart", "system/com.test.twin"),
        ("bootout", "system/com.test.twin"),
    ):
        assert emu.launchctl(*argv).rc == 0, argv
    wait_until(lambda: emu.launchctl("print", "system/com.test.twin").rc == 113, timeout=4)
    assert _alive(stray_host) and emu.ppid_of(stray_host) == emu.pid1
    # when the stray dies, PID 1 reaps it like any orphan: no zombie is left
    os.kill(stray_host, 9)
    wait_until(lambda: not Path(f"/proc/{stray_host}").exists())


def test_rule1_console_uids_at_boot_load_both_agent_directories(emulator_factory: Factory) -> None:
    emu = emulator_factory(console_uids=[OPS_UID])
    emu.stop()  # write the agents first, then boot again
    write_plist(emu.library / "LaunchAgents/com.admin.agent.plist", "com.admin.agent", SLEEP,
                RunAtLoad=True)
    write_plist(emu.home / "Library/LaunchAgents/com.ops.mine.plist", "com.ops.mine", SLEEP,
                owner=OPS_UID, KeepAlive=True)
    write_plist(emu.home / "Library/LaunchAgents/com.ops.bg.plist", "com.ops.bg", SLEEP,
                owner=OPS_UID, LimitLoadToSessionType="Background", RunAtLoad=True)
    emu.start()
    admin = wait_until(lambda: emu.job_pid("gui/501/com.admin.agent", uid=OPS_UID))
    mine = wait_until(lambda: emu.job_pid("gui/501/com.ops.mine", uid=OPS_UID))
    assert admin != mine
    assert emu.prop("gui/501/com.ops.mine", "type", uid=OPS_UID) == "LaunchAgent"
    host = emu.host_pid(mine)
    assert Path(f"/proc/{host}/status").read_text().count("Uid:\t501\t") == 1
    # a Background-only agent is not an Aqua agent: not loaded into gui at login (FACTS 1.4)
    assert emu.launchctl("print", "gui/501/com.ops.bg", uid=OPS_UID).rc == 113
    assert emu.launchctl("print", "user/501/com.ops.bg", uid=OPS_UID).rc == 113  # not auto-loaded
