#!/usr/bin/env python3
"""In-process singleton guard: at most one instance of a service per host.

    from svcctl.guard import singleton

    with singleton("shiva"):            # raises AlreadyRunning if another instance holds it
        run_bot()

    @singleton("shiva", exit_on_conflict=True)   # one line on stderr, exit 75
    def main() -> None: ...

For programs you cannot change: ``python3 -m svcctl.guard shiva -- PROGRAM ARGS...``
(or ``svcctl guard shiva -- ...``) takes the lock and execs the program, which keeps
holding it, under the same pid, for its whole life.

This module is stdlib only and self-contained: it is copied onto hosts and run by the
system ``/usr/bin/python3``, as ``-m svcctl.guard`` or as a standalone file. On a Mac that
is the Command Line Tools' Python 3.9 (FACTS §5.4), so nothing here may need a newer one:
no ``int | float`` at run time, no ``sys.orig_argv``, no ``match``. CI holds it to 3.9
with vermin (``.ci/mac-python-files``); tests/guard/test_mac_python.py runs it under 3.9.
Annotations say ``Optional[X]``: vermin's ``X | Y`` check cannot tell them from run-time
unions, even under ``from __future__ import annotations``.

Where the lock lives, and why
-----------------------------
Default: ``/tmp/svcctl-guard/<name>.lock``; override with ``lock_dir=`` / ``--lock-dir``,
the ``SVCCTL_GUARD_DIR`` environment variable, or a full ``path=``.

* Every user of a service must lock the *same* file. tendo and pid lock under ``$TMPDIR``,
  which on macOS is per user (``/var/folders/.../T``), so a root LaunchDaemon and a manual
  run by uid 501 never see each other (FIELD.md I). ``/tmp`` (``/private/tmp``) is one
  directory for all users on macOS and Linux alike, world-writable and sticky (1777).
* ``/tmp`` is emptied at boot, which is right for a lock: no holder survives a reboot.
  ``/var/run`` is root-only on macOS, so a user agent could not create its lock there;
  ``/Users/Shared`` does not exist on Linux, and the simulated hosts give each host its own
  ``/tmp`` but not its own ``/var/tmp``.
* The directory is created 1777 and is refused if it is writable by others without the
  sticky bit, or owned by anyone but root or us (root takes over a 1777 one). The
  lock file is created 0666 (``fchmod``, so the umask cannot narrow it): root and uid 501
  can both open it for writing, whoever created it. It is opened with ``O_NOFOLLOW`` and
  must be a regular file with one link, so nobody can point root's write at another file.
* Linux ``fs.protected_regular`` makes ``O_CREAT`` on another user's file in a sticky
  directory fail with EACCES, even for root; so we open without ``O_CREAT`` first and
  create (``O_EXCL``) only when the file is missing.
* The lock file is never unlinked: unlink-on-release lets a newcomer lock a fresh inode
  while a late starter still locks the old one. After ``flock`` we check that the path
  still names the inode we locked, and retry if not. The holder's record (pid, start
  time, command, host, since) is written into it and emptied on release.
* Age-based ``/tmp`` cleaners (macOS ``tmp_cleaner``: 3 days without access *and*
  modification; systemd-tmpfiles: 10 days) would delete a long-held lock file, after which
  a newcomer would lock a new inode beside the old holder. The holder therefore sets the
  file's mtime ten years ahead, so it never looks old. Only the file's owner (or root) may
  do that; `Guard.intact()` tells a holder whether its path still names its lock.

launchd trade-off: a refused start exits 75 (EX_TEMPFAIL). Under ``KeepAlive`` launchd
respawns it every ``ThrottleInterval`` for as long as the other instance lives, and the
job looks like a crash loop; that is also what brings the service back when the holder
dies. See ``runbooks/guard.md``.

Fork and exec: ``flock`` belongs to the open file description, which ``fork`` shares. An
at-fork hook closes the descriptor in every child (closing a duplicate never releases the
lock; ``LOCK_UN`` would), and `Guard.release` is a no-op outside the process that took the
lock. The descriptor is close-on-exec except in the wrapper, which hands it to the program
and names it in ``SVCCTL_GUARD_FD``.
"""

# ruff: noqa: UP045  (Optional[X] on purpose: see "3.9" above)
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from svcctl.errors import ExitCode, SvcctlError
else:
    try:
        from svcctl.errors import ExitCode, SvcctlError
    except ImportError:  # a standalone copy on a host: the same contract, inline
        from enum import IntEnum

        class ExitCode(IntEnum):
            OK = 0
            BAD_INPUT = 2
            FAILED = 3
            TEMPFAIL = 75

        class SvcctlError(Exception):
            exit_code = ExitCode.FAILED

            def __init__(self, message, *, hint=None):
                super().__init__(message)
                self.message = message
                self.hint = hint

            def one_line(self):
                return f"{self.message} ({self.hint})" if self.hint else self.message


DEFAULT_DIR = "/tmp/svcctl-guard"
ENV_DIR = "SVCCTL_GUARD_DIR"
ENV_FD = "SVCCTL_GUARD_FD"
RECORD_VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
_FUTURE = 10 * 365 * 86400  # mtime lead that keeps age-based /tmp cleaners away
_START_TOLERANCE = 1.0  # s, for records without a comparable token
_CREATE_ATTEMPTS = 8  # rounds of open-then-flock while the path keeps being replaced
_RECORD_WAIT = 0.5  # s a contender waits for a new holder to write its record
_SETTLE = 0.5  # s we give another starter to finish creating the directory or file
_DIR_HINT = "it must be owned by root or you, and sticky if others may write to it"
# Bit flags. CI's vermin check (FACTS §5.4) takes `a.X | a.Y` for a PEP 604 union type,
# which 3.9 lacks; `novm` makes it skip these lines, the only int ORs in this file.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # novm
_RW_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # novm
_CREATE_FLAGS = _RW_FLAGS | os.O_CREAT | os.O_EXCL  # novm
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # novm
_SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH  # novm
_TRY_LOCK = fcntl.LOCK_EX | fcntl.LOCK_NB  # novm


class GuardError(SvcctlError):
    """The lock could not be set up (bad name, unsafe directory, unusable file): exit 3."""


class BadGuardName(GuardError):
    """The service name would not make a safe file name: exit 2."""

    exit_code = ExitCode.BAD_INPUT


# control characters, and the format ones (bidi overrides) that reorder what follows
_UNPRINTABLE = frozenset(("Cc", "Cf", "Zl", "Zp"))


def printable(text: object) -> str:
    """Text another user may have written (a lock or guard record, a ps command), fit for a
    terminal: every control or format character is shown escaped (`\\x1b`, `\\u202e`),
    so no record can move the cursor, redraw a row or retitle the window (issue 10 §2).
    svcctl's one function for that (svcctl.output uses it); here because this file also
    runs alone on the Mac. JSON output stays exact and does not use it."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in _UNPRINTABLE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, from its record, judged against the live process table."""

    pid: int
    started: Optional[float]  # epoch seconds the holder process started
    command: tuple[str, ...]
    host: str
    since: str  # ISO-8601 UTC, when the lock was taken
    alive: bool  # a process with that pid exists now
    same_process: Optional[bool]  # its start time matches the record (None: cannot tell)

    def describe(self) -> str:
        if not self.alive:
            state = "pid gone; a process that inherited its descriptor still holds the lock"
        elif self.same_process is False:
            state = "pid reused by another process; the lock is held by an heir of the holder"
        elif self.same_process is None:
            state = "alive, start time unknown"
        else:
            state = "alive"
        return printable(
            f"pid {self.pid} on {self.host}, since {self.since}, "
            f"command {shlex.join(self.command) or '?'} ({state})"
        )


class AlreadyRunning(SvcctlError):
    """Another instance holds the service's lock: exit 75 (EX_TEMPFAIL)."""

    exit_code = ExitCode.TEMPFAIL

    def __init__(self, name: str, path: str, holder: Optional[Holder]) -> None:
        who = holder.describe() if holder else "holder has not written its record"
        super().__init__(f"{name} is already running: {who}", hint=f"lock {path}")
        self.name = name
        self.path = path
        self.holder = holder


# --- where -------------------------------------------------------------------------


def lock_path(name: str, lock_dir: Optional[str] = None) -> str:
    """The lock file of service `name`: the same for every user of the host."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise BadGuardName(f"bad service name {name!r}", hint="letters, digits and ._@+-")
    directory = lock_dir or os.environ.get(ENV_DIR) or DEFAULT_DIR
    return os.path.join(directory, f"{name}.lock")


def _open_dir(directory: str) -> int:
    """Open (creating if need be) the lock directory, once it is safe to use."""
    created = False
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o1777)  # the umask (and macOS) narrow it until the fchmod
        created = True
    deadline = time.monotonic() + _SETTLE
    while True:
        dfd = os.open(directory, _DIR_FLAGS)
        try:
            problem = _settle_dir(dfd, created=created)
        except BaseException:
            os.close(dfd)
            raise
        if problem is None:
            return dfd
        os.close(dfd)
        if time.monotonic() > deadline:  # not a creator's half-made directory after all
            raise GuardError(f"unsafe lock directory {directory}: {problem}", hint=_DIR_HINT)
        time.sleep(0.01)


def _settle_dir(dfd: int, *, created: bool) -> Optional[str]:
    st = os.fstat(dfd)
    mode, euid = stat.S_IMODE(st.st_mode), os.geteuid()
    if created and mode != 0o1777:
        with contextlib.suppress(PermissionError):  # root may have taken it over already
            os.fchmod(dfd, 0o1777)  # every user creates lock files here
    elif euid == 0 and st.st_uid != 0 and mode == 0o1777:
        # a user created the shared directory first: root takes it over rather than
        # refusing to start until the next reboot
        os.fchown(dfd, 0, -1)
    st = os.fstat(dfd)
    return check_dir(st.st_mode, st.st_uid, euid)


def check_dir(mode: int, uid: int, euid: int) -> Optional[str]:
    """Why a lock directory with this mode and owner is unsafe, or None."""
    if uid not in (0, euid):
        return f"owned by uid {uid}, not root or us"
    if mode & _SHARED_WRITE and not mode & stat.S_ISVTX:
        return "writable by others without the sticky bit"
    return None


def _open_file(dfd: int, base: str) -> int:
    """Open the lock file, creating it 0666 if missing; never O_CREAT on an existing file.

    EACCES is retried for a moment: another user's starter may have just created the file
    (0666 only after its fchmod) or the directory (1777 only after its fchmod), and
    fs.protected_regular refuses O_CREAT on another user's file that appeared meanwhile.
    """
    deadline = time.monotonic() + _SETTLE
    while True:
        if time.monotonic() > deadline + _SETTLE:  # created and unlinked, again and again
            raise GuardError(f"lock file {base} keeps vanishing")
        try:
            try:
                return os.open(base, _RW_FLAGS, dir_fd=dfd)
            except FileNotFoundError:
                pass
            try:
                fd = os.open(base, _CREATE_FLAGS, 0o666, dir_fd=dfd)
            except FileExistsError:
                continue  # another starter created it between our two opens
            os.fchmod(fd, 0o666)  # umask-proof: root and users must all open it O_RDWR
            return fd
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


# --- who ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StartTime:
    """When a process started: `epoch` for people, `token` to tell two processes apart."""

    epoch: float
    token: str  # "ticks:N" (Linux, exact) or "lstart:N" (ps, 1 s steps)


def process_start(pid: int) -> Optional[StartTime]:
    """When `pid` started, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        if os.path.exists("/proc/self/stat"):
            return None
        return _ps_start(pid)  # macOS: no /proc
    except (ProcessLookupError, IndexError):
        return None
    ticks = int(fields[19])  # field 22 of proc(5), clock ticks after boot
    return StartTime(_boot_time() + ticks / os.sysconf("SC_CLK_TCK"), f"ticks:{ticks}")


def _boot_time() -> float:
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise GuardError("no btime in /proc/stat")


def _ps_start(pid: int) -> Optional[StartTime]:
    out = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    ).stdout
    epoch = parse_lstart(out)
    return None if epoch is None else StartTime(epoch, f"lstart:{int(epoch)}")


def parse_lstart(text: str) -> Optional[float]:
    """`ps -o lstart=` output ("Mon Nov 23 12:56:01 2025", local time) to epoch seconds."""
    try:
        return time.mktime(time.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def judge(record: dict[str, Any], live: Optional[StartTime], alive: bool) -> Holder:
    """A holder record plus what the process table says now -> Holder. Pure."""
    started = record.get("started")
    started = float(started) if isinstance(started, (int, float)) else None  # not int | float: 3.9
    token = record.get("start_token")
    same: Optional[bool] = None
    if not alive:
        same = False
    elif (
        live is not None
        and isinstance(token, str)
        and token.split(":")[0] == live.token.split(":")[0]
    ):
        same = token == live.token
    elif live is not None and started is not None:
        same = abs(started - live.epoch) <= _START_TOLERANCE
    command = record.get("command")
    return Holder(
        pid=int(record["pid"]),
        started=started,
        command=tuple(str(a) for a in command) if isinstance(command, list) else (),
        host=str(record.get("host", "?")),
        since=str(record.get("since", "?")),
        alive=alive,
        same_process=same,
    )


def parse_record(data: bytes) -> Optional[dict[str, Any]]:
    """The JSON holder record, or None while it is empty or half-written."""
    try:
        record = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: `[[[[...`
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    if not 0 < record["pid"] < 2**31:  # os.kill(0 or -1, 0) would probe a group; huge overflows
        return None
    return record


def read_holder(path: str) -> Optional[Holder]:
    """The holder named in a lock file, for audit, without touching the lock.

    None: nobody holds it (never taken, or released), or a holder is writing its record.
    A Holder with `alive and same_process`: that process holds it. Otherwise the holder
    died holding it: the lock is free, unless a child that inherited it still runs.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        return _holder_from_fd(fd)
    finally:
        os.close(fd)


def _holder_from_fd(fd: int) -> Optional[Holder]:
    record = parse_record(os.pread(fd, 65536, 0))
    if record is None:
        return None
    pid = record["pid"]
    alive = is_alive(pid)
    return judge(record, process_start(pid) if alive else None, alive)


def _contender_view(fd: int) -> Optional[Holder]:
    """Read the holder's record, giving a holder that has just locked time to write it."""
    deadline = time.monotonic() + _RECORD_WAIT
    while True:
        holder = _holder_from_fd(fd)
        if (holder is not None and holder.same_process) or time.monotonic() > deadline:
            return holder
        time.sleep(0.02)


def own_command() -> list[str]:
    """This process's command line, for its holder record: `sys.orig_argv` where it exists.

    Python 3.9, the Mac's /usr/bin/python3 (FACTS §5.4), has no `sys.orig_argv` (3.10+),
    and `ps -o command=` joins the words with spaces, so they cannot be split back. We
    rebuild it from what 3.9 keeps: `sys.executable` (the interpreter's path: what launchd
    ran, absolute even when it was found on PATH), the options only a command line can
    set (-I, -E, -S; the others may come from PYTHON* variables and are left out), then
    `-m MODULE` or the script as typed, then `sys.argv[1:]`. Only `-c` loses its code,
    which 3.9 does not keep.
    """
    orig = getattr(sys, "orig_argv", None)
    if orig is not None:
        return [str(a) for a in orig]
    flags = sys.flags
    options = ["-I"] if flags.isolated else ["-E"] if flags.ignore_environment else []
    options += ["-S"] if flags.no_site else []
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    first = sys.argv[0] if sys.argv else ""
    if first == "-c":
        run = ["-c", "<code>"]
    elif spec is not None and spec.name != "__main__":  # -m MODULE (a package: MODULE.__main__)
        module = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        run = ["-m", module]
    else:  # a script, a directory or zip (spec "__main__"), "-" or "" for stdin
        run = [first] if first else []
    return [sys.executable, *options, *run, *sys.argv[1:]]


def _record(command: Sequence[str]) -> bytes:
    pid = os.getpid()
    start = process_start(pid)
    return json.dumps(
        {
            "v": RECORD_VERSION,
            "pid": pid,
            "started": start.epoch if start else None,
            "start_token": start.token if start else None,
            "command": list(command),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "uid": os.getuid(),
        }
    ).encode()


# --- the lock ----------------------------------------------------------------------

_held: dict[int, Guard] = {}  # fd -> Guard, in the process that took the lock


def _close_in_child() -> None:
    # A fork child shares the lock's open file description; closing its copy keeps the
    # parent's lock, while LOCK_UN here would drop it for the parent too.
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class Guard:
    """A held lock. Released by `release()`, by leaving the `with`, or by process death."""

    def __init__(self, name: str, path: str, fd: int) -> None:
        self.name = name
        self.path = path
        self.fd = fd
        self.owner_pid = os.getpid()

    @property
    def held(self) -> bool:
        return self.owner_pid == os.getpid() and _held.get(self.fd) is self

    def intact(self) -> bool:
        """True while the lock path still names the file we locked (no cleaner took it)."""
        try:
            on_path = os.stat(self.path, follow_symlinks=False)
            mine = os.fstat(self.fd)
        except OSError:
            return False
        return (on_path.st_dev, on_path.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self) -> None:
        """Drop the lock. A no-op in a forked child and after the first call."""
        if not self.held:
            return
        del _held[self.fd]
        # Empty the record while still holding the lock, so that a record on disk means
        # "taken and not released" (its pid dead or reused: the holder died holding it).
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing the last descriptor drops the flock; the file stays

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(
    name: str,
    *,
    lock_dir: Optional[str] = None,
    path: Optional[str] = None,
    command: Optional[Sequence[str]] = None,
) -> Guard:
    """Take service `name`'s lock or raise AlreadyRunning naming the holder."""
    path = path or lock_path(name, lock_dir)
    directory, base = os.path.split(os.path.abspath(path))
    try:
        dfd = _open_dir(directory)
    except OSError as exc:
        raise GuardError(f"cannot use lock directory {directory}: {exc.strerror}") from exc
    try:
        for _ in range(_CREATE_ATTEMPTS):
            fd = _open_file(dfd, base)
            try:
                guard = _lock(name, path, fd, dfd=dfd, base=base, command=command)
            except BaseException:
                os.close(fd)
                raise
            if guard is not None:
                return guard
            os.close(fd)  # the path was replaced between open and flock: lock the new one
        raise GuardError(f"lock file {path} keeps being replaced")
    except OSError as exc:
        raise GuardError(f"cannot use lock file {path}: {exc.strerror}") from exc
    finally:
        os.close(dfd)


def _lock(
    name: str, path: str, fd: int, *, dfd: int, base: str, command: Optional[Sequence[str]]
) -> Optional[Guard]:
    """flock `fd`; None if the path no longer names it (replaced meanwhile: start over)."""
    mine = os.fstat(fd)
    if not stat.S_ISREG(mine.st_mode) or mine.st_nlink != 1:
        raise GuardError(f"lock file {path} is not a plain file with one link; refusing it")
    try:
        fcntl.flock(fd, _TRY_LOCK)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        raise AlreadyRunning(name, path, _contender_view(fd)) from None
    try:
        on_path = os.stat(base, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if (on_path.st_dev, on_path.st_ino) != (mine.st_dev, mine.st_ino):
        return None
    data = _record(own_command() if command is None else command)
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
    now = time.time()
    with contextlib.suppress(PermissionError):  # only the owner or root may set times
        os.utime(fd, (now, now + _FUTURE))
    guard = Guard(name, path, fd)
    _held[fd] = guard
    return guard


class singleton(contextlib.ContextDecorator):
    """`with singleton("shiva"):` or `@singleton("shiva")`: hold the lock for the block.

    With `exit_on_conflict=True` a conflict prints one line on stderr and exits 75
    instead of raising AlreadyRunning.
    """

    def __init__(
        self,
        name: str,
        *,
        lock_dir: Optional[str] = None,
        path: Optional[str] = None,
        exit_on_conflict: bool = False,
    ) -> None:
        self.name = name
        self.lock_dir = lock_dir
        self.path = path
        self.exit_on_conflict = exit_on_conflict
        self.guard: Optional[Guard] = None

    def _recreate_cm(self) -> singleton:
        # each decorated call gets its own lock state (recursion then conflicts, correctly)
        return singleton(
            self.name,
            lock_dir=self.lock_dir,
            path=self.path,
            exit_on_conflict=self.exit_on_conflict,
        )

    def __enter__(self) -> Guard:
        try:
            self.guard = acquire(self.name, lock_dir=self.lock_dir, path=self.path)
        except AlreadyRunning as exc:
            if not self.exit_on_conflict:
                raise
            sys.stderr.write(f"svcctl-guard: error: {exc.one_line()}\n")
            sys.stderr.flush()
            raise SystemExit(int(ExitCode.TEMPFAIL)) from None
        return self.guard

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self.guard is not None:
            self.guard.release()
            self.guard = None


# --- the wrapper -------------------------------------------------------------------

USAGE = "usage: svcctl guard NAME [--lock-dir DIR] -- PROGRAM [ARGS...]"
EXIT_NOT_FOUND = 127  # like a shell
EXIT_NOT_EXECUTABLE = 126


def parse_argv(argv: Sequence[str]) -> tuple[str, Optional[str], list[str]]:
    """NAME [--lock-dir DIR] -- PROGRAM ARGS... -> (name, lock_dir, program argv)."""
    if "--" not in argv:
        raise ValueError("missing -- before the program")
    split = list(argv).index("--")
    head, program = list(argv[:split]), list(argv[split + 1 :])
    lock_dir: Optional[str] = None
    if len(head) >= 2 and head[-2] == "--lock-dir":
        lock_dir, head = head[-1], head[:-2]
    elif head and head[-1].startswith("--lock-dir="):
        lock_dir, head = head[-1].split("=", 1)[1], head[:-1]
    if len(head) != 1 or head[0].startswith("-"):
        raise ValueError("expected exactly one service NAME before --")
    if not program:
        raise ValueError("no PROGRAM after --")
    return head[0], lock_dir or None, program


def main(argv: Optional[Sequence[str]] = None, prog: str = "svcctl-guard") -> int:
    """Take NAME's lock and exec PROGRAM holding it; return an exit code only on failure."""
    try:
        name, lock_dir, program = parse_argv(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n{USAGE}\n")
        return int(ExitCode.BAD_INPUT)
    executable = program[0] if "/" in program[0] else shutil.which(program[0])
    if executable is None or not os.path.exists(executable):
        sys.stderr.write(f"{prog}: error: {program[0]}: command not found\n")
        return EXIT_NOT_FOUND
    try:
        guard = acquire(name, lock_dir=lock_dir, command=program)
    except SvcctlError as exc:
        sys.stderr.write(f"{prog}: error: {exc.one_line()}\n")
        return int(exc.exit_code)
    os.set_inheritable(guard.fd, True)  # the program holds the lock from here on
    env = {**os.environ, ENV_FD: str(guard.fd)}
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(executable, program, env)  # noqa: S606 - exec is the wrapper's job
    except OSError as exc:
        sys.stderr.write(f"{prog}: error: {program[0]}: {exc.strerror}\n")
        return EXIT_NOT_EXECUTABLE
    return EXIT_NOT_EXECUTABLE  # not reached: execve returns only by raising


if __name__ == "__main__":
    sys.exit(main())
