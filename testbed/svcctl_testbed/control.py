"""Start, stop and inspect simulated macOS hosts.

Each host is `unshare --pid --fork --mount ... setup.sh HOSTDIR`: the setup
script bind-mounts the host's private directories and execs the launchd
emulator, which becomes PID 1 of the new PID namespace (DESIGN.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from svcctl_testbed import provision as prov
from svcctl_testbed.admin import admin_request
from svcctl_testbed.errors import TestbedError, TestbedUsageError
from svcctl_testbed.layout import (
    OPS_UID,
    OPS_USER,
    SSH_PORT,
    HostDir,
    Layout,
    check_name,
)
from svcctl_testbed.userland import emulator_python, find_mac_python

BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0  # jobs get ExitTimeOut (5 s by default) to exit, then SIGKILL


@dataclass(frozen=True)
class HostRecord:
    name: str
    address: str
    port: int
    pid: int  # PID 1 of the host, as the real machine numbers it
    started: float  # its create_time, so a reused pid is never signalled
    pidns: str  # e.g. "pid:[4026532210]"
    console: bool
    ticks: int = 0  # start time in clock ticks since boot: unlike `started`, never drifts


@dataclass(frozen=True)
class HostStatus:
    record: HostRecord
    running: bool
    ssh: bool


class Testbed:
    """The hosts under one DIR. Every method is safe to call again (idempotent)."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: Path) -> None:
        self.layout = Layout(directory.resolve())
        _MADE.add(self)

    # -- state -----------------------------------------------------------------
    def _load(self) -> dict[str, HostRecord]:
        try:
            raw = json.loads(self.layout.state.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise TestbedError(f"cannot read {self.layout.state}: {exc}") from exc
        return {name: HostRecord(**rec) for name, rec in raw.get("hosts", {}).items()}

    def _save(self, hosts: dict[str, HostRecord]) -> None:
        data = {"hosts": {n: asdict(r) for n, r in sorted(hosts.items())}}
        tmp = self.layout.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.layout.state)
        self._write_client_files(hosts)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with open(self.layout.lock, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def hosts(self) -> dict[str, HostRecord]:
        return self._load()

    def record(self, name: str) -> HostRecord:
        rec = self._load().get(name)
        if rec is None:
            raise TestbedError(f"no testbed host named {name!r} under {self.layout.root}")
        return rec

    def hostdir(self, name: str) -> HostDir:
        return self.layout.host(name)

    # -- up ----------------------------------------------------------------------
    def up(self, names: Sequence[str], *, console: bool = False,
           quirks: dict[str, Any] | None = None) -> list[tuple[HostRecord, bool]]:
        """Start the named hosts; return (record, started_now) for each."""
        for name in names:
            check_name(name)
        _check_prerequisites()
        if find_mac_python() is None:
            sys.stderr.write("testbed: no Python 3.9 found (set SVCCTL_MAC_PYTHON): the hosts' "
                             "/usr/bin/python3 is this machine's, not a Mac's 3.9\n")
        with self._locked():
            self._ensure_client_key()
            hosts = self._load()
            result = []
            for name in names:
                rec = hosts.get(name)
                if rec is not None and _alive(rec):
                    result.append((rec, False))
                    continue
                rec = self._boot(name, hosts, console, quirks or {})
                hosts[name] = rec
                self._save(hosts)
                result.append((rec, True))
            self._save(hosts)
            return result

    def _ensure_client_key(self) -> None:
        key = self.layout.identity
        if not key.exists():
            self.layout.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.layout.root, 0o700)
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "svcctl-testbed",
                 "-f", str(key)],
                check=True, capture_output=True,
            )

    def _boot(self, name: str, hosts: dict[str, HostRecord], console: bool,
              quirks: dict[str, Any]) -> HostRecord:
        hostdir = self.layout.host(name)
        previous = hosts.get(name)
        address = previous.address if previous else _free_address(hosts)
        if not _can_bind(address):
            address = _free_address(hosts)
        config: dict[str, Any] = {"console_uids": [OPS_UID] if console else []}
        config.update(quirks)
        pub = self.layout.identity.with_suffix(".pub").read_text().split()[1]
        prov.provision(hostdir, name, address, pub, config)
        for mount_point in ("/Users", "/Library"):
            # Empty mount points on the real machine; only namespaces mount on them.
            Path(mount_point).mkdir(exist_ok=True)
        with open(hostdir.console_log, "ab") as log:
            proc = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                 "--mount-proc", "--kill-child",
                 "/bin/sh", str(hostdir.lib / "emulator" / "setup.sh"), str(hostdir.root)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, close_fds=True,
                env={**os.environ, "SVCCTL_TESTBED_PYTHON": emulator_python()},
            )
        try:
            pid1 = _wait_for_child(proc.pid)
            _wait_ready(hostdir, address, proc)
        except TestbedError:
            _kill_tree(proc.pid)
            raise
        p = psutil.Process(pid1)
        return HostRecord(
            name=name, address=address, port=SSH_PORT, pid=pid1, started=p.create_time(),
            pidns=os.readlink(f"/proc/{pid1}/ns/pid"), console=console,
            ticks=_start_ticks(pid1) or 0,
        )

    # -- down --------------------------------------------------------------------
    def down(self, names: Sequence[str] | None = None) -> list[str]:
        """Stop hosts (all by default); return the names stopped. Leaves nothing running."""
        with self._locked():
            hosts = self._load()
            targets = list(hosts) if not names else [check_name(n) for n in names]
            stopped, problems = [], []
            for name in targets:
                rec = hosts.get(name)
                if rec is None:
                    continue
                # a host found dead has no namespace left to check, and its inode number
                # may already name another namespace: only check the ones we stop now,
                # holding the namespace open meanwhile so that its number stays its own
                held = _hold_namespace(rec)
                try:
                    leftovers = _namespace_members(rec.pidns) if _stop(rec) else set()
                finally:
                    if held is not None:
                        os.close(held)
                if leftovers:  # keep going: the other hosts still get stopped
                    problems.append(f"host {name}: processes survived shutdown: "
                                    f"{sorted(leftovers)}")
                    continue
                del hosts[name]
                stopped.append(name)
            self._save(hosts)
            if problems:
                raise TestbedError("; ".join(problems))
            return stopped

    def status(self) -> list[HostStatus]:
        out = []
        for rec in self._load().values():
            running = _alive(rec)
            out.append(HostStatus(rec, running, running and _ssh_banner(rec.address, rec.port)))
        return out

    def postmortem(self, lines: int = 12) -> list[str]:
        """For a failed test: each host that is not up (PID 1 gone, or sshd silent), with
        the tail of its launchd log, console and sshd log. Nothing when all are up."""
        out: list[str] = []
        for st in self.status():
            if st.running and st.ssh:
                continue
            name = st.record.name
            hostdir = self.layout.host(name)
            why = "sshd does not answer" if st.running else "PID 1 is gone: the host is down"
            out.append(f"host {name} ({self.layout.root}): {why}")
            for path in (hostdir.log, hostdir.console_log, hostdir.sys / "sshd.log"):
                tail = _last_lines(path, lines)
                if tail:
                    out.append(f"  {path.name}:")
                    out += [f"    {line}" for line in tail]
        return out

    # -- runtime controls ----------------------------------------------------------
    def admin(self, name: str, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send an admin request to a host's emulator (root only, DESIGN.md)."""
        return admin_request(self.layout.host(name).socket, request, timeout, f"host {name}")

    def set_console(self, name: str, on: bool) -> None:
        """Log uid 501 in at the console (gui/501 appears) or out (it is torn down)."""
        if not _alive(self.record(name)):
            raise TestbedError(f"host {name} is not running (svcctl testbed up {name})")
        reply = self.admin(name, {"admin": "console", "uid": OPS_UID, "on": on})
        if reply.get("rc", 1) != 0:
            raise TestbedError(f"host {name}: console switch failed: {reply.get('err', reply)}")
        with self._locked():
            hosts = self._load()
            if name in hosts:
                rec = hosts[name]
                hosts[name] = HostRecord(**{**asdict(rec), "console": on})
                self._save(hosts)

    def nsenter_argv(self, name: str) -> list[str]:
        """argv prefix that runs a command inside the host as root (for test set-up)."""
        rec = self.record(name)
        return ["nsenter", "-t", str(rec.pid), "-p", "-m", "--"]

    def ssh_argv(self, name: str, command: str, user: str = OPS_USER) -> list[str]:
        return ["ssh", "-F", str(self.layout.ssh_config), "-o", "BatchMode=yes",
                f"{user}@{name}", command]

    # -- client files ------------------------------------------------------------------
    def _write_client_files(self, hosts: dict[str, HostRecord]) -> None:
        lay = self.layout
        config, known = [], []
        for rec in sorted(hosts.values(), key=lambda r: r.name):
            config += [
                f"Host {rec.name}",
                f"  HostName {rec.address}",
                f"  Port {rec.port}",
                f"  User {OPS_USER}",
                f"  IdentityFile {lay.identity}",
                "  IdentitiesOnly yes",
                f"  UserKnownHostsFile {lay.known_hosts}",
                "  StrictHostKeyChecking yes",
                "  LogLevel ERROR",
                "",
            ]
            pub = lay.host(rec.name).host_key.with_suffix(".pub").read_text().split()
            known.append(f"[{rec.address}]:{rec.port} {pub[0]} {pub[1]}")
        lay.ssh_config.write_text("\n".join(config))
        lay.known_hosts.write_text("".join(line + "\n" for line in known))


# -- helpers (process and network plumbing) ------------------------------------------


def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise TestbedUsageError(
            "svcctl testbed up needs root: it creates PID and mount namespaces "
            "(run it with sudo)"
        )
    for tool, package in (("unshare", "util-linux"), ("nsenter", "util-linux"),
                          ("ssh-keygen", "openssh-client"), (prov.SSHD, "openssh-server")):
        if shutil.which(tool) is None:
            raise TestbedError(f"{tool} not found: apt-get install {package}")
    emulator_python()  # raises if there is none the hosts can run
    if shutil.which("zsh") is None:
        raise TestbedError("zsh not found (a Mac user's login shell): apt-get install zsh")


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: when it started, in ticks since boot (exact, stable)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(rec: HostRecord) -> bool:
    """Is the host's PID 1 still that process (a reused pid is never signalled)?

    psutil's create_time is boot time plus ticks, and boot time moves when the clock is
    adjusted: hosts up for hours drifted out of a tight tolerance and were never stopped.
    """
    try:
        p = psutil.Process(rec.pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        if rec.ticks:
            return _start_ticks(rec.pid) == rec.ticks
        return abs(p.create_time() - rec.started) < 1.0
    except psutil.Error:
        return False


def _can_bind(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, SSH_PORT))
        except OSError:
            return False
    return True


def _free_address(hosts: dict[str, HostRecord]) -> str:
    taken = {r.address for r in hosts.values()}
    rng = random.SystemRandom()
    for _ in range(200):
        address = f"127.77.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        if address not in taken and _can_bind(address):
            return address
    raise TestbedError("no free loopback address in 127.77.0.0/16")


def _wait_for_child(unshare_pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            children = psutil.Process(unshare_pid).children()
        except psutil.NoSuchProcess:
            break
        if children:
            return children[0].pid
        time.sleep(0.02)
    raise TestbedError("unshare did not start the host's PID 1")


def _ssh_banner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2) as s:
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _wait_ready(hostdir: HostDir, address: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if hostdir.ready.exists() and _ssh_banner(address, SSH_PORT):
            return
        time.sleep(0.05)
    tail = _tail(hostdir.console_log) + _tail(hostdir.log) + _tail(hostdir.sys / "sshd.log")
    raise TestbedError(f"host {hostdir.root.name} did not come up: {tail or 'no output'}")


def made_testbeds() -> list[Testbed]:
    """Every Testbed this process made and still holds (for reports on failed tests)."""
    return list(_MADE)


_MADE: weakref.WeakSet[Testbed] = weakref.WeakSet()


def _last_lines(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").rstrip("\n").splitlines()[-lines:]
    except OSError:
        return []


def _tail(path: Path, lines: int = 5) -> str:
    text = _last_lines(path, lines)
    return " | ".join(text) + " " if text else ""


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
        proc.kill()
        proc.wait(5)


def _stop(rec: HostRecord) -> bool:
    """SIGTERM the host's PID 1, then SIGKILL; False if it was not running."""
    if not _alive(rec):
        return False
    proc = psutil.Process(rec.pid)
    parent = proc.parent()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except psutil.TimeoutExpired:
        proc.kill()  # PID 1 exiting makes the kernel kill the whole namespace
        with contextlib.suppress(psutil.Error):
            proc.wait(5)
    if parent is not None:
        with contextlib.suppress(psutil.Error):
            parent.wait(5)  # unshare exits with its child; reap it if it is ours
    return True


def _hold_namespace(rec: HostRecord) -> int | None:
    """An fd on the host's pid namespace: while open, no new namespace gets its inode
    number (another testbed booting meanwhile would otherwise look like a survivor)."""
    if not _alive(rec):
        return None
    try:
        return os.open(f"/proc/{rec.pid}/ns/pid", os.O_RDONLY)
    except OSError:
        return None


def _zombie(pid: str) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def _namespace_members(pidns: str) -> set[int]:
    """Live processes still in the namespace (zombies only await their reaper)."""
    deadline = time.monotonic() + 10
    members: set[int] = set()
    while time.monotonic() < deadline:
        members = set()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry.name}/ns/pid") == pidns and not _zombie(entry.name):
                    members.add(int(entry.name))
        if not members:
            return members
        time.sleep(0.1)
    return members
