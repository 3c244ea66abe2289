"""Parsers for the legacy `launchctl list` table and `list <label>` dictionary (FACTS 3.1, 3.2).

`list` is the only launchctl output Apple promises to keep stable (FACTS 2.8).
"""

from __future__ import annotations

import re

from svcctl.errors import ParseError
from svcctl.model import Domain, JobState, ListEntry


def to_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ParseError(f"{what}: expected an integer, got {value.strip()[:60]!r}") from None


def decode_wait_status(raw: int) -> tuple[int | None, int | None]:
    """Raw wait(2) status, as `list <label>` prints LastExitStatus (FACTS 3.2) -> (code, signal)."""
    if raw < 0:  # not a wait status; some tools hand us the decoded `-signal` form
        return None, -raw
    if raw & 0x7F == 0:
        return (raw >> 8) & 0xFF, None
    return None, raw & 0x7F


def concerns(line: str, label: str | None) -> bool:
    """Could an unrecognised line be about `label`? Without a label, any line could.

    launchctl prints a label verbatim on its own row, so a row that does not contain the
    label's text cannot be that label's; one that does (even as part of a longer label)
    leaves doubt, and doubt is a parse error: the caller reports `uninspectable`.
    """
    return label is None or label in line


# --- launchctl list (FACTS 3.1) --------------------------------------------------------


def _list_status(raw: str, where: str) -> int | None:
    return None if raw == "-" else to_int(raw, where)


def _list_row(line: str, n: int) -> ListEntry:
    parts = line.split("\t", 2) if line.count("\t") >= 2 else line.split(None, 2)
    if len(parts) != 3 or not parts[2].strip():
        raise ParseError(f"launchctl list line {n}: expected PID, status, label: {line[:80]!r}")
    pid_raw, status_raw = parts[0].strip(), parts[1].strip()
    pid = None if pid_raw == "-" else to_int(pid_raw, f"launchctl list line {n} PID")
    status = _list_status(status_raw, f"launchctl list line {n} status")
    return ListEntry(parts[2].strip(), pid, status, status_raw)


def parse_list(text: str, label: str | None = None) -> list[ListEntry]:
    """`PID<TAB>Status<TAB>Label` rows; spaces tolerated as pyinfra does. Status is decoded.

    With `label`, a row this parser does not recognise is skipped when it does not
    contain that label's text (it cannot be that label's row); without, it is an error.
    """
    out: list[ListEntry] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip() or (not out and line.split()[:1] == ["PID"]):
            continue
        try:
            out.append(_list_row(line, n))
        except ParseError:
            if concerns(line, label):
                raise
    return out


# --- launchctl list <label> (FACTS 3.2): a NeXT-style dictionary -----------------------

_MAX_DEPTH = 32
# launchctl prints strings verbatim, unescaped (one value per line), so a string ends at
# the quote followed by `;` and the end of the line (a value) or by ` =` (a key).
_STRING_END = re.compile(r'"(?=[ \t]*(?:;[ \t]*(?:\n|$)|=))')


class _NeXTReader:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def fail(self, what: str) -> ParseError:
        line = self.s.count("\n", 0, self.i) + 1
        return ParseError(f"launchctl list <label>: line {line}: {what}")

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def expect(self, ch: str) -> None:
        self.skip()
        if not self.s.startswith(ch, self.i):
            raise self.fail(f"expected {ch!r}")
        self.i += 1

    def value(self, depth: int) -> object:
        if depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")
        self.skip()
        c = self.s[self.i : self.i + 1]
        if c == "{":
            return self.mapping(depth)
        if c == "(":
            return self.array(depth)
        if c == '"':
            return self.string()
        m = re.compile(r"[^\s;=(){}\"]+").match(self.s, self.i)
        if m is None:
            raise self.fail("expected a value")
        self.i = m.end()
        word = m.group()
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        return {"true": True, "false": False}.get(word, word)

    def string(self) -> str:
        self.expect('"')
        m = _STRING_END.search(self.s, self.i)
        if m is None:
            raise self.fail("unterminated string")
        text, self.i = self.s[self.i : m.start()], m.end()
        return text

    def mapping(self, depth: int) -> dict[str, object]:
        self.expect("{")
        out: dict[str, object] = {}
        while True:
            self.skip()
            if self.s.startswith("}", self.i):
                self.i += 1
                return out
            key = self.string()
            self.expect("=")
            out[key] = self.value(depth + 1)
            self.expect(";")

    def array(self, depth: int) -> list[object]:
        self.expect("(")
        out: list[object] = []
        while True:
            self.skip()
            if self.s.startswith(")", self.i):
                self.i += 1
                return out
            out.append(self.value(depth + 1))
            self.expect(";")


def parse_next_dict(text: str) -> dict[str, object]:
    """Parse the old-style dictionary `launchctl list <label>` prints."""
    r = _NeXTReader(text)
    r.skip()
    top = r.mapping(0)
    r.skip()
    if r.s.startswith(";", r.i):
        r.i += 1
    r.skip()
    if r.i != len(r.s):
        raise r.fail("trailing text after the dictionary")
    return top


def _opt(raw: dict[str, object], key: str, kind: type) -> object:
    v = raw.get(key)
    if v is not None and (not isinstance(v, kind) or (kind is int and isinstance(v, bool))):
        raise ParseError(f"launchctl list <label>: {key}: expected {kind.__name__}, got {v!r}")
    return v


def parse_list_label(text: str, domain: Domain | None = None) -> JobState:
    raw = parse_next_dict(text)
    label, pid = _opt(raw, "Label", str), _opt(raw, "PID", int)
    status, program = _opt(raw, "LastExitStatus", int), _opt(raw, "Program", str)
    args_raw, on_demand = _opt(raw, "ProgramArguments", list), _opt(raw, "OnDemand", bool)
    if not isinstance(label, str):
        raise ParseError("launchctl list <label>: no Label in the dictionary")
    args = tuple(str(a) for a in args_raw) if isinstance(args_raw, list) else ()
    code, sig = decode_wait_status(status) if isinstance(status, int) else (None, None)
    out, err = _opt(raw, "StandardOutPath", str), _opt(raw, "StandardErrorPath", str)
    return JobState(
        label=label,
        source="list",
        domain=domain,
        pid=pid if isinstance(pid, int) else None,
        last_exit_code=code,
        last_exit_raw=None if status is None else str(status),
        last_signal=sig,
        program=program if isinstance(program, str) else (args[0] if args else None),
        arguments=args,
        on_demand=on_demand if isinstance(on_demand, bool) else None,
        stdout_path=out if isinstance(out, str) else None,
        stderr_path=err if isinstance(err, str) else None,
    )
