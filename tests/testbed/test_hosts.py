"""The simulated hosts themselves: login, isolation, reparenting, reboot, teardown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from svcctl.host.quote import quote
from svcctl_testbed.control import Testbed
from tests.conftest import Hosts
from tests.testbed.jobs import detached

pytestmark = pytest.mark.testbed


def test_ops_is_uid_501_with_a_mac_home(hosts: Hosts) -> None:
    out = hosts.ssh("tesseract", "id -u; id -g; echo $HOME; launchctl manageruid").stdout.split()
    assert out == ["501", "20", "/Users/ops", "501"]
    assert hosts.ssh("tesseract", "id -u", user="root").stdout.strip() == "0"


def test_launchctl_print_user_domain_over_ssh(hosts: Hosts) -> None:
    proc = hosts.ssh("tesseract", "launchctl print user/501")
    assert proc.stdout.startswith("user/501 = {"), proc.stdout


def test_gui_domain_is_absent_without_a_console_session(hosts: Hosts) -> None:
    proc = hosts.ssh("tesseract", "launchctl print gui/501", check=False)
    assert proc.returncode == 112
    assert "Could not find domain for user gui: 501" in proc.stderr


def test_launchd_is_pid_1_and_sshd_is_its_job(hosts: Hosts) -> None:
    ps = hosts.ssh("tesseract", "ps -o pid=,comm= -p 1").stdout.split()
    assert ps[0] == "1"
    listing = hosts.ssh("tesseract", "launchctl list", user="root").stdout
    assert re.search(r"^\d+\t0\tcom\.openssh\.sshd$", listing, re.M), listing


def test_hosts_do_not_share_files(hosts: Hosts) -> None:
    token = f"isolation-{os.getpid()}-{time.time_ns()}"
    hosts.ssh("tesseract", f"echo {token} > /tmp/{token}; echo x > /Users/ops/{token}")
    other = hosts.ssh("backup", f"ls /tmp/{token} /Users/ops/{token}", check=False)
    assert other.returncode != 0
    assert not Path(f"/tmp/{token}").exists()
    root_ssh = hosts.ssh("tesseract", "ls -a /root/.ssh", user="root").stdout.split()
    assert "authorized_keys" in root_ssh
    real = Path("/root/.ssh/authorized_keys")
    assert not real.exists() or "svcctl-testbed" not in real.read_text()


def _ppids(hosts: Hosts, host: str, args: str) -> list[int]:
    out = hosts.ssh(host, "ps -axo ppid=,args=").stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines()
            if line.split(None, 1)[1:] == [args]]


def test_nohup_process_is_reparented_to_pid_1_after_logout(hosts: Hosts) -> None:
    args = f"sleep 300{time.time_ns() % 1000:03d}"
    hosts.ssh("tesseract", detached(args))
    try:
        deadline = time.monotonic() + 10
        while _ppids(hosts, "tesseract", args) != [1] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _ppids(hosts, "tesseract", args) == [1]
        # launchd did not start it, so it is no job of launchd's (FACTS 5.1)
        listing = hosts.ssh("tesseract", "launchctl list").stdout
        assert "sleep" not in listing
    finally:
        hosts.ssh("tesseract", f"pkill -xf {quote(args)}", check=False)


def test_second_up_is_a_no_op(hosts: Hosts) -> None:
    before = hosts.tb.hosts()["tesseract"]
    again = hosts.tb.up(["tesseract"])
    assert again == [(before, False)]


def test_up_down_reboot_and_nothing_left_behind(tmp_path: Path) -> None:
    tb = Testbed(tmp_path / "tb")
    try:
        (rec, started), = tb.up(["rebooty"])
        assert started
        ssh = lambda cmd, user="root": subprocess.run(  # noqa: E731
            tb.ssh_argv("rebooty", cmd, user=user), capture_output=True, text=True, timeout=60)
        plist = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            "<key>Label</key><string>com.example.daemon</string>"
            "<key>ProgramArguments</key><array><string>/bin/sleep</string>"
            "<string>1000</string></array>"
            "<key>RunAtLoad</key><true/></dict></plist>\n"
        )
        path = "/Library/LaunchDaemons/com.example.daemon.plist"
        proc = subprocess.run(
            tb.ssh_argv("rebooty", f"cat > {path} && launchctl bootstrap system {path}",
                        user="root"),
            input=plist, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert re.search(r"^\d+\t0\tcom\.example\.daemon$", ssh("launchctl list").stdout, re.M)
        # a stray left running by hand, in its own session: down must take it too,
        # and leave no zombie for the real machine's init to reap
        # a Mac has no setsid(1): python3 (3.9 there) makes the new session
        stray = ssh(detached("python3 -c 'import os; os.setsid(); "
                             "os.execvp(\"sleep\", [\"sleep\", \"4321\"])'",
                             expect="sleep 4321"), "ops")
        assert stray.returncode == 0, stray.stderr
        members_before = _namespace_pids(rec.pidns)
        assert rec.pid in members_before and len(members_before) >= 4
        stray_pids = [p for p in members_before if _cmdline(p) == b"sleep\x004321\x00"]
        assert len(stray_pids) == 1, "the stray is running, detached() saw it"

        assert tb.down() == ["rebooty"]
        assert _namespace_pids(rec.pidns) == set()
        assert not psutil.pid_exists(stray_pids[0])  # not even a zombie
        assert not psutil.pid_exists(rec.pid) or (
            psutil.Process(rec.pid).create_time() != rec.started)
        assert _listening(rec.address, rec.port) is False

        (rec2, started2), = tb.up(["rebooty"])  # a reboot: RunAtLoad daemons come back
        assert started2 and rec2.pid != rec.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if re.search(r"^\d+\t0\tcom\.example\.daemon$", ssh("launchctl list").stdout, re.M):
                break
            time.sleep(0.2)
        else:
            pytest.fail("RunAtLoad daemon did not come back after the reboot")
    finally:
        tb.down()
    assert tb.hosts() == {}


def test_up_without_root_is_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["setpriv", "--reuid=501", "--regid=20", "--clear-groups",
         sys.executable, "-m", "svcctl.cli.main", "testbed", "up", "--dir", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("svcctl: error: svcctl testbed up needs root")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # an ssh session that ended meanwhile
        return b""


def _namespace_pids(pidns: str) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/pid") == pidns:
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


def _listening(address: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, port)) == 0


def test_launchctl_client_carries_any_argument_byte_exact(hosts: Hosts) -> None:
    """Quotes, backslashes, newlines, non-ASCII and undecodable bytes survive the client."""
    label = 'we"ird\\lab\tel\n✓'
    proc = hosts.ssh("tesseract", ["launchctl", "list", label], check=False)
    assert proc.returncode == 113
    assert proc.stderr == f'Could not find service "{label}" in domain for port\n'
    raw = subprocess.run(
        hosts.tb.ssh_argv("tesseract", "launchctl list $(printf 'x\\377y')"),
        capture_output=True, timeout=60)
    assert raw.returncode == 113
    assert raw.stderr == b'Could not find service "x\xffy" in domain for port\n'
