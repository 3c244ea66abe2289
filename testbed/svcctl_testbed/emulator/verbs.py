"""Modern service verbs: bootstrap, bootout, enable, disable, kickstart, kill (FACTS 2.1-2.5)."""

from __future__ import annotations

import signal
from pathlib import Path

from .codes import (
    BAD_LABEL,
    BAD_OWNER,
    BAD_PROGRAM,
    DISABLED,
    EALREADY,
    EEXIST,
    EIO,
    EPERM,
    ESRCH,
    INVALID_PLIST,
    NO_SUPPORT,
    ROOT_HINT,
    SESSION_MISMATCH,
    LaunchctlError,
    strerror,
)
from .config import Config
from .jobs import Domain
from .loading import check_and_load
from .manager import Manager
from .plists import PlistProblem, expand_paths, parse_spec, read_plist
from .request import Reply, Request, find_job, may_modify, resolve_domain, usage_error
from .targets import Target, parse_target

# Codes for which root's "richer errors" name the path on a line of its own (FACTS 2.1).
_PATH_LINE_CODES = {BAD_OWNER, DISABLED, INVALID_PLIST, BAD_LABEL, BAD_PROGRAM}


def effective_code(raw: int, root: bool, cfg: Config) -> int:
    """What the caller sees: non-root callers get most causes collapsed into 5 (FACTS 2.1)."""
    if raw == EEXIST:
        return cfg.already_loaded_code
    if raw == SESSION_MISMATCH:
        return cfg.session_mismatch_code  # 134 for everyone by default (FACTS 1.4)
    return raw if root else EIO


def bootstrap_failure(errors: list[tuple[Path, int]], root: bool, cfg: Config) -> LaunchctlError:
    lines = []
    codes = []
    for path, raw in errors:
        code = effective_code(raw, root, cfg)
        codes.append(code)
        if root and raw == EEXIST and code in (EEXIST, EALREADY):
            lines.append(f"{path}: service already bootstrapped")  # [REIMPL] wording
        elif root and code in _PATH_LINE_CODES:
            lines.append(f"{path}: {strerror(code)}")
    first = codes[0]
    lines.append(f"Bootstrap failed: {first}: {strerror(first)}")
    if first == EIO and not root:
        lines.append(ROOT_HINT)
    return LaunchctlError(first, "\n".join(lines))


def _domain_target(args: list[str], verb: str) -> Target:
    target = parse_target(args[0], usage_error(verb).err)
    if target.kind not in ("system", "user", "gui", "login"):
        raise LaunchctlError(NO_SUPPORT, f"{verb}: {NO_SUPPORT}: {strerror(NO_SUPPORT)}")
    return target


def bootstrap(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) < 2:
        raise usage_error("bootstrap")
    target = _domain_target(args, "bootstrap")
    domain = mgr.domain(target.kind, target.handle, create_for=req.uid)
    if domain is None or mgr.shutting_down:
        # e.g. gui/<uid> over SSH with no console login (FACTS 1.4)
        raise LaunchctlError(NO_SUPPORT, f"Bootstrap failed: {NO_SUPPORT}: {strerror(NO_SUPPORT)}")
    root = req.uid == 0
    if not may_modify(req.uid, domain):
        raise LaunchctlError(EIO, f"Bootstrap failed: {EIO}: {strerror(EIO)}\n{ROOT_HINT}")
    errors: list[tuple[Path, int]] = []
    for path in expand_paths(args[1:], req.cwd):
        try:
            check_and_load(mgr, domain, path)
        except PlistProblem as exc:
            errors.append((path, exc.code))
    if errors:
        raise bootstrap_failure(errors, root, mgr.cfg)
    return Reply()


def _bootout_fail(code: int, hint: bool) -> LaunchctlError:
    text = f"Boot-out failed: {code}: {strerror(code)}"
    return LaunchctlError(code, f"{text}\n{ROOT_HINT}" if hint else text)


def _bootout_service(
    mgr: Manager, req: Request, domain: Domain, label: str, args: list[str], wait: bool
) -> Reply:
    """The service-target form: one job, removed asynchronously (FACTS 2.2)."""
    if len(args) != 1:
        raise usage_error("bootout")
    if not may_modify(req.uid, domain):
        raise _bootout_fail(EPERM, hint=False)
    job = domain.jobs.get(label)
    if job is None:
        raise _bootout_fail(ESRCH, hint=False)  # service-target form (FACTS 2.2)
    mgr.remove(job)  # asynchronous: returns at once (FACTS 2.2)
    still_there = domain.jobs.get(job.label) is job
    return Reply(wait_for=job if wait and still_there else None)


def _bootout_domain(mgr: Manager, domain: Domain) -> None:
    """The bare domain form: every job goes, except that the system domain refuses."""
    if domain.kind == "system":
        raise _bootout_fail(NO_SUPPORT, hint=False)
    for job in list(domain.jobs.values()):
        mgr.remove(job)


def _bootout_paths(mgr: Manager, domain: Domain, paths: list[Path]) -> None:
    """The path form: every loaded plist's job goes, even when another path fails."""
    failed = False
    for path in paths:
        try:
            label = parse_spec(read_plist(path), str(path)).label
        except PlistProblem:
            failed = True
            continue
        job = domain.jobs.get(label)
        if job is None:
            failed = True
            continue
        mgr.remove(job)
    if failed:
        # path form, not loaded: 5 plus the hint, even for root (FACTS 2.2)
        raise _bootout_fail(EIO, hint=True)


def bootout(mgr: Manager, req: Request, args: list[str]) -> Reply:
    wait = bool(args) and args[0] == "--wait"
    if wait:
        args = args[1:]
    if not args:
        raise usage_error("bootout")
    target = _domain_target(args, "bootout")
    domain = resolve_domain(mgr, target, req)
    if target.name is not None:
        return _bootout_service(mgr, req, domain, target.name, args, wait)
    if wait:
        raise usage_error("bootout")  # --wait: "Only applicable to a single service target."
    if not may_modify(req.uid, domain):
        raise _bootout_fail(EIO, hint=True)
    if len(args) == 1:
        _bootout_domain(mgr, domain)
    else:
        _bootout_paths(mgr, domain, expand_paths(args[1:], req.cwd))
    return Reply()


def _service_target(args: list[str], verb: str, req: Request, mgr: Manager) -> tuple[Domain, str]:
    target = parse_target(args[-1], usage_error(verb).err)
    if target.name is None:
        raise usage_error(verb)
    return resolve_domain(mgr, target, req), target.name


def set_enabled(mgr: Manager, req: Request, args: list[str], verb: str) -> Reply:
    if len(args) != 1:
        raise usage_error(verb)
    domain, label = _service_target(args, verb, req, mgr)
    if not may_modify(req.uid, domain):
        raise LaunchctlError(EPERM, f"Could not {verb} service: {EPERM}: {strerror(EPERM)}")
    # Never stops or starts anything; unknown labels are fine (FACTS 2.5).
    mgr.overrides.set(domain.kind, domain.uid, label, disabled=verb == "disable")
    return Reply()


def enable(mgr: Manager, req: Request, args: list[str]) -> Reply:
    return set_enabled(mgr, req, args, "enable")


def disable(mgr: Manager, req: Request, args: list[str]) -> Reply:
    return set_enabled(mgr, req, args, "disable")


def kickstart(mgr: Manager, req: Request, args: list[str]) -> Reply:
    flags: set[str] = set()
    while args and args[0].startswith("-") and len(args[0]) > 1:
        if set(args[0][1:]) - set("kps"):
            raise usage_error("kickstart")
        flags.update(args[0][1:])
        args = args[1:]
    if len(args) != 1:
        raise usage_error("kickstart")
    domain, label = _service_target(args, "kickstart", req, mgr)
    job = find_job(domain, label)
    fail = f'Could not kickstart service "{label}"'
    if not may_modify(req.uid, domain):
        raise LaunchctlError(EPERM, f"{fail}: {EPERM}: {strerror(EPERM)}")
    if job.removal_pending:
        raise LaunchctlError(EIO, f"{fail}: {EIO}: {strerror(EIO)}")
    if job.pid is not None and "k" not in flags:
        code = mgr.cfg.kickstart_running_code  # a no-op (FACTS 2.3)
        if code != 0:
            return Reply(rc=code)  # [REIMPL] prints nothing for EALREADY
        pid: int | None = job.pid
    else:
        pid = mgr.kickstart(job, kill="k" in flags)  # -s (suspended) is accepted and ignored
    if pid is None:
        raise LaunchctlError(EIO, f"{fail}: {EIO}: {strerror(EIO)}")
    out = ""
    if "p" in flags:
        out = f"service spawned with pid: {pid}\n" if req.tty else f"{pid}\n"
    return Reply(out=out)


def parse_signal(text: str) -> int | None:
    """Names with or without SIG, any case, or numbers (FACTS 2.4). Linux numbering."""
    text = text.removeprefix("-")
    if text.isdigit():
        number = int(text)
        return number if number == 0 or number in signal.valid_signals() else None
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


def kill(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 2:
        raise usage_error("kill")
    signo = parse_signal(args[0])
    if signo is None:
        raise LaunchctlError(64, f"Unrecognized signal name: {args[0]}\n{usage_error('kill').err}")
    domain, label = _service_target(args, "kill", req, mgr)
    job = find_job(domain, label)
    if not may_modify(req.uid, domain):
        raise LaunchctlError(EPERM, "Not privileged to signal service.")
    if job.pid is None:
        raise LaunchctlError(ESRCH, "No process to signal.")
    mgr.send_signal(job, signo)  # only the tracked pid, never a stray (FACTS 2.3)
    return Reply()
