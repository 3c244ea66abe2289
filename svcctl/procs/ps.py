"""The `ps` probe and its parser, for BSD ps (macOS) and procps (Linux) (FACTS 5.2)."""

from __future__ import annotations

import re
from datetime import datetime

from svcctl.errors import ParseError
from svcctl.model import ProcInfo

PS_FIELDS = "pid=,ppid=,uid=,user=,pgid=,lstart=,command="


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
_LSTART = r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})"
_PS_ROW = re.compile(r"\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+(\d+)\s+(" + _LSTART + r")(?: (.*))?")


def _started(m: re.Match[str]) -> datetime | None:
    month = _MONTHS.get(m.group(7))
    if month is None:
        return None
    try:
        day, hour, minute, second, year = (int(m.group(i)) for i in (8, 9, 10, 11, 12))
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def parse_ps(text: str) -> list[ProcInfo]:
    """Rows of `ps_argv()` from BSD ps (macOS) or procps (Linux)."""
    out: list[ProcInfo] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        m = _PS_ROW.fullmatch(line)
        if m is None:
            raise ParseError(f"ps line {n}: unexpected row {line[:80]!r}")
        pid, ppid, uid, pgid = (int(m.group(i)) for i in (1, 2, 3, 5))
        out.append(
            ProcInfo(pid, ppid, uid, m.group(4), pgid, _started(m), m.group(6), m.group(13) or "")
        )
    return out
