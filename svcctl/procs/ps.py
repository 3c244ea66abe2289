"""The `ps` probe and its parser, for BSD ps (macOS) and procps (Linux) (FACTS 5.2).

Both print `lstart` as the same 24-character `%c` date under LC_ALL=C. They differ in
what follows it: BSD ps left-justifies lstart in a 28-column field and then prints the
one-space column separator, so five spaces stand between the date and the command;
procps prints the separator only. The parser reads lstart as the fixed 24 characters and
strips exactly that gap, never the command's own leading characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from pathlib import PurePosixPath

from svcctl.errors import ParseError
from svcctl.model import ProcInfo, ServiceSpec

PS_FIELDS = "pid=,ppid=,uid=,user=,pgid=,lstart=,command="

LSTART_LEN = 24  # `%a %b %e %H:%M:%S %Y` in the C locale
BSD_LSTART_WIDTH = 28  # adv_cmds ps/keyword.c: lstart, LJUST, width 28 (FACTS 5.2)
BSD_GAP = " " * (BSD_LSTART_WIDTH - LSTART_LEN + 1)  # padding, then the column separator
PROCPS_GAP = " "


def ps_argv() -> list[str]:
    # LC_ALL=C pins lstart's `%c` layout; -ww: never truncate commands (FACTS 5.2).
    # -ax works on BSD ps and procps alike; empty headers suppress the header line.
    # TZ=UTC0: lstart carries no zone; read it as UTC whatever the host's zone is.
    return ["env", "LC_ALL=C", "TZ=UTC0", "ps", "-axww", "-o", PS_FIELDS]


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_LSTART = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})")
# pid, ppid, uid, user, pgid, then the one separator before lstart
_HEAD = re.compile(r"\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+(\d+) ")


def parse_lstart(raw: str) -> datetime | None:
    """The 24-character lstart date, or None when it names no real date."""
    m = _LSTART.fullmatch(raw)
    month = _MONTHS.get(m.group(1)) if m else None
    if m is None or month is None:
        return None
    try:
        day, hour, minute, second, year = (int(m.group(i)) for i in (2, 3, 4, 5, 6))
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def column_gap(tails: list[str]) -> str:
    """What separates lstart from the command in one ps output: BSD_GAP or PROCPS_GAP.

    `tails` is the text after each row's date. Every BSD row has the full gap; a procps
    row has a single space, so one row without the full gap decides procps. (A procps
    output in which *every* command starts with four spaces cannot be told apart; a
    full `ps -ax` always lists ps itself.) A row with no command says nothing: its
    trailing spaces may have been trimmed on the way.
    """
    evidence = [t for t in tails if t.strip()]
    return BSD_GAP if all(t.startswith(BSD_GAP) for t in evidence) else PROCPS_GAP


def parse_ps(text: str) -> list[ProcInfo]:
    """Rows of `ps_argv()` from BSD ps (macOS) or procps (Linux)."""
    rows: list[tuple[re.Match[str], str, str]] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        m = _HEAD.match(line)
        raw = line[m.end() : m.end() + LSTART_LEN] if m else ""
        if m is None or _LSTART.fullmatch(raw) is None:
            raise ParseError(f"ps line {n}: unexpected row {line[:80]!r}")
        tail = line[m.end() + LSTART_LEN :]
        if tail and not tail.startswith(" "):
            raise ParseError(f"ps line {n}: no column gap after the start time {line[:80]!r}")
        rows.append((m, raw, tail))
    gap = column_gap([tail for _, _, tail in rows])
    out: list[ProcInfo] = []
    for m, raw, tail in rows:
        command = tail[len(gap) :] if tail.strip() else ""
        pid, ppid, uid, pgid = (int(m.group(i)) for i in (1, 2, 3, 5))
        out.append(ProcInfo(pid, ppid, uid, m.group(4), pgid, parse_lstart(raw), raw, command))
    return out


# The marks between the probe's parts (svcctl/scripts/ps_probe.sh prints them): no ps row
# can read so, each starts with its pid
CWD_MARK = "--- cwd"
REAL_MARK = "--- real"


@dataclass(frozen=True)
class Probe:
    """What the probe's ps call tells: the rows, each with its cwd where lsof told it,
    and the real path of each file path it resolved (symlinks followed)."""

    procs: list[ProcInfo]
    real: dict[str, str]


def parse_probe(text: str) -> Probe:
    """What svcctl/scripts/ps_probe.sh printed (svcctl.scripts.probe.probe_argv)."""
    rows, _, rest = text.partition("\n" + CWD_MARK + "\n")
    cwd_part, _, real_part = rest.partition(REAL_MARK + "\n")
    procs = parse_ps(rows)
    cwds = parse_lsof_cwd(cwd_part)
    procs = [replace(p, cwd=cwds[p.pid]) if p.pid in cwds else p for p in procs]
    return Probe(procs, parse_real(real_part))


def parse_real(text: str) -> dict[str, str]:
    """`r<path>` / `R<real path>` pairs: path -> its real path. An unpaired line is dropped."""
    out: dict[str, str] = {}
    for first, second in pairwise(text.split("\n")):
        if first[:1] == "r" and second[:1] == "R" and second[1:2] == "/":
            out[first[1:]] = second[1:]
    return out


def parse_lsof_cwd(text: str) -> dict[int, str]:
    """`lsof -Fn -d cwd` field output (`p<pid>`, `f<fd>`, `n<path>`): pid -> cwd. A pid
    without a whole `fcwd` + `n` pair is left out (unknown, never guessed)."""
    out: dict[int, str] = {}
    pid: int | None = None
    fd = ""
    for line in text.split("\n"):
        tag, value = line[:1], line[1:]
        if tag == "p":
            pid = int(value) if value.isdigit() else None
            fd = ""
        elif tag == "f":
            fd = value
        elif tag == "n" and pid is not None and fd == "cwd" and value.startswith("/"):
            out[pid] = value
    return out


_INTERPRETER_NAME = re.compile(r"(python|ruby|perl|node|osascript|sh|bash|zsh|dash|ksh|fish)"
                               r"[\d.]*", re.IGNORECASE)


def cwd_names(services: Sequence[ServiceSpec]) -> list[str]:
    """Basenames worth a cwd lookup: each service's script operands, and its executable when
    that is not an interpreter (`./shiva`), as a copy started from a relative path shows them.
    A name with white space cannot be told apart in ps's row, and is left to the rule's
    `hidden` fallback."""
    names: set[str] = set()
    for svc in services:
        words = list(svc.runs or svc.program)
        if words and PurePosixPath(words[0]).name == "env":  # env execs what follows
            words = words[1:]
            while words and (words[0].startswith("-") or "=" in words[0]):
                words = words[1:]
        for i, word in enumerate(words):
            name = PurePosixPath(word).name
            if word.startswith("-") or "=" in word or not name or any(c.isspace() for c in name):
                continue
            if i == 0 and _INTERPRETER_NAME.fullmatch(name):
                continue
            names.add(name)
    return sorted(names)
