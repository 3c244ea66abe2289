#!/usr/bin/python3 -Es
"""`ps` and `pgrep` for simulated macOS hosts: BSD behaviour over the emulator's table.

Self-contained (stdlib only, one file, copied as text): installed as /usr/bin/ps and
/usr/bin/pgrep; it dispatches on the name it was run as. A Mac has no /proc, and neither
have the hosts' jobs and sessions: the rows come from the launchd emulator (PID 1), which
reads the process table and withholds what the caller may not read (DESIGN.md).

The behaviour follows Apple's sources, not procps (apple-oss-distributions/adv_cmds
tag adv_cmds-237: ps/ps.c, ps/keyword.c, ps/print.c, pkill/pkill.c; Libc gen/FreeBSD/vis.c)
and FACTS 5.2 and 5.3. The formatting and selection functions are pure: rows in, text out.

Approximations, each where Linux data cannot say what a Mac would:
- %cpu prints 0.0 (BSD shows a decaying average the Linux table does not keep); `pri` is
  31 - nice (BASEPRI_DEFAULT); `f` is P_LP64|P_EXEC (+P_CONTROLT); the resource and
  accounting keywords Linux has no counterpart for print 0.
- `sess` prints 0, as a modern Mac does: xnu's fill_user64_eproc no longer fills
  e_sess (a kernel pointer), so the field stays zero for every process.
- state: a sleeping process is `S` (a Mac says `I` after 20 s asleep; Linux does not tell).
- lstart/start use the C locale's formats whatever the locale (svcctl sends LC_ALL=C).
- pgrep patterns are Python regular expressions standing in for POSIX EREs.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SOCKET = "/run/testbed/launchd.sock"
UNLIMITED = 0
BSD_PID_MAX = 99999
MAXLOGNAME = 255

Row = dict[str, Any]

LJUST, DSIZ, COMM = 1, 2, 4


class Exit(Exception):
    """Leave with this status (messages were already written)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# ---- the keyword table (ps/keyword.c, the entries built on macOS) --------------------------
@dataclass
class Var:
    name: str
    header: str
    flags: int
    width: int
    render: str  # how a value is produced (see _value)


_KEYWORDS: list[tuple[str, str, int, int, str]] = [
    ("%cpu", "%CPU", 0, 5, "pcpu"),
    ("%mem", "%MEM", 0, 4, "pmem"),
    ("acflag", "ACFLG", 0, 3, "zero"),
    ("args", "ARGS", COMM | LJUST | DSIZ, 64, "args"),
    ("comm", "COMM", COMM | LJUST | DSIZ, 16, "comm"),
    ("command", "COMMAND", COMM | LJUST | DSIZ, 16, "command"),
    ("cpu", "CPU", 0, 3, "zero"),
    ("etime", "ELAPSED", DSIZ, 20, "etime"),
    ("f", "F", 0, 8, "flags"),
    ("gid", "GID", 0, 5, "rgid"),
    ("inblk", "INBLK", 0, 4, "zero"),
    ("jobc", "JOBC", 0, 4, "zero"),
    ("ktrace", "KTRACE", 0, 8, "zerox"),
    ("ktracep", "KTRACEP", 0, 8, "zerox"),
    ("lim", "LIM", 0, 5, "zero"),
    ("login", "LOGIN", LJUST, MAXLOGNAME - 1, "login"),
    ("lstart", "STARTED", LJUST, 28, "lstart"),
    ("majflt", "MAJFLT", 0, 4, "zero"),
    ("minflt", "MINFLT", 0, 4, "zero"),
    ("msgrcv", "MSGRCV", 0, 4, "zero"),
    ("msgsnd", "MSGSND", 0, 4, "zero"),
    ("nice", "NI", 0, 2, "nice"),
    ("nivcsw", "NIVCSW", 0, 5, "zero"),
    ("nsigs", "NSIGS", 0, 4, "zero"),
    ("nswap", "NSWAP", 0, 4, "zero"),
    ("nvcsw", "NVCSW", 0, 5, "zero"),
    ("nwchan", "WCHAN", 0, 6, "zerox"),
    ("oublk", "OUBLK", 0, 4, "zero"),
    ("p_ru", "P_RU", 0, 6, "zerox"),
    ("paddr", "PADDR", 0, 16, "zerox"),
    ("pagein", "PAGEIN", 0, 6, "zero"),
    ("pgid", "PGID", 0, 5, "pgid"),
    ("pid", "PID", 0, 5, "pid"),
    ("ppid", "PPID", 0, 5, "ppid"),
    ("pri", "PRI", 0, 3, "pri"),
    ("prsna", "PRSNA", 0, 5, "zero"),
    ("re", "RE", 0, 3, "zero"),
    ("rgid", "RGID", 0, 5, "rgid"),
    ("rss", "RSS", 0, 6, "rss"),
    ("ruid", "RUID", 0, 5, "ruid"),
    ("ruser", "RUSER", LJUST | DSIZ, 16, "ruser"),
    ("sess", "SESS", 0, 6, "zerox"),
    ("sig", "PENDING", 0, 8, "zerox"),
    ("sigmask", "BLOCKED", 0, 8, "zerox"),
    ("sl", "SL", 0, 3, "zero"),
    ("start", "STARTED", LJUST, 7, "start"),
    ("state", "STAT", 0, 4, "state"),
    ("stime", "STIME", 0, 9, "zerotime"),
    ("svgid", "SVGID", 0, 5, "rgid"),
    ("svuid", "SVUID", 0, 5, "uid"),
    ("tdev", "TDEV", 0, 4, "tdev"),
    ("time", "TIME", 0, 9, "time"),
    ("tpgid", "TPGID", 0, 4, "tpgid"),
    ("tsess", "TSESS", 0, 6, "zerox"),
    ("tsiz", "TSIZ", 0, 8, "zero"),
    ("tt", "TT ", 0, 5, "tt"),
    ("tty", "TTY", LJUST, 8, "tty"),
    ("ucomm", "UCOMM", LJUST, 16, "ucomm"),
    ("uid", "UID", 0, 5, "uid"),
    ("upr", "UPR", 0, 3, "zero"),
    ("user", "USER", LJUST | DSIZ, 16, "user"),
    ("utime", "UTIME", 0, 9, "zerotime"),
    ("vsz", "VSZ", 0, 8, "vsz"),
    ("wchan", "WCHAN", LJUST, 6, "wchan"),
    ("wq", "WQ", 0, 4, "zero"),
    ("wqb", "WQB", 0, 4, "zero"),
    ("wql", "WQL", 0, 3, "zero"),
    ("wqr", "WQR", 0, 4, "zero"),
    ("xstat", "XSTAT", 0, 4, "zerox"),
]
# keyword.c aliases; `caught`/`ignored`/`sigcatch`/`sigignore` are under `#if FIXME`
# there, so a Mac's ps answers "keyword not found" for them, as for procps's `cmd`.
_ALIASES = {
    "acflg": "acflag", "blocked": "sigmask", "cputime": "time", "flags": "f",
    "group": "gid", "inblock": "inblk", "logname": "login", "ni": "nice",
    "nsignals": "nsigs", "oublock": "oublk", "pcpu": "%cpu", "pending": "sig",
    "pmem": "%mem", "pstime": "stime", "putime": "utime", "rgroup": "rgid",
    "stat": "state", "usrpri": "upr", "vsize": "vsz",
}
KEYWORDS = {k[0]: k for k in _KEYWORDS}


def keyword_names() -> list[str]:
    return sorted([*KEYWORDS, *_ALIASES])


def showkey(termwidth: int) -> str:
    """`ps -L`: the keyword names, wrapped at the terminal width (keyword.c showkey)."""
    out, col, sep = [], 0, ""
    for name in keyword_names():
        col += len(name) + 1
        if termwidth and col > termwidth:
            col, sep = len(name), "\n"
        out.append(sep + name)
        sep = " "
    return "".join(out) + "\n"


# ---- strvis(VIS_TAB | VIS_NL | VIS_NOSLASH) (print.c; Libc vis.c) ---------------------------
def _vis_byte(c: int) -> str:
    if c in (9, 10) or ((c & 0x7F) == 0x20 and c != 0x20):
        return f"\\{c:03o}"  # the `extra` characters (tab, newline) and meta-space: octal
    if 0x20 <= c <= 0x7E:
        return chr(c)
    out = ""
    if c & 0x80:  # VIS_NOSLASH: no leading backslash in the M- and ^ forms
        out, c = "M", c & 0x7F
    if c < 0x20 or c == 0x7F:
        return out + "^" + ("?" if c == 0x7F else chr(c + 0x40))
    return out + "-" + chr(c)


def vis(text: str, utf8: bool = False) -> str:
    """Tab and newline become `\\011` `\\012`, other controls `^X`, in the C locale bytes
    >= 0x80 `M-x`. In a UTF-8 locale printable characters pass (approximation: a
    non-printable multibyte character is shown by its UTF-8 bytes)."""
    data = text.encode("utf-8", "surrogateescape")
    if not utf8:
        return "".join(_vis_byte(b) for b in data)
    out = []
    for ch in data.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if code < 0x80 or 0xDC80 <= code <= 0xDCFF:
            out.append(_vis_byte(code - 0xDC00 if code >= 0xDC80 else code))
        elif ch.isprintable() or ch.isspace():
            out.append(ch)
        else:
            out.append("".join(_vis_byte(b) for b in ch.encode("utf-8")))
    return "".join(out)


# ---- values ---------------------------------------------------------------------------------
@dataclass
class Context:
    """What the formatting needs besides the rows (all plain data)."""

    now: float
    users: dict[int, str] = field(default_factory=dict)
    mem_kb: int = 0
    cflag: bool = False  # -c
    eflag: bool = False  # -E (and BSD-style `e`)
    utf8: bool = False
    termwidth: int = UNLIMITED


def user_name(uid: int, ctx: Context) -> str:
    """user_from_uid(uid, 0): the name, or the number when there is none."""
    if uid in ctx.users:
        return ctx.users[uid]
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)


def command_text(row: Row, ctx: Context, show_args: bool) -> str:
    """get_command_and_or_args(): `<defunct>`, `(comm)` or the (visible) command line."""
    argv: list[str] | None = row.get("argv")
    if row["state"] in ("Z", "X"):
        raw = "<defunct>"
    elif not argv or not any(argv):
        raw = "({})".format(row["comm"])
    else:
        while argv and argv[0] == "":  # the kernel's string area: leading NULs are skipped
            argv = argv[1:]
        words = list(argv) if show_args else [argv[0]]
        if show_args and ctx.eflag and row.get("env"):
            words += [e for e in _until_empty(row["env"])]
        raw = " ".join(words)
    cmd = raw
    if ctx.cflag:  # "Ignore the path in cmd, if any" (from the end of the whole string)
        cut = raw.rfind("/", 1)
        if cut > 0:
            cmd = raw[cut + 1:]
    return vis(cmd, ctx.utf8)


def _until_empty(env: list[str]) -> list[str]:
    out = []
    for item in env:
        if item == "":
            break
        out.append(item)
    return out


def _lstart(start: float) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(int(start)))


def _started(start: float, now: float) -> str:
    """print.c started(): the C locale has an AM/PM format, so `%l:%M%p` within a day."""
    tm = time.localtime(int(start))
    if now - start < 24 * 3600:
        return time.strftime("%l:%M%p", tm)
    if now - start < 7 * 86400:
        return time.strftime("%a%I%p", tm)
    return time.strftime("%e%b%y", tm)


def etime(start: float, now: float) -> str:
    # btime is whole seconds, so a fresh process may seem to start up to 1 s from now
    e = max(int(now) - int(start), 0)
    days, hours, mins, secs = e // 86400, (e // 3600) % 24, (e // 60) % 60, e % 60
    if e > 100 * 86400:
        return f"{days}-{hours:02d}:{mins:02d}:{secs:02d}"
    if e > 86400:
        return f"{days:02d}-{hours:02d}:{mins:02d}:{secs:02d}"
    if e > 3600:
        return f"{e // 3600:02d}:{mins:02d}:{secs:02d}"
    return f"{e // 60:02d}:{secs:02d}"


def _cputime(seconds: float) -> str:
    centis = round(seconds * 100)
    secs, psecs = divmod(centis, 100)
    return f"{secs // 60:3d}:{secs % 60:02d}.{psecs:02d}"


def state(row: Row) -> str:
    """print.c state(): R U S I T Z, then < N s + (Linux has no E/X/V/L to offer)."""
    linux = row["state"]
    letter = {"R": "R", "D": "U", "I": "I", "T": "T", "t": "T", "Z": "Z", "X": "Z"}.get(
        linux, "S")
    flags = "<" if row["nice"] < 0 else "N" if row["nice"] > 0 else ""
    if row["pid"] == row["sid"]:
        flags += "s"
    if row["tdev"] != -1 and row["pgid"] == row["tpgid"]:
        flags += "+"
    return letter + flags


def _tt(row: Row, width: int) -> str:
    name = row.get("tty")
    if row["tdev"] == -1 or not name:
        return f"{'??':>{width - 1}} "
    if name.startswith("tty") or name.startswith("cua"):
        name = name[3:]
    return f"{name[:width - 1]:>{width - 1}} "  # EPROC_CTTY: a space, not `-`


def _value(var: Var, row: Row, ctx: Context) -> str:
    """The text of one cell before justification."""
    kind = var.render
    simple: dict[str, Callable[[], Any]] = {
        "pid": lambda: row["pid"], "ppid": lambda: row["ppid"], "pgid": lambda: row["pgid"],
        "uid": lambda: row["uid"], "ruid": lambda: row["ruid"], "rgid": lambda: row["rgid"],
        "nice": lambda: row["nice"], "tpgid": lambda: max(row["tpgid"], 0),
        "pri": lambda: 31 - row["nice"], "rss": lambda: row["rss"], "vsz": lambda: row["vsz"],
        "zero": lambda: 0, "zerox": lambda: "0",
        "flags": lambda: "%x" % (0x4004 | (0x2 if row["tdev"] != -1 else 0)),
        "pcpu": lambda: "0.0",
        "pmem": lambda: "%.1f" % (100.0 * row["rss"] / ctx.mem_kb if ctx.mem_kb else 0.0),
        "time": lambda: _cputime(row["cpu"]), "zerotime": lambda: _cputime(0.0),
        "etime": lambda: etime(row["start"], ctx.now), "state": lambda: state(row),
        "lstart": lambda: _lstart(row["start"]), "start": lambda: _started(row["start"], ctx.now),
        "user": lambda: user_name(row["uid"], ctx), "ruser": lambda: user_name(row["ruid"], ctx),
        "login": lambda: user_name(row["uid"], ctx) or "-",
        "ucomm": lambda: row["comm"], "wchan": lambda: "-",
        "tty": lambda: row.get("tty") or "??", "tdev": lambda: _tdev(row),
        "tt": lambda: _tt(row, var.width),
        "command": lambda: command_text(row, ctx, not ctx.cflag),
        "args": lambda: command_text(row, ctx, True),
        "comm": lambda: command_text(row, ctx, False),
    }
    return str(simple[kind]())


def _tdev(row: Row) -> str:
    dev = row["tdev"]
    if dev == -1:
        return "??"
    return f"{os.major(dev)}/{os.minor(dev)}"


@dataclass
class Column:
    var: Var
    header: str
    width: int = 0


def format_table(columns: list[Column], rows: list[Row], ctx: Context) -> str:
    """Header (unless every header is empty) and one line per row (print.c, ps.c)."""
    cells = [[_value(c.var, row, ctx) for c in columns] for row in rows]
    for i, col in enumerate(columns):  # scanvars/dynsizevars/sizevars
        if col.var.flags & DSIZ:
            width = 0
            for line in cells:
                width = max(width, len(line[i]))
            col.width = min(width, col.var.width)
        else:
            col.width = col.var.width
        col.width = max(col.width, len(col.header))
    totwidth = sum(c.width + 1 for c in columns) - 1
    out = []
    if any(c.header for c in columns):
        parts = []
        for i, col in enumerate(columns):
            last = i == len(columns) - 1
            if col.var.flags & LJUST:
                parts.append(col.header if last else f"{col.header:<{col.width}}")
            else:
                parts.append(f"{col.header:>{col.width}}")
        out.append(" ".join(parts))
    for line in cells:
        parts = []
        for i, col in enumerate(columns):
            last = i == len(columns) - 1
            text = line[i]
            if col.var.flags & COMM:
                if last:
                    if ctx.termwidth != UNLIMITED:
                        left = ctx.termwidth - (totwidth - col.width)
                        if left < 1 or col.var.render == "args":
                            left = col.width
                        text = text[:max(left, 0)]
                    parts.append(text)
                else:
                    parts.append(f"{text[:col.width]:<{col.width}}")
            elif col.var.render == "tt":
                parts.append(text)  # tname() pads itself and always adds a flag character
            elif col.var.flags & LJUST or col.var.render == "state":
                # state() prints `%-*s` although its header is right-justified
                parts.append(f"{text:<{col.width}}")  # padded even when last (print.c)
            else:
                parts.append(f"{text:>{col.width}}")
        out.append(" ".join(parts))
    return "".join(line + "\n" for line in out)


# ---- option parsing (ps.c) ------------------------------------------------------------------
class GetoptError(Exception):
    """getopt(3)'s complaint, already worded (`illegal option -- q`)."""


def getopt(args: list[str], optstring: str, operands: list[str]) -> Iterator[tuple[str, str]]:
    """BSD getopt(3): yields (option, argument) up to the first operand or `--`, raising
    GetoptError where getopt would complain; then `operands` holds what is left."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            ch = arg[j]
            pos = optstring.find(ch)
            if pos < 0 or ch == ":":
                raise GetoptError(f"illegal option -- {ch}")
            optarg = ""
            if optstring[pos + 1:pos + 2] == ":":
                if j + 1 < len(arg):
                    optarg = arg[j + 1:]
                elif i + 1 < len(args):
                    i += 1
                    optarg = args[i]
                else:
                    raise GetoptError(f"option requires an argument -- {ch}")
                j = len(arg)
            else:
                j += 1
            yield ch, optarg
        i += 1
    operands.extend(args[i:])


PS_ARGS_U03 = "aACcdeEfg:G:hjLlMmO:o:p:rSTt:U:u:vwx"
PS_ARGS_OLD = "aACcdeEgG:hjLlMmO:o:p:rSTt:U:uvwx"

USAGE = (
    "usage: ps [-AaCcEefhjlMmrSTvwXx] [-O fmt | -o fmt] [-G gid[,gid...]]\n"
    "%s\n"
    "          [-p pid[,pid...]] [-t tty[,tty...]] [-U user[,user...]]\n"
    "       ps [-L]\n"
)

DFMT = "pid,tt,state,time,command"
JFMT = "user,pid,ppid,pgid,sess,jobc,state,tt,time,command"
LFMT = "uid,pid,ppid,cpu,pri,nice,vsz,rss,wchan,state,tt,time,command"
UFMT = "user,pid,%cpu,%mem,vsz,rss,tt,state,start,time,command"
VFMT = "pid,state,time,sl,re,pagein,vsz,rss,lim,tsiz,%cpu,%mem,command"
P_DFMT = "pid tty time command=CMD"
P_FFMT = "uid pid ppid cpu=C start=STIME tty time command=CMD"
P_UFFMT = "user pid ppid cpu=C start=STIME tty time command=CMD"
P_LFMT = ("uid pid ppid flags cpu pri nice vsz=SZ rss wchan state=S paddr=ADDR tty time "
          "command=CMD")
MFMT = "user pid tt %cpu state  pri stime utime command"


@dataclass
class PsOptions:
    columns: list[Column] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    uids: list[int] = field(default_factory=list)  # -u (u03): effective uid
    ruids: list[int] = field(default_factory=list)  # -U
    gids: list[int] = field(default_factory=list)  # -G: real gid
    pgrps: list[int] = field(default_factory=list)  # -g (u03)
    ttys: list[int] = field(default_factory=list)
    all: bool = False
    xkeep: int = -1
    xkeep_implied: bool = False
    nselectors: int = 0
    dflag: bool = False
    cflag: bool = False
    eflag: bool = False
    sortby: str = "default"
    termwidth: int = 79
    status: int = 0  # eval: 1 after a keyword was not found


class PsParser:
    """getopt over ps's option string, with the historical kludges."""

    def __init__(self, lookup_user: Callable[[str], int | None], termwidth: int,
                 stdout_tty: bool, err: list[str]) -> None:
        self.lookup_user = lookup_user
        self.err = err
        self.opts = PsOptions(termwidth=termwidth)
        self.stdout_tty = stdout_tty
        self.optfatal = False
        self.out: list[str] = []
        self.wflag = 0
        self.command_wide = False  # -f widens `command` for the lists parsed after it
        self.o_parts = ["pid", "tt,state,time,command"]  # -O's fixed parts, used once

    def warn(self, text: str) -> None:
        self.err.append(f"ps: {text}\n")

    def usage(self, u03: bool) -> Exit:
        self.err.append(USAGE % ("          [-g grp[,grp...]] [-u [uid,uid...]]" if u03
                                 else "          [-u]"))
        return Exit(1)

    # -- -o lists --
    def parsefmt(self, text: str, user: bool) -> None:
        for item in re.split(r"[ \t,\n]", text):
            if item:
                self._add(item, user)
        if not self.opts.columns:
            self.warn("no valid keywords; valid keywords:")
            self.err.append(showkey(self.opts.termwidth))
            raise Exit(1)

    def _add(self, item: str, user: bool) -> None:
        name, eq, header = item.partition("=")
        if name in _ALIASES:
            target = _ALIASES[name]
            self._add(target + ("=" + header if eq else ""), user)
            return
        spec = KEYWORDS.get(name)
        if spec is None:
            self.warn(f"{name}: keyword not found")
            self.opts.status = 1
            return
        if not user and any(c.var.name == name for c in self.opts.columns):
            return
        var = Var(*spec)
        if name == "command" and self.command_wide:
            var.width = 64
        self.opts.columns.append(Column(var, header if eq else var.header))

    # -- lists --
    @staticmethod
    def _split_list(text: str) -> list[str]:
        """add_list(): elements end at blanks or one comma; `1,,2` holds an empty one."""
        if text == "":
            return [""]
        out, i = [], 0
        while i < len(text):
            while i < len(text) and text[i] in " \t":
                i += 1
            start = i
            while i < len(text) and text[i] not in " \t,":
                i += 1
            out.append(text[start:i])
            while i < len(text) and text[i] in " \t":
                i += 1
            if i < len(text) and text[i] == ",":
                i += 1
        return out

    def add_pids(self, text: str, lname: str, into: list[int]) -> None:
        for elem in self._split_list(text):
            if elem == "":
                self.warn("Invalid (zero-length) process id")
                self.optfatal = True
            elif not re.fullmatch(r"[+-]?\d+", elem) or int(elem) < 0:
                self.warn(f"Invalid {lname}: {elem}")
                self.optfatal = True
            elif int(elem) > BSD_PID_MAX:
                self.warn(f"{lname} too large: {elem}")
                self.optfatal = True
            else:
                into.append(int(elem))

    def add_users(self, text: str, lname: str, into: list[int]) -> None:
        for elem in self._split_list(text):
            if elem == "":
                self.warn(f"Invalid (zero-length) {lname} name")
                self.optfatal = True
                continue
            uid = self.lookup_user(elem)
            if uid is None:
                if elem.isdigit():
                    self.warn(f"No {lname} name or ID matches '{elem}'")
                else:
                    self.warn(f"No {lname} named '{elem}'")
                self.optfatal = True
            else:
                into.append(uid)

    def add_gids(self, text: str) -> None:
        for elem in self._split_list(text):
            try:
                entry = grp.getgrgid(int(elem)) if elem.isdigit() else grp.getgrnam(elem)
            except (KeyError, ValueError, OverflowError):
                try:
                    entry = grp.getgrnam(elem)
                except KeyError:
                    kind = "name or ID matches" if elem.isdigit() else "named"
                    self.warn(f"No group {kind} '{elem}'")
                    self.optfatal = True
                    continue
            self.opts.gids.append(entry.gr_gid)

    def add_ttys(self, text: str) -> None:
        for elem in self._split_list(text):
            paths = [elem] if elem.startswith("/") else (
                ["/dev/console"] if elem == "co" else ["/dev/" + elem, "/dev/tty" + elem])
            mac = re.fullmatch(r"(?:/dev/)?(?:tty)?s(\d+)", elem)
            if mac:  # the Mac's name for what is /dev/pts/N here (proctable._tty_name)
                paths.insert(0, f"/dev/pts/{int(mac.group(1))}")
            for path in paths:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                self.opts.ttys.append(st.st_rdev)
                break
            else:
                self.warn(f"{paths[-1]}: No such file or directory")
                self.optfatal = True

    # -- the whole command line --
    def parse(self, args: list[str]) -> PsOptions:
        u03 = True
        if args:
            args = list(args)
            args[0], u03 = kludge_oldps_options(PS_ARGS_U03, args[0],
                                                args[1] if len(args) > 1 else None)
        o = self.opts
        rest: list[str] = []
        try:
            for ch, optarg in getopt(args, PS_ARGS_U03 if u03 else PS_ARGS_OLD, rest):
                self.option(ch, optarg, u03)
        except GetoptError as exc:
            self.err.append(f"ps: {exc}\n")
            raise self.usage(u03) from None
        while rest and rest[0][:1].isdigit():
            self.add_pids(rest.pop(0), "process id", o.pids)
        if rest:
            self.err.append(f"ps: illegal argument: {rest[0]}\n")
            raise self.usage(u03)
        if not self.stdout_tty:
            o.termwidth = UNLIMITED
        if self.optfatal:
            raise Exit(1)
        if o.xkeep < 0:
            o.xkeep = 1 if o.xkeep_implied else 0
        if not o.columns:
            if u03 and o.uids:
                self.parsefmt("uid", False)
            self.parsefmt(P_DFMT if u03 else DFMT, False)
        return o

    def option(self, ch: str, optarg: str | None, u03: bool) -> None:
        o = self.opts
        if ch == "d":
            o.dflag = True
            ch = "A"
        if ch == "e" and not u03:
            ch = "E"
        if ch in "Ae":
            o.nselectors += 1
            o.all, o.xkeep = True, 1
        elif ch == "a":
            o.nselectors += 1
            o.all = True
        elif ch == "c":
            o.cflag = True
        elif ch == "E":
            o.eflag = True
        elif ch == "f":
            o.termwidth = UNLIMITED
            if u03 and not o.uids:
                self.parsefmt(P_FFMT, False)
                # ps.c widens the keyword table's `command` after copying it into this
                # list: only a `command` added later gets 64 columns
                self.command_wide = True
            else:
                self.parsefmt(P_UFFMT, False)
        elif ch == "G":
            self.add_gids(optarg or "")
            o.xkeep_implied = True
            o.nselectors += 1
        elif ch == "g":
            if u03:
                self.add_pids(optarg or "", "process group", o.pgrps)
                o.xkeep_implied = True
                o.nselectors += 1
        elif ch == "L":
            self.out.append(showkey(o.termwidth))
            raise Exit(0)
        elif ch in "jlvM":  # built-in formats; user=0 lists skip keywords already there
            self.parsefmt({"j": JFMT, "l": P_LFMT if u03 else LFMT, "v": VFMT, "M": MFMT}[ch],
                          False)
            if ch == "v":
                o.sortby = "mem"
        elif ch == "m":
            o.sortby = "mem"
        elif ch == "O":
            for part in (self.o_parts[0], optarg or "", self.o_parts[1]):
                self.parsefmt(part, True)
            self.o_parts = ["", ""]
        elif ch == "o":
            self.parsefmt(optarg or "", True)
        elif ch == "p":
            self.add_pids(optarg or "", "process id", o.pids)
            o.nselectors += 1
        elif ch == "r":
            o.sortby = "cpu"
        elif ch in "Tt":
            if ch == "T":
                try:
                    optarg = os.ttyname(0)
                except OSError:
                    self.err.append("ps: stdin: not a terminal\n")
                    raise Exit(1) from None
            self.add_ttys(optarg or "")
            o.xkeep_implied = True
            o.nselectors += 1
        elif ch == "U":
            self.add_users(optarg or "", "ruser", o.ruids)
            o.xkeep_implied = True
            o.nselectors += 1
        elif ch == "u":
            if u03:
                self.add_users(optarg or "", "user", o.uids)
                o.xkeep_implied = True
                o.nselectors += 1
            else:
                self.parsefmt(UFMT, False)
                o.sortby = "cpu"
        elif ch == "w":
            if self.wflag:
                o.termwidth = UNLIMITED
            elif o.termwidth < 131:
                o.termwidth = 131
            self.wflag += 1
        elif ch == "x":
            o.xkeep = 1
        # C, h, S: accepted, no effect here (raw cpu, header repeat, child rusage)


def kludge_oldps_options(optlist: str, origval: str, nextarg: str | None) -> tuple[str, bool]:
    """`ps aux` -> `-aux` (and BSD mode, not UNIX2003), `ps 34` -> `-p34` (ps.c)."""
    argp = -1
    for k, ch in enumerate(origval):
        pos = optlist.find(ch)
        if ch != ":" and pos >= 0 and pos + 1 < len(optlist) and optlist[pos + 1] == ":":
            argp = k
            break
    if argp >= 0 and origval.startswith("-"):
        return origval, True
    val = origval
    pidp = -1
    if val and val[-1] == "t" and not val.startswith("-") and argp == len(val) - 1:
        if nextarg is None or nextarg.startswith("-") or nextarg[:1].isdigit():
            val = val[:-1] + "T"
    elif argp < 0 and val and val[-1].isdigit():
        k = len(val) - 1
        while k >= 0 and (val[k] == "," or val[k].isdigit()):
            k -= 1
        pidp = k + 1
    if val.startswith("-") and pidp < 0:
        return val, True
    u03 = True
    if not val.startswith("-"):
        u03 = False
        prefix = "-"
    else:
        prefix = ""
    if pidp >= 0:
        val = val[:pidp] + "p" + val[pidp:]
    return prefix + val, u03


def select_rows(rows: list[Row], o: PsOptions, my_uid: int) -> list[Row]:
    """ps.c's selection: -p always, then the no-tty rule, then the OR of the selectors;
    sorted by tty then pid (pscomp)."""
    uids, nselectors = list(o.uids), o.nselectors
    if nselectors == 0:
        uids, nselectors = [my_uid], 1
    single_uid = nselectors == 1 and len(uids) == 1 and not (o.pids or o.ruids or o.pgrps
                                                              or o.ttys or o.gids)
    kept = []
    for row in rows:
        if row["pid"] == 0:
            continue
        if o.dflag and row["pid"] == row["pgid"]:
            continue
        if row["pid"] in o.pids:
            kept.append(row)
            continue
        if o.xkeep == 0 and row["tdev"] == -1:
            continue
        if o.all:
            kept.append(row)
            continue
        # a single uid selector is the kernel's KERN_PROC_UID (or _RUID with -x)
        uid_key = "ruid" if single_uid and o.xkeep else "uid"
        if (row["rgid"] in o.gids or row["pgid"] in o.pgrps or row["ruid"] in o.ruids
                or row["tdev"] in o.ttys or row[uid_key] in uids):
            kept.append(row)
    kept.sort(key=lambda r: (r["tdev"], r["pid"]))
    if o.sortby == "mem":
        kept.sort(key=lambda r: -r["rss"])
    # -r/`u` sort by %cpu, which is 0.0 here: pscomp's order is then qsort's; keep tty, pid
    return kept


def table_users(table: dict[str, Any]) -> dict[int, str]:
    """{uid: name} from the host's passwd, as the emulator sent it."""
    return {int(k): v for k, v in table.get("users", {}).items()}


def user_lookup(users: dict[int, str]) -> Callable[[str], int | None]:
    """getpwnam, then getpwuid for an all-digit string (ps.c addelem_uid)."""
    names = {v: k for k, v in users.items()}

    def lookup(name: str) -> int | None:
        if name in names:
            return names[name]
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
        if not name.isdigit():
            return None
        if int(name) in users:
            return int(name)
        try:
            return pwd.getpwuid(int(name)).pw_uid
        except (KeyError, OverflowError):
            return None

    return lookup


def run_ps(args: list[str], table: dict[str, Any], my_uid: int, stdout_tty: bool,
           termwidth: int, utf8: bool) -> tuple[int, str, str]:
    """ps from its arguments and the emulator's reply: (status, stdout, stderr). Pure."""
    err: list[str] = []
    users = table_users(table)
    parser = PsParser(user_lookup(users), termwidth, stdout_tty, err)
    try:
        o = parser.parse(args)
    except Exit as exc:
        return exc.code, "".join(parser.out), "".join(err)
    rows = select_rows(table.get("rows", []), o, my_uid)
    ctx = Context(now=float(table.get("now", time.time())), users=users,
                  mem_kb=int(table.get("mem_kb", 0)), cflag=o.cflag, eflag=o.eflag, utf8=utf8,
                  termwidth=o.termwidth)
    text = format_table(o.columns, rows, ctx)
    if not rows:
        return 1, text, "".join(err)
    return o.status, text, "".join(err)


# ---- pgrep (pkill/pkill.c) ------------------------------------------------------------------
PGREP_USAGE = (
    "usage: pgrep [-Lfilnoqvx] [-d delim] [-F pidfile] [-G gid]\n"
    "             [-P ppid] [-U uid] [-g pgrp] [-t tty] [-u euid]\n"
    "             pattern ...\n"
)
PGREP_OPTS = "DF:G:ILP:U:ac:d:fg:ilnoqt:u:vx"


@dataclass
class PgrepOptions:
    patterns: list[str] = field(default_factory=list)
    full: bool = False  # -f
    longfmt: bool = False  # -l
    ancestors: bool = False  # -a
    fullmatch: bool = False  # -x
    icase: bool = False  # -i
    newest: bool = False
    oldest: bool = False
    quiet: bool = False
    inverse: bool = False
    delim: str = "\n"
    euids: list[int] = field(default_factory=list)
    ruids: list[int] = field(default_factory=list)
    rgids: list[int] = field(default_factory=list)
    ppids: list[int] = field(default_factory=list)
    pgrps: list[int] = field(default_factory=list)
    pidfile: str | None = None


def parse_pgrep(args: list[str], lookup_user: Callable[[str], int | None],
                my_pgrp: int) -> PgrepOptions:
    """getopt over pgrep's options; raises Exit(2) with the usage on stderr (list in err)."""
    o = PgrepOptions()
    criteria = False
    operands: list[str] = []
    try:
        for ch, optarg in getopt(args, PGREP_OPTS, operands):
            if ch in "Ic":
                raise _PgrepError(PGREP_USAGE, 2)  # -I is pkill's; -c is FreeBSD's class
            if ch == "t":
                raise _PgrepError(f"pgrep: No such tty: `{optarg}'\n", 2)  # not emulated
            if ch in _PGREP_FLAGS:
                setattr(o, _PGREP_FLAGS[ch], True)
            elif ch in _PGREP_LISTS:
                attr, kind = _PGREP_LISTS[ch]
                numbers = _numbers(optarg, lookup_user if kind == "user" else None, kind)
                if ch == "g":  # 0 is the caller's own process group
                    numbers = [my_pgrp if n == 0 else n for n in numbers]
                getattr(o, attr).extend(numbers)
            elif ch == "F":
                o.pidfile = optarg
            elif ch == "d":
                o.delim = optarg
            criteria = criteria or ch in "FGPUugno"
    except GetoptError as exc:
        raise _PgrepError(f"pgrep: {exc}\n{PGREP_USAGE}", 2) from None
    o.patterns = operands
    if o.patterns:
        criteria = True
    if not criteria:
        raise _PgrepError(PGREP_USAGE, 2)
    if o.newest and o.oldest:
        raise _PgrepError("pgrep: Options -n and -o are mutually exclusive\n", 3)
    return o


_PGREP_FLAGS = {"a": "ancestors", "f": "full", "i": "icase", "l": "longfmt", "n": "newest",
                "o": "oldest", "q": "quiet", "v": "inverse", "x": "fullmatch"}
_PGREP_LISTS = {"G": ("rgids", "group"), "P": ("ppids", None), "U": ("ruids", "user"),
                "u": ("euids", "user"), "g": ("pgrps", None)}


class _PgrepError(Exception):
    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text, self.code = text, code


def _group_gid(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _numbers(text: str, lookup: Callable[[str], int | None] | None,
             kind: str | None) -> list[int]:
    out = []
    for part in text.split(","):
        if part == "":
            raise _PgrepError(PGREP_USAGE, 2)
        try:
            out.append(int(part, 0))
            continue
        except ValueError:
            pass
        uid = lookup(part) if lookup is not None else _group_gid(part) if kind == "group" else None
        if uid is None:
            if kind is None:
                raise _PgrepError(PGREP_USAGE, 2)
            raise _PgrepError(f"pgrep: Unknown {kind} `{part}'\n", 2)
        out.append(uid)
    return out


def pgrep_match(rows: list[Row], o: PgrepOptions, my_pid: int, my_ppid: int,
                pidfile_pid: int | None = None) -> list[Row]:
    """The processes pgrep reports (pkill.c main), in table order. Pure."""
    flags = re.IGNORECASE if o.icase else 0
    try:
        regexes = [re.compile(p, flags) for p in o.patterns]
    except re.error as exc:
        raise _PgrepError(
            f"pgrep: Cannot compile regular expression `{exc.pattern!s}' ({exc})\n", 2) from None
    live = [r for r in rows if r["pid"] != my_pid]  # PSKIP: itself
    selected = {r["pid"]: False for r in live}
    for rx in regexes:
        for r in live:
            if o.full and r.get("argv") is not None:
                subject = " ".join(r["argv"])
            else:  # argv[0]'s basename, else p_comm (pkill.c, __APPLE__)
                argv = r.get("argv")
                subject = os.path.basename(argv[0]) if argv and argv[0] else ""
                subject = subject or r["comm"]
            # -x: the leftmost-longest POSIX match spans the subject, i.e. a full match
            if (rx.fullmatch(subject) if o.fullmatch else rx.search(subject)):
                selected[r["pid"]] = True
    for r in live:
        pid = r["pid"]
        if pidfile_pid is not None and pid != pidfile_pid:
            selected[pid] = False
            continue
        if ((o.ruids and r["ruid"] not in o.ruids) or (o.rgids and r["rgid"] not in o.rgids)
                or (o.euids and r["uid"] not in o.euids)
                or (o.ppids and r["ppid"] not in o.ppids)
                or (o.pgrps and r["pgid"] not in o.pgrps)):
            selected[pid] = False
            continue
        if not o.patterns:
            selected[pid] = True
    if not o.ancestors:  # itself and all of its ancestors are excluded (FACTS 5.3)
        by_pid = {r["pid"]: r for r in live}
        pid, seen = my_ppid, set()
        while pid and pid not in seen:
            seen.add(pid)
            selected[pid] = False
            parent = by_pid.get(pid)
            if parent is None:
                break
            pid = parent["ppid"]
    if o.newest or o.oldest:
        best: Row | None = None
        for r in live:
            if not selected[r["pid"]]:
                continue
            if best is not None:
                if r["start"] > best["start"]:
                    if o.oldest:
                        continue
                elif o.newest:
                    continue
            best = r
        selected = {pid: best is not None and pid == best["pid"] for pid in selected}
    return [r for r in live if selected[r["pid"]] != o.inverse]


def format_pgrep(rows: list[Row], o: PgrepOptions) -> str:
    """`PID`, with -l `PID name`, with -lf `PID args`, joined by the delimiter. Pure."""
    if o.quiet:
        return ""
    parts = []
    for r in rows:
        if o.longfmt and o.full and r.get("argv") is not None:
            parts.append(f"{r['pid']} {' '.join(r['argv'])}")
        elif o.longfmt:
            parts.append(f"{r['pid']} {r['comm']}")
        else:
            parts.append(str(r["pid"]))
    return o.delim.join(parts) + ("\n" if parts else "")


def run_pgrep(args: list[str], table: dict[str, Any], my_pid: int, my_ppid: int,
              my_pgrp: int) -> tuple[int, str, str]:
    try:
        o = parse_pgrep(args, user_lookup(table_users(table)), my_pgrp)
        pidfile_pid = None
        if o.pidfile is not None:
            try:
                with open(o.pidfile) as f:
                    pidfile_pid = int(f.readline().strip())
            except (OSError, ValueError):
                return 3, "", f"pgrep: Cannot open pidfile `{o.pidfile}'\n"
        chosen = pgrep_match(table.get("rows", []), o, my_pid, my_ppid, pidfile_pid)
    except _PgrepError as exc:
        return exc.code, "", exc.text
    return (0 if chosen else 1), format_pgrep(chosen, o), ""


def _signal_number(word: str) -> int | None:
    """pkill's leading `-SIG`: a number or a name, with or without SIG (pkill.c main)."""
    if word.isdigit():
        return int(word)
    name = word.upper()
    value = getattr(signal, name if name.startswith("SIG") else "SIG" + name, None)
    return int(value) if isinstance(value, signal.Signals) else None


def run_pkill(args: list[str], table: dict[str, Any], my_pid: int, my_ppid: int,
              my_pgrp: int, send: Callable[[int, int], None]) -> tuple[int, str, str]:
    """pgrep's selection, then `send(pid, signal)` to each (pkill.c): 0 some, 1 none, 3 error."""
    sig = int(signal.SIGTERM)
    if args and len(args[0]) > 1 and args[0][0] == "-":
        number = _signal_number(args[0][1:])
        if number is not None:
            sig, args = number, args[1:]
    try:
        o = parse_pgrep(args, user_lookup(table_users(table)), my_pgrp)
        chosen = pgrep_match(table.get("rows", []), o, my_pid, my_ppid)
    except _PgrepError as exc:
        return exc.code, "", exc.text.replace("pgrep", "pkill")
    err, status = [], 0 if chosen else 1
    for r in chosen:
        try:
            send(r["pid"], sig)
        except OSError as exc:
            err.append(f"pkill: signalling pid {r['pid']}: {exc.strerror}\n")
            status = 3
    return status, "", "".join(err)


# ---- lsof: a process's working directory (FACTS 5.4) ------------------------------------
# A Mac has no /proc/PID/cwd; `lsof -a -p PIDS -d cwd -Fn` is how it tells. Only that form
# is emulated: the processes' cwd, as field output (`p`, `f` always, `n` the path). lsof as
# a user lists only that user's processes; a pid it cannot list makes it exit 1 (lsof(8)
# DIAGNOSTICS), and so does any option beyond these.
LSOF_USAGE = "lsof: the testbed's lsof knows only: lsof -a -p PID[,PID] -d cwd -F[n] [-nPw]\n"


def run_lsof(args: list[str], table: dict[str, Any]) -> tuple[int, str, str]:
    """`lsof -a -p PIDS -d cwd -Fn` from the emulator's rows (each with `cwd`). Pure."""
    pids: list[int] = []
    fds: list[str] = []
    fields = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-a", "-n", "-P", "-w"):
            pass
        elif a in ("-p", "-d") and i + 1 < len(args):
            i += 1
            (pids if a == "-p" else fds).extend(_lsof_list(args[i], a == "-p"))
        elif a.startswith("-F") and set(a[2:]) <= set("npf0"):
            fields = True
        else:
            return 1, "", LSOF_USAGE
        i += 1
    if not pids or fds != ["cwd"] or not fields:
        return 1, "", LSOF_USAGE
    by_pid = {r["pid"]: r for r in table.get("rows", [])}
    out = []
    for pid in sorted(set(pids)):
        cwd = by_pid.get(pid, {}).get("cwd")
        if cwd is not None:
            out.append(f"p{pid}\nfcwd\nn{cwd}\n")
    return (0 if len(out) == len(set(pids)) else 1), "".join(out), ""


def _lsof_list(text: str, numeric: bool) -> list[Any]:
    parts = [p for p in text.split(",") if p]
    if numeric:
        return [int(p) for p in parts if p.isdigit()] if all(p.isdigit() for p in parts) else []
    return parts


# ---- the edges: socket, environment, streams ------------------------------------------------
def wants_env(prog: str, args: list[str]) -> bool:
    """Could these arguments show environments (`-E`, BSD-style `e`)? Only ps's can. Pure."""
    if prog != "ps":
        return False
    return any((a.startswith("-") and "E" in a) or (i == 0 and not a.startswith("-") and "e" in a)
               for i, a in enumerate(args))


def fetch_table(path: str, argv: list[str], env: bool = True,
                cwd: bool = False) -> dict[str, Any]:
    request = json.dumps({"ps": True, "argv": argv, "env": env, "cwd": cwd}) + "\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(request.encode("utf-8", "surrogateescape"))
        data = b""
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data.decode("utf-8", "surrogateescape"))
    if not isinstance(reply, dict) or "rows" not in reply:
        raise ValueError(str(reply.get("err", "malformed reply")).strip()
                         if isinstance(reply, dict) else "malformed reply")
    return reply


def _terminal_width() -> int:
    cols = os.environ.get("COLUMNS", "")
    if cols:
        digits = re.match(r"\s*[+-]?\d*", cols)
        text = digits.group(0).strip() if digits else ""
        return int(text) if text not in ("", "+", "-") else 0
    for fd in (1, 2, 0):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.columns:
            return size.columns - 1
    return 79


def _utf8_locale() -> bool:
    for key in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(key)
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return False


def main() -> int:
    name = os.path.basename(sys.argv[0])
    prog = name if name in ("pgrep", "pkill", "lsof") else "ps"
    path = os.environ.get("SVCCTL_LAUNCHD_SOCKET", DEFAULT_SOCKET)
    args = sys.argv[1:]
    try:
        table = fetch_table(path, [sys.argv[0], *args], wants_env(prog, args), prog == "lsof")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sys.stderr.write(f"{prog}: cannot read the process table: {reason}\n")
        return 3 if prog in ("pgrep", "pkill") else 1
    if prog == "lsof":
        rc, out, err = run_lsof(args, table)
    elif prog == "pkill":
        rc, out, err = run_pkill(args, table, os.getpid(), os.getppid(), os.getpgrp(), os.kill)
    elif prog == "pgrep":
        rc, out, err = run_pgrep(args, table, os.getpid(), os.getppid(), os.getpgrp())
    else:
        rc, out, err = run_ps(args, table, os.getuid(), sys.stdout.isatty(),
                              _terminal_width(), _utf8_locale())
    sys.stderr.buffer.write(err.encode("utf-8", "surrogateescape"))
    sys.stderr.flush()
    sys.stdout.buffer.write(out.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
