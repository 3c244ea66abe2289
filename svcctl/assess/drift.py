"""Diff's judgement: the rendered plist, the installed file and the loaded job, key by key (pure).

`svcctl.ops.diff` reads the installed file (`cat`) and the job (`launchctl print`) in one
remote command per host; here the three sides are lined up in ONE vocabulary, the plist's
own keys: `EnvironmentVariables.MODE` names one entry of a dictionary, and two keys that
are not plist keys name what launchd shows of the job itself, `path` (the file it was
loaded from) and `program` (what it runs: `Program`, else `ProgramArguments[0]`).

The file is compared with the render key by key. launchd keeps its own copy of the plist
at bootstrap (FACTS 2.1), so the loaded job is compared with each file, the render and the
installed one, on what `launchctl print` shows of it (FACTS 3.3): path, program,
arguments and the plist's environment entries.
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from svcctl.assess.exits import NOT_LOADED, Output
from svcctl.errors import ParseError
from svcctl.launchd import parse_print
from svcctl.model import HostSpec, JobState

R_I, R_L, I_L = "rendered/installed", "rendered/loaded", "installed/loaded"
PATH, PROGRAM = "path", "program"  # not plist keys: where the job was loaded from, what it runs


class _Unknown:
    """A value launchctl print does not show (e.g. RunAtLoad): neither equal nor different."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Row:
    """One key on the three sides; `differ` names the pairs that disagree (R_I, R_L, I_L).

    None means absent on that side; UNKNOWN that launchd does not show the key.
    """

    key: str
    rendered: Any
    installed: Any
    loaded: Any
    differ: tuple[str, ...]


@dataclass(frozen=True)
class HostDiff:
    host: str
    domain: str
    path: str
    reachable: bool = True
    error: str | None = None
    installed: str = "present"  # present | missing | unreadable
    installed_detail: str = ""
    loaded: JobState | None = None
    loaded_detail: str = ""  # why the job could not be read, if it could not
    rows: tuple[Row, ...] = ()

    @property
    def inspected(self) -> bool:
        return self.reachable and not self.loaded_detail and self.installed != "unreadable"

    @property
    def drift(self) -> bool:
        """Anything but a present file and a loaded job that both match the render."""
        return (not self.inspected or self.installed != "present" or self.loaded is None
                or bool(self.rows))


@dataclass(frozen=True)
class DiffReport:
    service: str
    label: str
    rendered: bytes  # of the first host; every host's own render is in its rows
    hosts: tuple[HostDiff, ...]

    @property
    def ok(self) -> bool:
        return not any(h.drift for h in self.hosts)


def parse_installed(text: str) -> dict[str, Any]:
    """The installed file (as `cat` printed it) as plist data; ParseError if it is not one."""
    if text.startswith("bplist"):
        raise ParseError("a binary plist; convert it with `plutil -convert xml1` to compare it")
    try:
        data = plistlib.loads(text.encode("utf-8", errors="surrogateescape"))
    except Exception as exc:  # plistlib raises InvalidFileException, ExpatError, ValueError...
        raise ParseError(f"not a valid plist: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("the plist's root is not a dictionary")
    return data


def assess_drift(spec: HostSpec, rendered: Mapping[str, Any], path: str, cat: Output,
                 printed: Output) -> HostDiff:
    """The probe's two outputs (`cat <path>`, `launchctl print`) -> the host's drift."""
    installed, state, state_detail = read_installed(cat)
    target = spec.domain.service_target(str(rendered["Label"]))
    job, job_detail = read_loaded(target, printed)
    return HostDiff(spec.name, spec.domain.target, path, installed=state,
                    installed_detail=state_detail, loaded=job, loaded_detail=job_detail,
                    rows=compare(rendered, installed, job, path))


def read_installed(cat: Output) -> tuple[dict[str, Any] | None, str, str]:
    """`cat <path>` -> (the file's plist data, present | missing | unreadable, why)."""
    rc, out, err = cat
    if rc != 0:
        if "No such file" in err:
            return None, "missing", ""
        return None, "unreadable", f"cat exited {rc}: {err.strip()[:200]}"
    try:
        return parse_installed(out), "present", ""
    except ParseError as exc:
        return None, "unreadable", exc.message


def read_loaded(target: str, printed: Output) -> tuple[JobState | None, str]:
    """`launchctl print <target>` -> (the job, or None where not loaded; why unreadable)."""
    rc, out, err = printed
    if rc in NOT_LOADED:
        return None, ""
    if rc != 0:
        return None, f"launchctl print {target} exited {rc}: {err.strip()[:200]}"
    try:
        return parse_print(out), ""
    except ParseError as exc:
        return None, f"cannot read launchctl print: {exc.message}"


def compare(rendered: Mapping[str, Any], installed: Mapping[str, Any] | None,
            loaded: JobState | None, path: str) -> tuple[Row, ...]:
    """The three sides lined up, one row per key where any two of them differ."""
    pairs: dict[str, set[str]] = {}

    def add(pair: str, keys: Iterable[str]) -> None:
        for key in keys:
            pairs.setdefault(key, set()).add(pair)

    if installed is not None:
        add(R_I, file_drift(rendered, installed))
    if loaded is not None:
        add(R_L, job_drift(rendered, loaded, path))
        if installed is not None:
            # what a bootstrap of today's file would load vs what launchd holds (FACTS 2.1)
            add(I_L, job_drift(installed, loaded, path))
    return tuple(
        Row(key, plist_value(rendered, key, path), plist_value(installed, key, path),
            job_value(loaded, key), tuple(p for p in (R_I, R_L, I_L) if p in found))
        for key, found in sorted(pairs.items())
    )


def file_drift(a: Mapping[str, Any], b: Mapping[str, Any]) -> Iterator[str]:
    """The keys where two plists differ; a dictionary on both sides, by its differing entries."""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            subs = sorted(set(x) | set(y), key=str)
            yield from (f"{key}.{k}" for k in subs if x.get(k) != y.get(k))
        else:
            yield key


def job_drift(plist: Mapping[str, Any], job: JobState, path: str) -> Iterator[str]:
    """The keys where the loaded job differs from `plist`, on what launchctl print shows.
    The installed file is anyone's: a value of the wrong type is drift, never a crash."""
    raw = plist.get("ProgramArguments")
    args = list(raw) if isinstance(raw, list) else []
    program = plist.get("Program") or (args[0] if args else None)
    if job.path is not None and job.path != path:
        yield PATH
    if job.program is not None and job.program != program:
        yield PROGRAM
    if job.arguments and list(job.arguments) != args:
        yield "ProgramArguments"
    if job.source == "print":  # launchctl list shows no environment
        env = plist.get("EnvironmentVariables")
        if env is not None and not isinstance(env, Mapping):
            yield "EnvironmentVariables"  # not a dictionary: launchd would refuse the file
            return
        for key, value in (env or {}).items():
            if job.environment.get(key) != value:
                yield f"EnvironmentVariables.{key}"


def plist_value(plist: Mapping[str, Any] | None, key: str, path: str) -> Any:
    """A file's value for a report key; None where the file or the key is absent."""
    if plist is None:
        return None
    if key == PATH:
        return path
    if key == PROGRAM:
        args = plist.get("ProgramArguments") or [None]
        return plist.get("Program") or args[0]
    head, dot, sub = key.partition(".")
    if dot:
        inner = plist.get(head)
        return inner.get(sub) if isinstance(inner, Mapping) else None
    return plist.get(key)


# the report keys launchctl print shows, and the JobState field that holds each (FACTS 3.3)
_SHOWN = {
    PATH: "path",
    PROGRAM: "program",
    "Label": "label",
    "WorkingDirectory": "working_directory",
    "StandardOutPath": "stdout_path",
    "StandardErrorPath": "stderr_path",
    "ExitTimeOut": "exit_timeout",
}


def job_value(job: JobState | None, key: str) -> Any:
    """The loaded job's value for a report key; UNKNOWN where launchctl print hides it."""
    if job is None:
        return None
    if key == "ProgramArguments":
        return list(job.arguments) or UNKNOWN
    if key.startswith("EnvironmentVariables."):
        return job.environment.get(key.partition(".")[2])
    field = _SHOWN.get(key)
    return getattr(job, field) if field else UNKNOWN
