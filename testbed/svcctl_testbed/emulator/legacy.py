"""Legacy verbs: list, start, stop, load, unload (FACTS 2.8-2.10).

They act on the caller's own domain: system for root, user/<uid> otherwise (FACTS 1.3).
"""

from __future__ import annotations

from pathlib import Path

from .codes import EALREADY, EEXIST, EIO, NO_SERVICE, LaunchctlError, strerror
from .formats import render_list, render_list_label
from .jobs import Domain
from .loading import check_and_load
from .manager import Manager
from .plists import PlistProblem, expand_paths, parse_spec, read_plist
from .request import Reply, Request, caller_domain, usage_error


def list_(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) > 1 or (args and args[0].startswith("-")):
        raise usage_error("list")  # `-x` "is no longer supported" (FACTS 2.8)
    domain = caller_domain(mgr, req)
    if not args:
        return Reply(out=render_list(domain.jobs.values()))
    job = domain.jobs.get(args[0])  # a bare label only (FACTS 2.8)
    if job is None:
        # the real wording is singular `port` (FACTS 2.8)
        raise LaunchctlError(NO_SERVICE, f'Could not find service "{args[0]}" in domain for port')
    return Reply(out=render_list_label(job))


def start(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1:
        raise usage_error("start")
    job = caller_domain(mgr, req).jobs.get(args[0])
    if job is None:
        return Reply(rc=NO_SERVICE)  # [REIMPL] prints nothing for launchd's error
    mgr.start(job)  # EALREADY (running) maps to 0 (FACTS 2.9); throttled like any start
    return Reply()


def stop(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1:
        raise usage_error("stop")
    job = caller_domain(mgr, req).jobs.get(args[0])
    if job is None:
        return Reply(rc=NO_SERVICE)
    # SIGTERM; KeepAlive decides at reap whether it comes back (FACTS 2.9)
    mgr.stop(job)
    return Reply()


def _options(args: list[str], verb: str) -> tuple[set[str], str | None, list[str]]:
    flags: set[str] = set()
    session = None
    while args and args[0].startswith("-"):
        opt, args = args[0], args[1:]
        if opt == "-S" and args:
            session, args = args[0], args[1:]
        elif opt[1:] and not set(opt[1:]) - set("wF"):
            flags.update(opt[1:])
        else:
            raise usage_error(verb)
    if not args:
        raise usage_error(verb)
    return flags, session, args


def _legacy_domain(mgr: Manager, req: Request, session: str | None) -> Domain:
    if session == "Aqua" and req.uid != 0 and req.uid in mgr.guis:
        return mgr.guis[req.uid]
    return caller_domain(mgr, req)


def load(mgr: Manager, req: Request, args: list[str]) -> Reply:
    flags, session, paths = _options(args, "load")
    domain = _legacy_domain(mgr, req, session)
    root = req.uid == 0
    err: list[str] = []
    for path in expand_paths(paths, req.cwd):
        if root and "LaunchAgents" in str(path):
            err.append(
                "Warning: Expecting a LaunchDaemons path since the command was ran as root. "
                "Got LaunchAgents instead.\n`launchctl bootstrap` is a recommended alternative."
            )
        if "w" in flags:
            _write_override(mgr, domain, path, disabled=False)  # -w: enabled (FACTS 2.5)
        try:
            check_and_load(mgr, domain, path, force="F" in flags)
        except PlistProblem as exc:
            if not root:
                err.append(f"Load failed: {EIO}: {strerror(EIO)}")
                err.append("Try running `launchctl bootstrap` as root for richer errors.")
            elif exc.code == EEXIST:
                err.append(f"{path}: service already loaded")
                err.append(f"Load failed: {EALREADY}: {strerror(EALREADY)}")
            else:
                err.append(f"{path}: {strerror(exc.code)}")
                err.append(f"Load failed: {exc.code}: {strerror(exc.code)}")
    # "only return a non-zero exit code due to improper usage" (FACTS 2.10)
    return Reply(err="".join(line + "\n" for line in err))


def _write_override(mgr: Manager, domain: Domain, path: Path, disabled: bool) -> None:
    try:
        label = parse_spec(read_plist(path), str(path)).label
    except PlistProblem:
        return
    mgr.overrides.set(domain.kind, domain.uid, label, disabled)


def unload(mgr: Manager, req: Request, args: list[str]) -> Reply:
    flags, session, paths = _options(args, "unload")
    domain = _legacy_domain(mgr, req, session)
    root = req.uid == 0
    err: list[str] = []
    for path in expand_paths(paths, req.cwd):
        try:
            label = parse_spec(read_plist(path), str(path)).label
        except PlistProblem as exc:
            code = exc.code
            label = None
        if label is not None and "w" in flags:
            mgr.overrides.set(domain.kind, domain.uid, label, True)  # -w: disabled (FACTS 2.5)
        job = domain.jobs.get(label) if label is not None else None
        if job is not None:
            mgr.remove(job)
            continue
        if label is not None:
            code = NO_SERVICE
        if not root:
            err.append(f"Unload failed: {EIO}: {strerror(EIO)}")
            err.append("Try running `launchctl bootout` as root for richer errors.")
        else:
            err.append(f"{path}: {strerror(code)}")
            err.append(f"Unload failed: {code}: {strerror(code)}")
    return Reply(err="".join(line + "\n" for line in err))
