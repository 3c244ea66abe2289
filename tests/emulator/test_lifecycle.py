"""Process-level behaviour of the emulator: stdio, credentials, process groups, persistence,
KeepAlive conditions and graceful shutdown. Real processes and signals only."""

from __future__ import annotations

import os
import plistlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from jobs_fixtures import SLEEP, TERM_IGNORER, exits_with, traps_term
from launchd_harness import OPS_UID, Emulator, Factory, _alive, write_plist

from tests.wait import wait_until

pytestmark = pytest.mark.testbed


def _daemon(emu: Emulator, label: str, args: list[str], **keys: Any) -> Path:
    return write_plist(emu.library / "LaunchDaemons" / f"{label}.plist", label, args, **keys)


def _boot_all(emu: Emulator) -> None:
    res = emu.launchctl("bootstrap", "system", str(emu.library / "LaunchDaemons"))
    assert res.rc == 0, res


def test_overrides_persist_across_restart(emu: Emulator) -> None:
    path = _daemon(emu, "com.test.persist", SLEEP)
    assert emu.launchctl("disable", "system/com.test.persist").rc == 0
    assert emu.launchctl("enable", "user/501/com.ops.x", uid=OPS_UID).rc == 0
    emu.restart()
    res = emu.launchctl("print-disabled", "system")
    assert res.out == '\tdisabled services = {\n\t\t"com.test.persist" => disabled\n\t}\n'
    res = emu.launchctl("print-disabled", "user/501", uid=OPS_UID)
    assert res.out == '\tdisabled services = {\n\t\t"com.ops.x" => enabled\n\t}\n'
    stored = plistlib.loads((emu.root / "overrides" / "disabled.plist").read_bytes())
    assert stored == {"com.test.persist": True}
    # the boot load honoured the override too, and bootstrap still refuses
    assert emu.launchctl("print", "system/com.test.persist").rc == 113
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 119
    assert emu.launchctl("enable", "system/com.test.persist").rc == 0
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 0


def test_disable_never_stops_and_enable_never_starts(emu: Emulator) -> None:
    _daemon(emu, "com.test.run", SLEEP, RunAtLoad=True)
    _daemon(emu, "com.test.idle", SLEEP)
    _boot_all(emu)
    pid = wait_until(lambda: emu.job_pid("system/com.test.run"))
    assert emu.launchctl("disable", "system/com.test.run").rc == 0
    assert emu.launchctl("enable", "system/com.test.idle").rc == 0
    time.sleep(0.3)
    assert emu.job_pid("system/com.test.run") == pid
    assert emu.job_pid("system/com.test.idle") is None
    assert "disabled services" in emu.launchctl("print", "system").out


def test_stdout_and_stderr_are_appended_never_truncated(emu: Emulator) -> None:
    out, err = emu.work / "job.out", emu.work / "job.err"
    out.write_text("kept\n")
    os.chown(out, OPS_UID, -1)
    path = write_plist(emu.work / "a/com.ops.io.plist", "com.ops.io",
                       ["/bin/sh", "-c", 'echo "out $$"; echo "err $$" >&2'], owner=OPS_UID,
                       LimitLoadToSessionType="Background", StandardOutPath=str(out),
                       StandardErrorPath=str(err))
    assert emu.launchctl("bootstrap", "user/501", str(path), uid=OPS_UID).rc == 0
    first = int(emu.launchctl("kickstart", "-p", "user/501/com.ops.io", uid=OPS_UID).out)
    wait_until(lambda: emu.prop("user/501/com.ops.io", "last exit code", uid=OPS_UID) == "0")
    second = int(emu.launchctl("kickstart", "-p", "user/501/com.ops.io", uid=OPS_UID).out)
    wait_until(lambda: len(out.read_text().splitlines()) == 3)
    assert out.read_text() == f"kept\nout {first}\nout {second}\n"
    wait_until(lambda: err.exists() and len(err.read_text().splitlines()) == 2)
    assert err.read_text() == f"err {first}\nerr {second}\n"
    assert err.stat().st_uid == OPS_UID  # created by the job as its user


def test_user_domain_job_credentials_env_and_signal_state(emu: Emulator) -> None:
    path = write_plist(emu.work / "a/com.ops.who.plist", "com.ops.who", SLEEP, owner=OPS_UID,
                       LimitLoadToSessionType=["Background"], RunAtLoad=True,
                       WorkingDirectory=str(emu.work))
    assert emu.launchctl("bootstrap", "user/501", str(path), uid=OPS_UID).rc == 0
    pid = wait_until(lambda: emu.job_pid("user/501/com.ops.who", uid=OPS_UID))
    status = Path(f"/proc/{emu.host_pid(pid)}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Uid"].split() == ["501"] * 4
    assert fields["Gid"].split() == ["20"] * 4
    assert sorted(fields["Groups"].split()) == ["20", "80"]  # staff + admin from --group
    # PID 1 ignores HUP/INT/PIPE; the job must not inherit that, nor a blocked mask
    assert int(fields["SigIgn"], 16) == 0 and int(fields["SigBlk"], 16) == 0
    environ = Path(f"/proc/{emu.host_pid(pid)}/environ").read_bytes().split(b"\0")
    assert b"XPC_SERVICE_NAME=com.ops.who" in environ and b"USER=ops" in environ
    assert os.readlink(f"/proc/{emu.host_pid(pid)}/cwd") == str(emu.work)


def test_exec_failure_loads_and_fails_at_spawn(emu: Emulator) -> None:
    path = _daemon(emu, "com.test.missing", ["/nonexistent/bin/tool"], RunAtLoad=True)
    assert emu.launchctl("bootstrap", "system", str(path)).rc == 0  # FACTS 2.1: returns 0
    wait_until(lambda: emu.prop("system/com.test.missing", "last exit code") == "78")
    assert '\t"LastExitStatus" = 19968;\n' in emu.launchctl("list", "com.test.missing").out


@pytest.mark.parametrize("abandon", [False, True])
def test_abandon_process_group(emu: Emulator, abandon: bool) -> None:
    pidfile = emu.work / "child.pid"
    args = ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; sleep 0.3; exit 0"]
    _daemon(emu, "com.test.grp", args, RunAtLoad=True, AbandonProcessGroup=abandon)
    _boot_all(emu)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    child_host = emu.host_pid(int(pidfile.read_text()))
    wait_until(lambda: emu.prop("system/com.test.grp", "last exit code") == "0")
    if abandon:
        time.sleep(0.5)
        assert _alive(child_host)
        assert emu.ppid_of(child_host) == emu.pid1  # adopted by PID 1
        os.kill(child_host, 9)
    else:
        # killpg(pgid, SIGTERM) after the main pid exits (FACTS 4 step 1)
        wait_until(lambda: not _alive(child_host), timeout=2)


def test_keepalive_dict_successful_exit_and_pathstate(emu: Emulator) -> None:
    flag = emu.work / "flag"
    _daemon(emu, "com.test.fail", exits_with(3), KeepAlive={"SuccessfulExit": False})
    _daemon(emu, "com.test.ok", exits_with(0), KeepAlive={"SuccessfulExit": False})
    _daemon(emu, "com.test.path", SLEEP, KeepAlive={"PathState": {str(flag): True}})
    _boot_all(emu)
    # SuccessfulExit implies RunAtLoad; a non-zero exit is respawned, a clean one is not
    wait_until(lambda: int(emu.prop("system/com.test.fail", "runs") or 0) >= 2, timeout=4)
    wait_until(lambda: emu.prop("system/com.test.ok", "last exit code") == "0")
    time.sleep(1.3)
    assert emu.prop("system/com.test.ok", "runs") == "1"
    assert emu.prop("system/com.test.path", "runs") == "0"
    flag.touch()
    wait_until(lambda: emu.job_pid("system/com.test.path"), timeout=2)


def test_legacy_load_unload(emu: Emulator) -> None:
    agent = write_plist(emu.work / "a/com.ops.leg.plist", "com.ops.leg", SLEEP, owner=OPS_UID,
                        LimitLoadToSessionType="Background", RunAtLoad=True)
    assert emu.launchctl("load", "-w", str(agent), uid=OPS_UID).rc == 0
    wait_until(lambda: emu.job_pid("user/501/com.ops.leg", uid=OPS_UID))
    res = emu.launchctl("load", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (
        0, "Load failed: 5: Input/output error\n"
        "Try running `launchctl bootstrap` as root for richer errors.\n")
    assert emu.launchctl("unload", "-w", str(agent), uid=OPS_UID).rc == 0
    wait_until(lambda: emu.launchctl("print", "user/501/com.ops.leg", uid=OPS_UID).rc == 113)
    res = emu.launchctl("unload", str(agent), uid=OPS_UID)
    assert (res.rc, res.err) == (0, "Unload failed: 5: Input/output error\n"
                                    "Try running `launchctl bootout` as root for richer errors.\n")
    assert '"com.ops.leg" => disabled' in emu.launchctl("print-disabled", "user/501").out
    assert emu.launchctl("load", "-F", str(agent), uid=OPS_UID).rc == 0  # -F ignores Disabled
    assert emu.launchctl("print", "user/501/com.ops.leg", uid=OPS_UID).rc == 0
    assert emu.launchctl("load", uid=OPS_UID).rc == 64


def test_sigterm_shutdown_stops_every_job_and_leaves_no_process(emulator_factory: Factory) -> None:
    emu = emulator_factory()
    marker = emu.work / "term.log"
    _daemon(emu, "com.test.polite", traps_term(str(marker)), RunAtLoad=True)
    _daemon(emu, "com.test.rude", TERM_IGNORER, RunAtLoad=True, ExitTimeOut=1)
    _daemon(emu, "com.test.ka", SLEEP, KeepAlive=True)
    _boot_all(emu)
    emu.wait_signal_handled("system/com.test.polite", signal.SIGTERM, how="SigCgt")
    emu.wait_signal_handled("system/com.test.rude", signal.SIGTERM)
    wait_until(lambda: emu.job_pid("system/com.test.ka"))
    stray = emu.spawn_stray("/bin/sleep 300")
    hosts = list(emu.ns_pids().values())
    assert len(hosts) == 5  # PID 1, three jobs, one stray
    start = time.monotonic()
    assert emu.stop() == 0  # PID 1 exited 0
    assert time.monotonic() - start >= 0.9  # waited for the SIGKILL escalation
    assert marker.read_text() == "term\n"  # stopped gracefully, not by the kernel
    assert "Sending SIGKILL" in emu.log_text
    assert not any(_alive(h) for h in hosts), stray
