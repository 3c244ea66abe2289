"""The process table for the `ps`/`pgrep` shim (FACTS 5.2, 5.3; DESIGN.md).

A Mac has no /proc: its ps asks the kernel (sysctl KERN_PROC, KERN_PROCARGS2). In a
simulated host only PID 1 (root) reads the table, from the procfs the testbed mounts at
`<root>/private/proc` (or `/proc` where nothing is mounted there, e.g. the dev harness),
and answers `{"ps": true}` on its socket with the rows the caller may see.

`read_table` does the reading; `visible_rows` is pure: it applies macOS's rule for
KERN_PROCARGS2 (arguments and environment of another uid's process are unreadable unless
the caller is root) and renders rows as JSON-ready dicts.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

MAXCOMLEN = 16  # p_comm on macOS (sys/param.h)
LAUNCHD = "/sbin/launchd"  # PID 1 on a Mac


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    uid: int  # effective uid (BSD `uid`)
    ruid: int
    rgid: int
    tdev: int  # controlling tty's device number, -1 without one (NODEV)
    tty: str | None  # its name as a Mac would show it (ttys003), None without one
    tpgid: int  # foreground process group of that tty, -1 without one
    state: str  # Linux state letter (R S D I T t Z X ...)
    start: float  # epoch seconds
    argv: tuple[str, ...] | None  # None: unreadable (a kernel thread, or gone)
    env: tuple[str, ...] | None
    comm: str  # p_comm: the executable's basename cut to MAXCOMLEN
    nice: int
    priority: int
    sigignore: int
    sigcatch: int
    cpu_seconds: float
    vsz_kb: int
    rss_kb: int
    cwd: str | None = None  # read only for lsof's `-d cwd` (FACTS 5.4)


def proc_root(emulator_root: Path) -> Path:
    """`<root>/private/proc` when the testbed mounted a procfs there, else `/proc`."""
    private = emulator_root / "private" / "proc"
    with contextlib.suppress(OSError):
        if private.is_dir() and os.path.lexists(private / "self"):
            return private
    return Path("/proc")


def _tty_name(tdev: int) -> str | None:
    """Linux tty numbers shown the Mac way: a pty is `ttysNNN` (devname(3) on macOS)."""
    if tdev <= 0:
        return None
    major, minor = os.major(tdev), os.minor(tdev)
    if 136 <= major <= 143:  # Unix98 ptys: /dev/pts/N
        return f"ttys{(major - 136) * 256 + minor:03d}"
    if major == 5 and minor == 1:
        return "console"
    if major == 4 and minor < 64:
        return f"tty{minor}"
    return None  # a device with no name under /dev: devname() fails, ps prints ??


def _split_nul(raw: bytes) -> tuple[str, ...]:
    parts = raw.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return tuple(p.decode("utf-8", "surrogateescape") for p in parts)


def _status_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip()
    return out


def _read_one(base: Path, pid: int, btime: float, tick: int, page_kb: int,
              with_env: bool = True, with_cwd: bool = False) -> Proc | None:
    d = base / str(pid)
    try:
        stat = (d / "stat").read_bytes().decode("utf-8", "surrogateescape")
        status = _status_fields((d / "status").read_text(errors="surrogateescape"))
        head, _, tail = stat.rpartition(")")
        stat_comm = head.partition("(")[2]
        f = tail.split()
        # f[0] is field 3 (state) of proc(5)
        state = f[0]
        ppid, pgid, sid, tdev, tpgid = (int(x) for x in f[1:6])
        utime, stime = int(f[11]), int(f[12])
        priority, nice = int(f[15]), int(f[16])
        starttime, vsize, rss = int(f[19]), int(f[20]), int(f[21])
        uids = status["Uid"].split()
        gids = status["Gid"].split()
    except (OSError, ValueError, IndexError, KeyError):
        return None  # gone meanwhile (a half-read entry is no process to show)
    argv: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    with contextlib.suppress(OSError):
        raw = (d / "cmdline").read_bytes()
        argv = _split_nul(raw) if raw else None  # empty: kernel thread or zombie
    if with_env:  # only `ps -E` shows it: the rest of the table is cheaper without
        with contextlib.suppress(OSError):
            env = _split_nul((d / "environ").read_bytes())
    exe_name = ""
    with contextlib.suppress(OSError):
        exe_name = os.path.basename(os.readlink(d / "exe")).removesuffix(" (deleted)")
    comm = (exe_name or stat_comm)[:MAXCOMLEN]
    cwd = None
    if with_cwd:
        with contextlib.suppress(OSError):
            cwd = os.readlink(d / "cwd")
    if pid == 1:  # PID 1 is launchd on a Mac (DESIGN.md), which runs in /
        argv, env, comm, cwd = (LAUNCHD,), (), "launchd", "/" if with_cwd else None
    has_tty = tdev != 0
    return Proc(
        pid=pid, ppid=ppid, pgid=pgid, sid=sid, uid=int(uids[1]), ruid=int(uids[0]),
        rgid=int(gids[0]), tdev=tdev if has_tty else -1, tty=_tty_name(tdev),
        tpgid=tpgid if has_tty else -1, state=state, start=btime + starttime / tick,
        argv=argv, env=env, comm=comm, nice=nice, priority=priority,
        sigignore=int(status.get("SigIgn", "0"), 16), sigcatch=int(status.get("SigCgt", "0"), 16),
        cpu_seconds=(utime + stime) / tick, vsz_kb=vsize // 1024, rss_kb=rss * page_kb,
        cwd=cwd,
    )


def boot_time(base: Path) -> float:
    for line in (base / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError(f"no btime in {base / 'stat'}")


def mem_total_kb(base: Path) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in (base / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def read_table(base: Path, with_env: bool = True, with_cwd: bool = False) -> list[Proc]:
    """Every process in `base` (a procfs), in pid order; reads arguments as root."""
    btime = boot_time(base)
    tick = os.sysconf("SC_CLK_TCK")
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    pids = sorted(int(e.name) for e in os.scandir(base) if e.name.isdigit())
    return [p for p in (_read_one(base, pid, btime, tick, page_kb, with_env, with_cwd)
                        for pid in pids) if p]


def may_read_args(caller_uid: int, proc: Proc) -> bool:
    """KERN_PROCARGS2: root, or the process's own (effective) uid (DESIGN.md)."""
    return caller_uid in (0, proc.uid)


def visible_rows(procs: list[Proc], caller_uid: int, caller_pid: int,
                 caller_argv: list[str] | None) -> list[dict[str, object]]:
    """Rows for the caller (pure). Another uid's arguments and environment are withheld
    (ps prints `(comm)`); ps's own environment rule (print.c: root or the same real uid)
    is applied on top. The caller's own row shows the argv it reports (the shim runs
    under an interpreter; on a Mac ps's row is `ps ...`)."""
    rows: list[dict[str, object]] = []
    for p in procs:
        argv, env, comm = p.argv, p.env, p.comm
        if p.pid == caller_pid and caller_argv:
            argv, comm = tuple(caller_argv), os.path.basename(caller_argv[0])[:MAXCOMLEN]
        readable = may_read_args(caller_uid, p)
        rows.append({
            "pid": p.pid, "ppid": p.ppid, "pgid": p.pgid, "sid": p.sid, "uid": p.uid,
            "ruid": p.ruid, "rgid": p.rgid, "tdev": p.tdev, "tty": p.tty, "tpgid": p.tpgid,
            "state": p.state, "start": p.start, "comm": comm, "nice": p.nice,
            "priority": p.priority, "sigignore": p.sigignore, "sigcatch": p.sigcatch,
            "cpu": p.cpu_seconds, "vsz": p.vsz_kb, "rss": p.rss_kb,
            "argv": list(argv) if readable and argv is not None else None,
            "env": list(env) if readable and env is not None
            and (caller_uid in (0, p.ruid)) else None,
            # lsof as a user lists only that user's processes' files (FACTS 5.4 cwd)
            "cwd": p.cwd if readable else None,
        })
    return rows
