"""Request routing: one launchctl invocation in, one reply out; never a traceback."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from . import info, legacy, proctable, verbs
from .codes import BAD_RESPONSE, LaunchctlError, strerror
from .loading import login, logout
from .manager import Manager
from .request import Reply, Request

log = logging.getLogger("launchd")

Verb = Callable[[Manager, Request, list[str]], Reply]

VERBS: dict[str, Verb] = {
    "bootstrap": verbs.bootstrap,
    "bootout": verbs.bootout,
    "enable": verbs.enable,
    "disable": verbs.disable,
    "kickstart": verbs.kickstart,
    "kill": verbs.kill,
    "print": info.print_,
    "print-disabled": info.print_disabled,
    "blame": info.blame,
    "error": info.error,
    "managerpid": info.managerpid,
    "manageruid": info.manageruid,
    "managername": info.managername,
    "help": info.help_,
    "list": legacy.list_,
    "start": legacy.start,
    "stop": legacy.stop,
    "load": legacy.load,
    "unload": legacy.unload,
}


def handle_launchctl(mgr: Manager, req: Request) -> Reply:
    if not req.argv:
        return Reply(rc=64, err=info.HELP)
    verb, args = req.argv[0], req.argv[1:]
    func = VERBS.get(verb)
    if func is None:
        return Reply(rc=1, err=f"Unrecognized subcommand: {verb}\n")  # FACTS 2.0
    try:
        reply = func(mgr, req, args)
    except LaunchctlError as exc:
        return Reply(rc=exc.rc, out=exc.out, err=exc.err)
    except Exception:
        log.exception("internal error handling %r from uid %d", req.argv, req.uid)
        return Reply(
            rc=BAD_RESPONSE, err=f"{verb}: {BAD_RESPONSE}: {strerror(BAD_RESPONSE)}\n"
        )
    log.info("uid %d pid %d: launchctl %s -> %d", req.uid, req.pid, " ".join(req.argv), reply.rc)
    return reply


def handle_admin(mgr: Manager, uid: int, message: dict[str, object]) -> Reply:
    """`{"admin": "ping"}` and `{"admin": "console", "uid": N, "on": bool}` (DESIGN.md)."""
    if uid != 0:
        return Reply(rc=1, err="admin requests need uid 0\n")
    action = message.get("admin")
    if action == "ping":
        return Reply(out="pong\n")
    if action == "console":
        target, on = message.get("uid"), message.get("on")
        if not isinstance(target, int) or isinstance(target, bool) or not isinstance(on, bool):
            return Reply(rc=64, err="console needs an integer uid and a boolean on\n")
        try:
            if on:
                if not login(mgr, target):
                    return Reply(rc=1, err=f"uid {target} is not in passwd\n")
            else:
                logout(mgr, target)
        except Exception:
            log.exception("console request failed")
            return Reply(rc=BAD_RESPONSE, err=f"{strerror(BAD_RESPONSE)}\n")
        return Reply()
    return Reply(rc=64, err=f"unknown admin request {action!r}\n")


def handle_ps(mgr: Manager, uid: int, pid: int, message: dict[str, object]) -> dict[str, object]:
    """`{"ps": true, "argv": [...], "env": bool, "cwd": bool}` from the ps shim: the rows this
    peer may see (environments only for `ps -E`, working directories only for lsof).

    Any uid may ask (ps is not privileged on a Mac); what it may read is decided by
    `proctable.visible_rows` from the peer's SO_PEERCRED uid (DESIGN.md)."""
    argv = message.get("argv")
    caller_argv = argv if isinstance(argv, list) and all(isinstance(a, str) for a in argv) else None
    try:
        base = proctable.proc_root(mgr.cfg.root)
        procs = proctable.read_table(base, with_env=message.get("env", True) is not False,
                                     with_cwd=message.get("cwd") is True)
        rows = proctable.visible_rows(procs, uid, pid, caller_argv)
        mem_kb = proctable.mem_total_kb(base)
    except Exception:
        log.exception("ps request from uid %d failed", uid)
        return {"rc": 1, "err": "ps: cannot read the process table\n"}
    users = {}
    for row in rows:
        for key in ("uid", "ruid"):
            account = mgr.accounts.by_uid(int(str(row[key])))
            if account is not None:
                users[str(row[key])] = account.name
    return {"rc": 0, "now": time.time(), "mem_kb": mem_kb, "users": users, "rows": rows}
