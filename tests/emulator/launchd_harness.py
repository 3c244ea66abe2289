"""Run the launchd emulator for real in a bare PID namespace (dev harness).

No mount setup: the emulator gets `--root`, `--passwd`, `--group` and `--library`
pointing into a private temp tree, and the `launchctl` client finds it through
`SVCCTL_LAUNCHD_SOCKET`. Reusable helpers: `Emulator.launchctl`, `write_plist`,
`Emulator.spawn_stray`, `Emulator.host_pid` (waiting: `tests.wait.wait_until`).
"""

from __future__ import annotations

import contextlib
import json
import os
import plistlib
import pty
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svcctl_testbed.admin import admin_request
from tests.wait import wait_until

PACKAGE = Path(__file__).resolve().parents[2] / "testbed" / "svcctl_testbed" / "emulator"
PYTHON = "/usr/bin/python3"
OPS_UID = 501
OPS_GID = 20


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


def write_plist(
    path: Path,
    label: str,
    args: list[str] | None = None,
    owner: int = 0,
    mode: int = 0o644,
    **keys: Any,
) -> Path:
    """A launchd.plist with Label and ProgramArguments plus any other keys given."""
    data: dict[str, Any] = {"Label": label}
    if args is not None:
        data["ProgramArguments"] = args
    data.update(keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(data))
    os.chown(path, owner, -1)
    os.chmod(path, mode)
    return path


def _alive(host_pid: int) -> bool:
    try:
        state = Path(f"/proc/{host_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


class Emulator:
    """One simulated host's launchd, PID 1 of its own PID namespace."""

    def __init__(self, base: Path, config: dict[str, Any]) -> None:
        self.base = base
        self.root = base / "root"
        self.library = base / "Library"
        self.home = base / "Users" / "ops"
        self.work = base / "work"
        self.passwd = base / "etc" / "passwd"
        self.group = base / "etc" / "group"
        self.lib = base / "lib"
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1 = 0  # host pid of the emulator (PID 1 inside)
        self._layout()

    # ---- setup -------------------------------------------------------------
    def _layout(self) -> None:
        os.chmod(self.base, 0o755)
        for d in (self.root, self.library / "LaunchDaemons", self.library / "LaunchAgents",
                  self.home / "Library" / "LaunchAgents", self.base / "etc", self.lib):
            d.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(mode=0o777, exist_ok=True)
        os.chmod(self.work, 0o777)
        for d in (self.home, self.home / "Library", self.home / "Library" / "LaunchAgents"):
            os.chown(d, OPS_UID, OPS_GID)
        self.passwd.write_text(
            "root:x:0:0:root:/root:/bin/bash\n"
            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            f"ops:x:{OPS_UID}:{OPS_GID}:ops:{self.home}:/bin/sh\n"
        )
        self.group.write_text("root:x:0:\ndaemon:x:1:\nstaff:x:20:ops\nadmin:x:80:ops\n")
        shutil.copytree(PACKAGE, self.lib / "emulator", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (self.root / "emulator.json").write_text(json.dumps(self.config))

    @property
    def socket_path(self) -> Path:
        return self.root / "launchd.sock"

    @property
    def log_text(self) -> str:
        try:
            return (self.root / "launchd.log").read_text()
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        ready = self.root / "ready"
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
             PYTHON, "-E", "-s", "-m", "emulator", "--root", str(self.root),
             "--passwd", str(self.passwd), "--group", str(self.group),
             "--library", str(self.library)],
            cwd=self.lib,
            stdin=subprocess.DEVNULL,
        )
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"emulator exited {proc.returncode}:\n{self.log_text}")
            return ready.exists()

        wait_until(up, timeout=10)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1, children
        self.pid1 = int(children[0])

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM PID 1 (graceful shutdown), SIGKILL it if it must; returns unshare's rc."""
        proc = self.proc
        if proc is None:
            return None
        self.proc = None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGTERM)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid1, signal.SIGKILL)  # takes the whole namespace with it
                proc.kill()
                proc.wait(5)
                return None
        return proc.returncode

    def restart(self) -> None:
        self.stop()
        self.start()

    # ---- talking to it -----------------------------------------------------
    def launchctl(self, *argv: str, uid: int = 0, cwd: Path | None = None,
                  tty: bool = False) -> Result:
        """Run the real client as `uid` (0 or 501); `tty` gives it a pty on stdout."""
        return run_launchctl(list(argv), self.socket_path, self.lib / "emulator" / "client.py",
                             uid=uid, cwd=cwd or self.work, tty=tty)

    def admin(self, message: dict[str, Any]) -> dict[str, Any]:
        return admin_request(self.socket_path, message)

    # ---- processes in the namespace ----------------------------------------
    def ns_pids(self) -> dict[int, int]:
        """{pid inside the namespace: host pid} for every live process in it."""
        try:
            ns = os.readlink(f"/proc/{self.pid1}/ns/pid")
        except FileNotFoundError:
            return {}
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns" / "pid") != ns:
                    continue
                status = (entry / "status").read_text()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
            if _alive(int(entry.name)):
                out[int(nspid.split()[-1])] = int(entry.name)
        return out

    def host_pid(self, ns_pid: int) -> int:
        return self.ns_pids()[ns_pid]

    def ppid_of(self, host_pid: int) -> int:
        status = Path(f"/proc/{host_pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("PPid:")).split()[1])

    def wait_signal_handled(self, target: str, signum: int, how: str = "SigIgn",
                            uid: int = 0) -> int:
        """Wait until the job's process ignores (SigIgn) or catches (SigCgt) `signum`.

        A python job installs its handler some time after exec; a test that signals it
        earlier tests python's default instead. Returns the job's namespace pid.
        """
        def ready() -> int | None:
            pid = self.job_pid(target, uid=uid)
            if pid is None:
                return None
            status = Path(f"/proc/{self.host_pid(pid)}/status").read_text()
            mask = next(ln for ln in status.splitlines() if ln.startswith(how + ":"))
            return pid if int(mask.split()[1], 16) & (1 << (signum - 1)) else None

        return wait_until(ready)

    def spawn_stray(self, command: str) -> int:
        """Start `command` nohup'd from a shell inside the namespace that then exits,
        so it is reparented to PID 1 without launchd having started it (FACTS 5.1)."""
        out = subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-p", "--", "/bin/sh", "-c",
             f"nohup {command} >/dev/null 2>&1 & echo $!"],
            check=True, capture_output=True, text=True, timeout=10,
        ).stdout
        ns_pid = int(out.strip())
        # `$!` is the pid before nohup has exec'd the command: wait until it has
        want = ("\0".join(command.split()) + "\0").encode()
        wait_until(lambda: Path(f"/proc/{self.host_pid(ns_pid)}/cmdline").read_bytes() == want)
        return ns_pid

    # ---- job helpers ---------------------------------------------------------
    def job_pid(self, target: str, uid: int = 0) -> int | None:
        """The `pid =` of `print`, None when not running (top-level lines only)."""
        res = self.launchctl("print", target, uid=uid)
        assert res.rc == 0, res
        for line in res.out.splitlines():
            if line.startswith("\tpid = "):
                return int(line.split(" = ")[1])
        return None

    def prop(self, target: str, key: str, uid: int = 0) -> str | None:
        res = self.launchctl("print", target, uid=uid)
        if res.rc != 0:
            return None
        for line in res.out.splitlines():
            if line.startswith(f"\t{key} = "):
                return line.split(" = ", 1)[1]
        return None


def run_launchctl(argv: list[str], socket_path: Path, client: Path, *, uid: int = 0,
                  cwd: Path | None = None, tty: bool = False) -> Result:
    env = {"PATH": "/usr/bin:/bin", "SVCCTL_LAUNCHD_SOCKET": str(socket_path)}
    ids: dict[str, Any] = {}
    if uid != 0:
        ids = {"user": uid, "group": OPS_GID, "extra_groups": []}
    cmd = [PYTHON, "-E", "-s", str(client), *argv]
    if not tty:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=60, **ids)
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    master, slave = pty.openpty()
    try:
        popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=slave, stderr=subprocess.PIPE,
                                 **ids)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        _, err = popen.communicate(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    return Result(popen.returncode, out, err.decode())


@contextlib.contextmanager
def emulator_session(config: dict[str, Any] | None = None) -> Iterator[Emulator]:
    base = Path(tempfile.mkdtemp(prefix="svcctl-emu-", dir="/tmp"))
    emu = Emulator(base, config or {})
    try:
        emu.start()
        yield emu
    finally:
        emu.stop()
        shutil.rmtree(base, ignore_errors=True)


Factory = Callable[..., Emulator]
