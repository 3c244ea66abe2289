"""Which process rows are a service's instances, and which are decoys.

## The instance rule (decoys never count)

A process P is an *instance* of service S when all of these hold:

1. S's `match` regex finds a match in P's full command line.
2. P runs S's executable: the basename of P's argv[0], compared as an *executable family*
   (case-folded; an interpreter's version suffix dropped, so `python3.11`, `python3` and
   macOS's framework `Python` are all `python`), equals S's program's. A leading
   `/usr/bin/env [-opts] [VAR=x]` in S's program is skipped, as `env` execs.
3. If that executable is a script interpreter (see `_INTERPRETERS`), P's *script operand*
   (its first non-option argument, skipping the interpreter's value-taking options; for
   python `-m mod`) has the same basename as S's. Inline code (`sh -c`, `python -c`,
   `perl -e`, ...) is never an instance unless S itself runs inline code.
4. A shebang program (program[0] is not an interpreter) also matches an interpreter
   process whose script operand has program[0]'s basename: that is what the kernel runs.

Everything else whose command line matches is a *decoy*: the probe (`ps`, the `sh -c`
batch script), `grep`/`pgrep -f`, `tail -f x.log`, editors and pagers, an SSH session shell
(`bash -c '... main.py'`) and any interpreter running a different script. A row whose
arguments ps could not read (`[name]`, `(name)`, FACTS 5.2) and whose name is S's
executable (or, at 16 characters, its start: macOS cuts the name there) is *hidden*: it
may be an instance, so the view is partial (FIELD K).

Managed vs stray is decided in `svcctl.procs.classify`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from svcctl.model import ProcInfo, ServiceSpec

# family -> (inline-code flags, options that take a separate value)
_INTERPRETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "python": (frozenset({"-c"}), frozenset({"-W", "-X", "-Q"})),
    "ruby": (frozenset({"-e"}), frozenset({"-I", "-r", "-C", "-E"})),
    "perl": (frozenset({"-e", "-E"}), frozenset({"-I", "-M", "-m"})),
    "node": (
        frozenset({"-e", "--eval", "-p", "--print"}),
        frozenset({"-r", "--require", "--import", "--loader"}),
    ),
    "osascript": (frozenset({"-e"}), frozenset({"-l"})),
    **{
        sh: (frozenset({"-c"}), frozenset({"-o", "+o", "-O", "+O"}))
        for sh in ("sh", "bash", "zsh", "dash", "ksh", "fish")
    },
}
MAXCOMLEN = 16  # macOS p_comm: what `(comm)` shows of the executable's name
INLINE = "\0inline"  # sentinel operand: the interpreter runs code from its arguments


def executable_family(path: str) -> str:
    base = PurePosixPath(path).name.lower()
    bare = re.sub(r"[\d.]+$", "", base)
    return bare if bare in _INTERPRETERS else base


def script_operand(family: str, args: Sequence[str]) -> str | None:
    """The script an interpreter runs, `-m mod`, INLINE, or None when there is none."""
    inline, takes_value = _INTERPRETERS[family]
    i = 0
    while i < len(args):
        a = args[i]
        if a in inline or (re.fullmatch(r"-[A-Za-z]+", a) and f"-{a[-1]}" in inline):
            return INLINE  # `-c`, and clusters ending in it such as `bash -lc`
        if family == "python" and a == "-m":
            return f"-m {args[i + 1]}" if i + 1 < len(args) else None
        if a == "--":
            return args[i + 1] if i + 1 < len(args) else None
        if a in takes_value:
            i += 2
            continue
        if a.startswith(("-", "+")) and len(a) > 1:
            i += 1
            continue
        return a
    return None


def _effective_program(program: Sequence[str]) -> tuple[str, list[str]]:
    argv = list(program)
    if len(argv) > 1 and PurePosixPath(argv[0]).name == "env":  # env execs (rule 2)
        rest = argv[1:]
        while len(rest) > 1 and (rest[0].startswith("-") or "=" in rest[0]):
            rest = rest[1:]
        argv = rest
    return argv[0], argv[1:]


def _operand_key(operand: str) -> str:
    return operand if operand.startswith("-m ") else PurePosixPath(operand).name


@dataclass(frozen=True)
class Matcher:
    pattern: re.Pattern[str]
    executable: str  # executable family of the program
    script: str | None  # operand key the interpreter must run (rules 3, 4)
    inline: bool  # the service's own program runs inline code
    shebang: bool  # program[0] is a script run through its #! line (rule 4)
    program0: str


def derive_match(program: Sequence[str]) -> str:
    """Default `match`: the script's (or binary's) parent/basename as a whole word."""
    prog0, args = _effective_program(program)
    family = executable_family(prog0)
    target = prog0
    if family in _INTERPRETERS:
        op = script_operand(family, args)
        if op is not None and op.startswith("-m "):
            return r"-m\s+" + re.escape(op[3:]) + r"(?=\s|$)"
        target = op if op not in (None, INLINE) else prog0
    parts = PurePosixPath(target).parts
    tail = "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] != "/" else parts[-1]
    return r"(?:^|[\s/])" + re.escape(tail) + r"(?=\s|$)"


def matcher_for(service: ServiceSpec) -> Matcher:
    pattern = service.match or re.compile(derive_match(service.program))
    prog0, args = _effective_program(service.program)
    family = executable_family(prog0)
    if family in _INTERPRETERS:
        op = script_operand(family, args)
        script = None if op in (None, INLINE) else _operand_key(op)
        return Matcher(pattern, family, script, op == INLINE, False, prog0)
    return Matcher(pattern, family, PurePosixPath(prog0).name, False, True, prog0)


class Match(StrEnum):
    INSTANCE = "instance"
    DECOY = "decoy"  # the command line matches, but it is not the service running
    HIDDEN = "hidden"  # ps could not read its arguments; it may be an instance
    NONE = "none"


def _argv(command: str, program0: str) -> list[str]:
    # ps joins argv with spaces; keep a program path that itself contains spaces whole
    if command == program0 or command.startswith(program0 + " "):
        return [program0, *command[len(program0) :].split()]
    return command.split()


def _hidden_name_fits(comm: str, m: Matcher) -> bool:
    name = executable_family(comm)
    if name == m.executable or (m.shebang and name in _INTERPRETERS):
        return True
    # BSD ps shows p_comm, cut to MAXCOMLEN (16) characters (FACTS 5.2)
    return len(comm) >= MAXCOMLEN and PurePosixPath(m.program0).name.startswith(comm)


def match_process(proc: ProcInfo, m: Matcher) -> Match:
    if proc.args_hidden:
        return Match.HIDDEN if _hidden_name_fits(proc.command[1:-1], m) else Match.NONE
    if not m.pattern.search(proc.command):
        return Match.NONE
    argv = _argv(proc.command, m.program0)
    family = executable_family(argv[0]) if argv else ""
    if family not in _INTERPRETERS:
        return Match.INSTANCE if family == m.executable else Match.DECOY
    if family != m.executable and not m.shebang:
        return Match.DECOY
    op = script_operand(family, argv[1:])
    if op == INLINE:
        return Match.INSTANCE if m.inline and family == m.executable else Match.DECOY
    if family == m.executable and m.script is None and not m.shebang:
        return Match.INSTANCE if not m.inline else Match.DECOY
    return Match.INSTANCE if op is not None and _operand_key(op) == m.script else Match.DECOY
