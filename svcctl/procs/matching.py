"""Which process rows are a service's instances, and which are decoys.

## The instance rule: what a process runs, not how its command line reads (issue 10)

A service S's *identity* is what it runs: `runs` when the inventory sets it (a wrapper
that execs, `run.sh` -> `exec python3 main.py`), else `program`, after a leading
`/usr/bin/env [-opts] [VAR=x]` (env execs). A process P is an *instance* of S when P runs
that identity:

1. A binary (S's executable is not a script interpreter): P's argv[0] *resolves* to S's
   executable. An absolute path is normalised (`posixpath.normpath`: `.` and `..`
   segments, doubled slashes); `./x` and `dir/x` are joined to P's working directory; a
   bare name (found through PATH) compares by basename.
2. An interpreter (see `_INTERPRETERS`; `python3.11`, `python3` and macOS's framework
   `Python` are all the family `python`): P's interpreter family is S's, and P's *script
   operand* (its first non-option argument, skipping the interpreter's value-taking
   options such as `-X opt`, `-W x`) resolves to S's script. A relative operand resolves
   against P's working directory; S's own relative operand against S's
   `working_directory`, else `/`, launchd's default (FACTS 4 WorkingDirectory). `-m mod`
   compares module names. Inline code (`sh -c`, `python -c`, `perl -e`, ...) is an
   instance only of a service whose own program is the same inline code.
3. A shebang program (S's executable is not an interpreter) also matches an interpreter
   process whose script operand resolves to S's executable: that is what the kernel runs.
4. `match`, when set, narrows: P must also match the regex somewhere in its command line.
   It never makes a process that runs something else an instance.

Paths are compared after normalisation, and through the real paths the probe resolved on
the host (`Matcher.real`: symlinks followed, for the service's files and the absolute
paths that name them); the pure core never sees the host's filesystem itself. `exec -a`
renames argv[0].

A process that may be an instance but cannot be told is *hidden*: a row whose arguments ps
could not read (`[name]`, `(name)`, FACTS 5.2) and whose name is S's executable (or, at 16
characters, its start: macOS cuts the name there); and a relative path whose basename is
S's when P's working directory is unknown (the probe may not inspect another user's
process, FACTS 5.4 lsof). Hidden rows make the view partial (FIELD K), and are never
signalled. A row that names S's script or executable in its command line but runs
something else (`tail -f main.py.log`, `grep`, an editor, the probe's own `sh -c`, an SSH
shell, a log shipper given S's path as an argument) is a *decoy*.

## Releases (issue 13)

A service with a `release` names `{{ release }}` in what it runs (`{{ release }}/main.py`);
the plist names the concrete `<root>/releases/<id>`, but audit and deploy match with the
templated spec, which does not know the id. So the token stands for *any* release: a
path matches when, component by component, it is `<root>/releases/<id>` (an id as
`RELEASE_ID` reads it, never `.incoming-<id>`) or `<root>/current`, then the rest of the
service's path; as written, or by the real path the probe resolved (a link elsewhere into
a release). A sibling root (`/Users/ops/shiva2`) never matches: no substring is compared.
`release_of` tells the release an instance runs: the id, or for `current/...` the id the
probe resolved `current` to, else `current`.

Managed vs stray is decided in `svcctl.procs.classify`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from svcctl.model import RELEASE_TOKEN, ProcInfo, ServiceSpec

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
LAUNCHD_CWD = "/"  # a job's working directory without WorkingDirectory (FACTS 4)
# what `{{ release }}` becomes in a release service's matcher: `<root>/` + RELEASE_MARK. No
# path a ps row or the probe prints holds a NUL, so it is never taken for a real name.
RELEASE_MARK = "\0release"
RELEASE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # an id: never `.incoming-<id>`
CURRENT = "current"


def executable_family(path: str) -> str:
    base = posixpath.basename(path).lower()
    bare = re.sub(r"[\d.]+$", "", base)
    return bare if bare in _INTERPRETERS else base


def _operand_at(family: str, args: Sequence[str]) -> tuple[str | None, int]:
    """The operand and the index of the word it starts at (for INLINE, the flag's)."""
    inline, takes_value = _INTERPRETERS[family]
    i = 0
    while i < len(args):
        a = args[i]
        if a in inline or (re.fullmatch(r"-[A-Za-z]+", a) and f"-{a[-1]}" in inline):
            return INLINE, i  # `-c`, and clusters ending in it such as `bash -lc`
        if family == "python" and a == "-m":
            return (f"-m {args[i + 1]}", i) if i + 1 < len(args) else (None, i)
        if a == "--":
            return (args[i + 1], i + 1) if i + 1 < len(args) else (None, i)
        if a in takes_value:
            i += 2
            continue
        if a.startswith(("-", "+")) and len(a) > 1:
            i += 1
            continue
        return a, i
    return None, i


def script_operand(family: str, args: Sequence[str]) -> str | None:
    """The script an interpreter runs, `-m mod`, INLINE, or None when there is none."""
    return _operand_at(family, args)[0]


def _effective_program(program: Sequence[str]) -> tuple[str, list[str]]:
    argv = list(program)
    if len(argv) > 1 and posixpath.basename(argv[0]) == "env":  # env execs
        rest = argv[1:]
        while len(rest) > 1 and (rest[0].startswith("-") or "=" in rest[0]):
            rest = rest[1:]
        argv = rest
    return argv[0], argv[1:]


def resolve(path: str, cwd: str | None) -> str | None:
    """`path` as the absolute, normalised path it names from `cwd`; None when it cannot
    be told (relative, and the working directory is unknown). Symlinks are the probe's
    (`Matcher.real`)."""
    if path.startswith("/"):
        return posixpath.normpath(path)
    if cwd is None or not cwd.startswith("/"):
        return None
    return posixpath.normpath(posixpath.join(cwd, path))


@dataclass(frozen=True)
class Matcher:
    """A service's identity, resolved: what its instances run."""

    pattern: re.Pattern[str] | None  # `match`: narrows, never widens (rule 4)
    executable: str  # executable family of what the service runs
    exe_path: str  # that executable, normalised (absolute), or a bare name (env + PATH)
    script: str | None  # the resolved script path, or `-m mod`, the interpreter runs
    inline: str | None  # the inline code the service's own program runs (rule 2)
    shebang: bool  # the executable is not an interpreter: a binary or a #! script
    program0: str  # the executable as written, kept whole when it holds spaces
    words: tuple[str, ...]  # paths with spaces, kept whole when a ps row is split
    # real paths the probe resolved on the host (symlinks followed): two paths name one
    # file when their real paths are equal; a path it could not resolve stays as written
    real: Mapping[str, str] = field(default_factory=dict)
    release_root: str | None = None  # the service's release root, normalised (issue 13)

    def same(self, path: str, target: str) -> bool:
        if RELEASE_MARK in target:
            return self.release_in(path, target) is not None
        return self.real.get(path, path) == self.real.get(target, target)

    @property
    def current_release(self) -> str | None:
        """The release `<root>/current` links to, by the real path the probe resolved for
        the service's file through it (`identity_paths`); None when untold."""
        for target in (self.script, self.exe_path):
            if target is not None and RELEASE_MARK in target:
                rid = self.release_in(target.replace(RELEASE_MARK, CURRENT), target)
                if rid is not None and rid != CURRENT:
                    return rid
        return None

    def release_in(self, path: str, target: str) -> str | None:
        """The release `path` names when it is the templated `target` with RELEASE_MARK
        standing for one release; None when it is not. As written first, then its real
        path; `current` is told by the id the probe resolved it to, when it did."""
        written = _release_part(path, target)
        real = self.real.get(path)
        resolved = _release_part(real, target) if real is not None else None
        if written is None:
            return resolved
        if written == CURRENT and resolved is not None and resolved != CURRENT:
            return resolved
        return written

    @property
    def names(self) -> tuple[str, ...]:
        """Basenames (or the module) whose mention in a command line makes a decoy."""
        key = self.script if self.script is not None else self.exe_path
        if key.startswith("-m "):
            return (key[3:],)
        return tuple({posixpath.basename(key), posixpath.basename(self.exe_path)})


def _release_part(path: str, target: str) -> str | None:
    """`target` is `<prefix>RELEASE_MARK<suffix>`: the id when `path` is `<prefix>
    releases/<id><suffix>`, CURRENT for `<prefix>current<suffix>`, else None. `prefix` ends
    with `/` and `suffix` is empty or starts with one, so only whole components match."""
    prefix, _, suffix = target.partition(RELEASE_MARK)
    if not path.startswith(prefix) or not path.endswith(suffix):
        return None
    if len(prefix) + len(suffix) > len(path):
        return None
    middle = path[len(prefix) : len(path) - len(suffix)]
    if middle == CURRENT:
        return CURRENT
    head, sep, rid = middle.partition("/")
    return rid if head == "releases" and sep and RELEASE_ID.fullmatch(rid) else None


def _release_spec(service: ServiceSpec) -> tuple[ServiceSpec, str | None]:
    """The service with `{{ release }}` written as `<root>/RELEASE_MARK`, and its root."""
    if service.release is None:
        return service, None
    root = posixpath.normpath(service.release.root)
    at = root.rstrip("/") + "/" + RELEASE_MARK

    def put(word: str) -> str:
        return word.replace(RELEASE_TOKEN, at)

    return replace(
        service,
        program=tuple(put(w) for w in service.program),
        runs=tuple(put(w) for w in service.runs) if service.runs is not None else None,
        working_directory=put(service.working_directory)
        if service.working_directory is not None else None,
    ), root


def _inline_code(args: Sequence[str], at: int) -> str:
    return " ".join(args[at + 1 :])


def identity_paths(service: ServiceSpec) -> list[str]:
    """The absolute files the service runs (its executable, its script): the paths whose
    real paths the probe resolves on the host."""
    m = matcher_for(service)
    paths = [p for p in (m.exe_path, m.script) if p is not None and p.startswith("/")]
    # a release's file is asked for through `<root>/current`: its real path tells which
    # release is current (`Matcher.current_release`); the token itself names no file
    return [p.replace(RELEASE_MARK, CURRENT) for p in paths]


def matcher_for(service: ServiceSpec, real: Mapping[str, str] | None = None) -> Matcher:
    m = _matcher(service)
    return replace(m, real=dict(real)) if real else m


def _matcher(templated: ServiceSpec) -> Matcher:
    service, root = _release_spec(templated)
    return replace(_identity_of(service), release_root=root)


def _identity_of(service: ServiceSpec) -> Matcher:
    prog0, args = _effective_program(service.runs or service.program)
    family = executable_family(prog0)
    exe = posixpath.normpath(prog0) if "/" in prog0 else prog0
    cwd = service.working_directory or LAUNCHD_CWD
    words = {w for w in (prog0, exe, *args) if " " in w}
    if family not in _INTERPRETERS:
        return Matcher(service.match, family, exe, None, None, True, prog0, _longest(words))
    op, at = _operand_at(family, args)
    script: str | None = None
    inline: str | None = None
    if op == INLINE:
        inline = _inline_code(args, at)
    elif op is not None and op.startswith("-m "):
        script = op
    elif op is not None:
        script = resolve(op, cwd)
        words.add(script or op)
    return Matcher(service.match, family, exe, script, inline, False, prog0, _longest(words))


def _longest(words: set[str]) -> tuple[str, ...]:
    return tuple(sorted((w for w in words if " " in w), key=lambda w: (-len(w), w)))


class Match(StrEnum):
    INSTANCE = "instance"
    DECOY = "decoy"  # its command line names the service, but it runs something else
    HIDDEN = "hidden"  # it may be an instance, but the view cannot tell
    NONE = "none"


_WORD = re.compile("[^ ]+")  # a word of a ps row: ps joins argv with single spaces


@dataclass(frozen=True)
class _Row:
    """A ps row's command as argv: split at spaces, but each of `words` (paths that hold
    spaces, longest first) kept whole where it stands as a word of its own."""

    command: str
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def split(cls, command: str, words: Sequence[str]) -> _Row:
        # a word without a space is a run of non-spaces anyway: only the others need the loop
        words = [w for w in words if " " in w]
        if not words:
            return cls(command, tuple(w.span() for w in _WORD.finditer(command)))
        spans: list[tuple[int, int]] = []
        i, n = 0, len(command)
        while i < n:
            if command[i] == " ":
                i += 1
                continue
            end = next(
                (
                    i + len(w)
                    for w in words
                    if command.startswith(w, i) and (i + len(w) == n or command[i + len(w)] == " ")
                ),
                -1,
            )
            if end < 0:
                end = command.find(" ", i)
                end = n if end < 0 else end
            spans.append((i, end))
            i = end
        return cls(command, tuple(spans))

    @property
    def argv(self) -> list[str]:
        return [self.command[a:b] for a, b in self.spans]

    def joined(self, first: int, last: int) -> str:
        """Words first..last as ps printed them, the spaces between them included."""
        return self.command[self.spans[first][0] : self.spans[last][1]]


def split_command(command: str, words: Sequence[str]) -> list[str]:
    return _Row.split(command, words).argv


def _hidden_name_fits(comm: str, m: Matcher) -> bool:
    name = executable_family(comm)
    if name == m.executable or (m.shebang and name in _INTERPRETERS):
        return True
    # BSD ps shows p_comm, cut to MAXCOMLEN (16) characters (FACTS 5.2)
    return len(comm) >= MAXCOMLEN and posixpath.basename(m.exe_path).startswith(comm)


def _same_file(path: str, cwd: str | None, target: str, *, bare_is_path: bool,
               same: Callable[[str, str], bool] = str.__eq__) -> Match:
    """Does `path` (argv[0] or a script operand, seen from `cwd`) name `target`?

    For argv[0] a bare name is found through PATH (`bare_is_path`: compare basenames); a
    script operand is always a path, a bare one relative to the working directory.
    """
    if "/" not in target or (bare_is_path and "/" not in path):
        named = posixpath.basename(path) == posixpath.basename(target)
        return Match.INSTANCE if named else Match.DECOY
    full = resolve(path, cwd)
    if full is None:  # relative, and the probe could not learn P's cwd
        same_name = posixpath.basename(path) == posixpath.basename(target)
        return Match.HIDDEN if same_name else Match.DECOY
    return Match.INSTANCE if same(full, target) else Match.DECOY


def _names_file(row: _Row, at: int, cwd: str | None, target: str, *, bare_is_path: bool,
                same: Callable[[str, str], bool] = str.__eq__) -> Match:
    """Does word `at` of the row (argv[0], or a script operand) name `target`? ps joins
    argv with spaces, so when it does not, the word may have been a path with spaces that
    goes on into the following words. If such a longer reading (each of its components
    trimmed, as real names are) names `target`, it may be an instance, but the row cannot
    tell: hidden. Only the target's own spelling is kept whole, and counts."""
    kind = _same_file(row.argv[at], cwd, target, bare_is_path=bare_is_path, same=same)
    if kind is not Match.DECOY or "/" not in target:
        return kind
    for last in range(at + 1, len(row.spans)):
        joined = row.joined(at, last)
        if any(c != c.strip(" ") for c in joined.split("/")):
            continue  # `vim /usr/local/bin/x` is not a directory called `vim `
        if _same_file(joined, cwd, target, bare_is_path=bare_is_path,
                      same=same) is not Match.DECOY:
            return Match.HIDDEN  # ambiguous: never signalled, and never `ok` either
    return kind


def _identity(row: _Row, cwd: str | None, m: Matcher) -> Match:
    argv = row.argv
    family = executable_family(argv[0])
    if family not in _INTERPRETERS:  # rule 1
        if not m.shebang:
            return Match.DECOY
        return _names_file(row, 0, cwd, m.exe_path, bare_is_path=True, same=m.same)
    op, at = _operand_at(family, argv[1:])
    if m.shebang:  # rule 3: an interpreter running the service's #! script
        if op is None or op == INLINE or op.startswith("-m "):
            return Match.DECOY
        return _names_file(row, at + 1, cwd, m.exe_path, bare_is_path=False, same=m.same)
    if family != m.executable:
        return Match.DECOY
    if op == INLINE:
        same = m.inline is not None and _inline_code(argv[1:], at) == m.inline
        return Match.INSTANCE if same else Match.DECOY
    if m.inline is not None:
        return Match.DECOY
    if m.script is None or op is None:
        return Match.INSTANCE if m.script is None and op is None else Match.DECOY
    if m.script.startswith("-m ") or op.startswith("-m "):
        return Match.INSTANCE if op == m.script else Match.DECOY
    return _names_file(row, at + 1, cwd, m.script, bare_is_path=False, same=m.same)


def match_process(proc: ProcInfo, m: Matcher) -> Match:
    if proc.args_hidden:
        return Match.HIDDEN if _hidden_name_fits(proc.command[1:-1], m) else Match.NONE
    row = _Row.split(proc.command, m.words)
    if not row.spans:
        return Match.NONE
    kind = _identity(row, proc.cwd, m)
    # a hidden row stays hidden: its unresolved path may be what `match` looks for
    if kind is Match.INSTANCE and m.pattern is not None:
        texts = (proc.command, resolved_command(proc, m))
        if not any(m.pattern.search(t) for t in texts):
            return Match.DECOY  # `match` narrows (rule 4)
    if kind is Match.DECOY and not any(n in proc.command for n in m.names if n):
        return Match.NONE  # does not even name the service
    return kind


def _path_word(argv: Sequence[str]) -> int | None:
    """Which word names the file a process runs: argv[0], or an interpreter's script."""
    family = executable_family(argv[0])
    if family not in _INTERPRETERS:
        return 0 if "/" in argv[0] else None  # a bare name was found through PATH
    op, at = _operand_at(family, argv[1:])
    if op is None or op == INLINE or op.startswith("-m "):
        return None
    return at + 1


def resolved_command(proc: ProcInfo, m: Matcher) -> str:
    """The command line with the file it runs written out from its cwd, for `match`:
    `python3 main.py` in /Users/ops/shiva reads `python3 /Users/ops/shiva/main.py`."""
    row = _Row.split(proc.command, m.words)
    i = _path_word(row.argv) if row.spans and not proc.args_hidden else None
    full = resolve(row.argv[i], proc.cwd) if i is not None else None
    if i is None or full is None:
        return proc.command
    a, b = row.spans[i]
    return proc.command[:a] + full + proc.command[b:]


def release_of(proc: ProcInfo, m: Matcher) -> str | None:
    """The release an instance runs (issue 13): read from the file it runs, resolved from
    its cwd, against the service's templated script, else its executable. None when the
    service has no release or the row does not tell."""
    if m.release_root is None or proc.args_hidden:
        return None
    row = _Row.split(proc.command, m.words)
    if not row.spans:
        return None
    argv = row.argv
    i = _path_word(argv)
    words = [(argv[i], t) for t in (m.script, m.exe_path) if i is not None and t is not None]
    words.append((argv[0], m.exe_path))
    for word, target in words:
        full = resolve(word, proc.cwd)
        if full is not None and RELEASE_MARK in target:
            rid = m.release_in(full, target)
            if rid is not None:
                return rid
    return None


def describe_run(proc: ProcInfo, m: Matcher) -> str:
    """The evidence for calling `proc` an instance: what it runs, resolved, and its cwd."""
    argv = split_command(proc.command, m.words)
    if proc.args_hidden or not argv:
        return f"runs {proc.command}"
    family = executable_family(argv[0])
    what = argv[0]
    if family in _INTERPRETERS:
        op, _ = _operand_at(family, argv[1:])
        if op == INLINE:
            what = f"{argv[0]} (inline code)"
        elif op is not None and op.startswith("-m "):
            what = f"{argv[0]} {op}"
        elif op is not None:
            what = f"{argv[0]} {resolve(op, proc.cwd) or op}"
    elif "/" in what:
        what = resolve(what, proc.cwd) or what
    cwd = f", cwd {proc.cwd}" if proc.cwd is not None else ""
    return f"runs {what}{cwd}"
