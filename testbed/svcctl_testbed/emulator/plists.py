"""Reading launchd.plist(5) files into job specifications (FACTS 4, 6)."""

from __future__ import annotations

import logging
import os
import plistlib
import stat
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers.expat import ExpatError

from .codes import BAD_LABEL, BAD_OWNER, BAD_PROGRAM, EIO, INVALID_PLIST

log = logging.getLogger("launchd")

SESSION_TYPES = ("Aqua", "Background", "LoginWindow", "StandardIO", "System")


class PlistProblem(Exception):
    """A plist cannot be loaded; `code` is the launchd error (FACTS 2.0)."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class KeepAlive:
    always: bool = False
    successful_exit: bool | None = None
    crashed: bool | None = None
    path_state: tuple[tuple[str, bool], ...] = ()
    other_job_enabled: tuple[tuple[str, bool], ...] = ()

    @property
    def is_set(self) -> bool:
        return self.always or self.is_dict

    @property
    def is_dict(self) -> bool:
        return (
            self.successful_exit is not None
            or self.crashed is not None
            or bool(self.path_state)
            or bool(self.other_job_enabled)
        )


@dataclass(frozen=True)
class JobSpec:
    label: str
    path: str
    arguments: tuple[str, ...]
    program: str | None = None
    keep_alive: KeepAlive = field(default_factory=KeepAlive)
    run_at_load: bool = False
    throttle_interval: int | None = None
    exit_timeout: int | None = None
    abandon_process_group: bool = False
    working_directory: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    stdout_path: str | None = None
    stderr_path: str | None = None
    session_types: tuple[str, ...] | None = None
    disabled: bool = False
    user_name: str | None = None
    group_name: str | None = None
    umask: int | None = None

    @property
    def executable(self) -> str:
        """argv[0] for exec: Program, else ProgramArguments[0] ("inferred program", FACTS 4)."""
        return self.program if self.program is not None else self.arguments[0]

    def loads_in_session(self, session: str) -> bool:
        # An agent without LimitLoadToSessionType is Aqua-only (FACTS 1.4, TN2083).
        allowed = self.session_types if self.session_types is not None else ("Aqua",)
        return session in allowed


def has_safe_ownership(path: Path, owners: tuple[int, ...]) -> bool:
    """Owner must be one of `owners`, no group/world write (FACTS 1.2)."""
    st = path.stat()
    return st.st_uid in owners and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read_plist(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            data = plistlib.load(fh)
    except OSError as exc:
        raise PlistProblem(EIO, str(exc)) from exc
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError, KeyError) as exc:
        raise PlistProblem(INVALID_PLIST, str(exc)) from exc
    if not isinstance(data, dict):
        raise PlistProblem(INVALID_PLIST, "top level is not a dictionary")
    return data


def _bool(data: dict[str, object], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if isinstance(value, bool):
        return value
    log.warning("%s is not a boolean; ignored", key)  # lint warnings only (FACTS 6)
    return default


def _opt_int(data: dict[str, object], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    log.warning("%s is not a non-negative integer; ignored", key)
    return None


def _opt_str(data: dict[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _bool_pairs(value: object) -> tuple[tuple[str, bool], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple((str(k), v) for k, v in value.items() if isinstance(v, bool))


def _keep_alive(data: dict[str, object]) -> KeepAlive:
    if data.get("OnDemand") is False and "KeepAlive" not in data:
        return KeepAlive(always=True)  # obsolete OnDemand=false means KeepAlive=true (FACTS 4)
    value = data.get("KeepAlive")
    if isinstance(value, bool):
        return KeepAlive(always=value)
    if isinstance(value, dict):
        succ, crashed = value.get("SuccessfulExit"), value.get("Crashed")
        return KeepAlive(
            successful_exit=succ if isinstance(succ, bool) else None,
            crashed=crashed if isinstance(crashed, bool) else None,
            path_state=_bool_pairs(value.get("PathState")),
            other_job_enabled=_bool_pairs(value.get("OtherJobEnabled")),
        )
    return KeepAlive()


def _umask(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0) if not value.startswith("0") else int(value, 8)
        except ValueError:
            return None
    return None


def parse_spec(data: dict[str, object], path: str) -> JobSpec:
    label = data.get("Label")
    if not isinstance(label, str) or not label:
        raise PlistProblem(BAD_LABEL)
    program = data.get("Program")
    args = data.get("ProgramArguments")
    if program is not None and (not isinstance(program, str) or not program.startswith("/")):
        raise PlistProblem(BAD_PROGRAM)
    if args is not None and not (
        isinstance(args, list) and args and all(isinstance(a, str) for a in args)
    ):
        raise PlistProblem(BAD_PROGRAM)
    if program is None and args is None:
        raise PlistProblem(BAD_PROGRAM)
    arguments = tuple(args) if isinstance(args, list) else (str(program),)
    env = data.get("EnvironmentVariables")
    environment = (
        # "Values other than strings will be ignored" (FACTS 4)
        tuple((k, v) for k, v in env.items() if isinstance(v, str)) if isinstance(env, dict) else ()
    )
    sessions = data.get("LimitLoadToSessionType")
    session_types: tuple[str, ...] | None = None
    if isinstance(sessions, str):
        session_types = (sessions,)
    elif isinstance(sessions, list):
        session_types = tuple(s for s in sessions if isinstance(s, str))
    return JobSpec(
        label=label,
        path=path,
        arguments=arguments,
        program=program if isinstance(program, str) else None,
        keep_alive=_keep_alive(data),
        run_at_load=_bool(data, "RunAtLoad"),
        throttle_interval=_opt_int(data, "ThrottleInterval"),
        exit_timeout=_opt_int(data, "ExitTimeOut"),
        abandon_process_group=_bool(data, "AbandonProcessGroup"),
        working_directory=_opt_str(data, "WorkingDirectory"),
        environment=environment,
        stdout_path=_opt_str(data, "StandardOutPath"),
        stderr_path=_opt_str(data, "StandardErrorPath"),
        session_types=session_types,
        disabled=_bool(data, "Disabled"),
        user_name=_opt_str(data, "UserName"),
        group_name=_opt_str(data, "GroupName"),
        umask=_umask(data.get("Umask")),
    )


def load_spec(path: Path, owners: tuple[int, ...]) -> JobSpec:
    """Ownership/mode first, then parse (FACTS 7.2 order)."""
    try:
        safe = has_safe_ownership(path, owners)
    except OSError as exc:
        raise PlistProblem(EIO, str(exc)) from exc
    if not safe:
        raise PlistProblem(BAD_OWNER)
    return parse_spec(read_plist(path), str(path))


def expand_paths(paths: list[str], cwd: str) -> list[Path]:
    """Relative paths resolve against the caller's cwd; a directory means its plists (FACTS 2.1)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(os.path.normpath(os.path.join(cwd, raw)))
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix == ".plist" and p.is_file()))
        else:
            out.append(path)
    return out
