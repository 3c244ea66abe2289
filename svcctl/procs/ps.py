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


# The probe's ps, plus what resolving paths needs (issue 10), in the same remote call, so
# audit keeps one round trip per host. POSIX sh, BSD awk, readlink and lsof (FACTS 5.4).
# - cwd: a relative script operand (`cd ~/shiva && python3 main.py`) means nothing without
#   the process's working directory, which a Mac tells only through lsof (no /proc). Asked
#   for the rows with a relative word named like a service's script ($1, space-separated):
#   this script and the shells above it aside, since their arguments carry the names.
# - real paths: a service's files ($2...) and the absolute words naming them in any row,
#   each with its symlinks resolved (`current/main.py` and `releases/7/main.py` are one
#   file). A path the SSH user may not resolve is left out, and compared as written.
CWD_MARK = "--- cwd"  # no ps row can read so: each starts with its pid
REAL_MARK = "--- real"
_PROBE = r"""
out=$(env LC_ALL=C TZ=UTC0 ps -axww -o pid=,ppid=,uid=,user=,pgid=,lstart=,command=) || exit
printf '%s\n' "$out"
[ "$#" -gt 0 ] || exit 0
names=$1; shift
pick() {
  printf '%s\n' "$out" | awk -v names=" $names " -v self="$$" -v mode="$1" '
  { up[$1] = $2; row[NR] = $0 }
  END {
    for (p = self; p != "" && p > 1 && !(p in mine); p = up[p]) mine[p] = 1
    for (n = 1; n <= NR; n++) {
      $0 = row[n]
      if ($1 in mine) continue
      for (i = 11; i <= NF; i++) {
        w = $i; b = w; sub(/.*\//, "", b)
        if (!index(names, " " b " ")) continue
        if (mode == "pids" && substr(w, 1, 1) != "/" && substr(w, 1, 1) != "-") {
          printf "%s%s", sep, $1; sep = ","; break
        }
        if (mode == "paths" && substr(w, 1, 1) == "/") print w
      }
    }
  }'
}
real() {
  p=$1; n=0
  while [ -L "$p" ] && [ "$n" -lt 16 ]; do
    t=$(readlink "$p") || return 1
    case $t in /*) p=$t ;; *) p=${p%/*}/$t ;; esac
    n=$((n + 1))
  done
  d=${p%/*}
  d=$(cd -P "${d:-/}" 2>/dev/null && pwd -P) || return 1
  printf '%s/%s' "${d%/}" "${p##*/}"
}
pids=$(pick pids)
printf '%s\n' '--- cwd'
[ -z "$pids" ] || lsof -a -p "$pids" -d cwd -Fn 2>/dev/null
printf '%s\n' '--- real'
{ [ "$#" -gt 0 ] && printf '%s\n' "$@"; pick paths; } | sort -u | while IFS= read -r p; do
  r=$(real "$p") && [ "$r" != "$p" ] && printf 'r%s\nR%s\n' "$p" "$r"
done
exit 0
"""


@dataclass(frozen=True)
class Probe:
    """What the probe's ps call tells: the rows, each with its cwd where lsof told it,
    and the real path of each file path it resolved (symlinks followed)."""

    procs: list[ProcInfo]
    real: dict[str, str]


def probe_argv(names: Sequence[str], paths: Sequence[str] = ()) -> list[str]:
    """ps's rows; then lsof's cwd for rows with a relative word in `names`; then the real
    path of `paths` and of the absolute words in `names` any row shows."""
    if not names:
        return ["sh", "-c", _PROBE, "sh"]
    return ["sh", "-c", _PROBE, "sh", " ".join(sorted(set(names))), *sorted(set(paths))]


def parse_probe(text: str) -> Probe:
    """`probe_argv`'s output."""
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
