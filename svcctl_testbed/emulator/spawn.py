"""fork/exec of one job instance (FACTS 4: setsid, credentials, env, stdio)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from dataclasses import dataclass

from .accounts import Accounts
from .codes import EX_CONFIG
from .jobs import Domain
from .plists import JobSpec

log = logging.getLogger("launchd")

DEFAULT_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"  # _PATH_STDPATH (FACTS 3.3, 4)
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND


@dataclass(frozen=True)
class SpawnPlan:
    argv0: str
    args: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    uid: int | None  # None: stay root
    gid: int
    groups: tuple[int, ...]
    stdout: str | None
    stderr: str | None
    umask: int | None
    error: str | None = None  # credentials could not be resolved: fail at spawn


def plan_spawn(spec: JobSpec, domain: Domain, accounts: Accounts) -> SpawnPlan:
    """Decide who, where and with what environment the job runs; pure except for lookups."""
    account = None
    error = None
    gid = 0
    if domain.kind != "system":
        account = accounts.by_uid(domain.uid)  # agents run as the domain's uid
        if account is None:
            error = f"uid {domain.uid} not in passwd"
    elif spec.user_name is not None:
        # UserName/GroupName only apply in the system domain (FACTS 4)
        account = accounts.by_name(spec.user_name)
        if account is None:
            error = f"UserName {spec.user_name!r} does not exist"
    if account is not None:
        gid = account.gid
    if spec.group_name is not None and domain.kind == "system":
        group_gid = accounts.group_gid(spec.group_name)
        if group_gid is None:
            error = f"GroupName {spec.group_name!r} does not exist"
        else:
            gid = group_gid
    env: dict[str, str] = {}
    if account is not None:
        env.update(
            HOME=account.home,
            USER=account.name,
            LOGNAME=account.name,
            SHELL=account.shell or "/bin/sh",
            TMPDIR="/tmp/",
        )
    env["PATH"] = DEFAULT_PATH
    env.update(dict(spec.environment))
    env["XPC_SERVICE_NAME"] = spec.label  # always set (FACTS 3.4)
    groups: tuple[int, ...] = ()
    if account is not None:
        groups = tuple(accounts.supplementary_gids(account))
        if gid not in groups:
            groups = (gid, *groups)
    return SpawnPlan(
        argv0=spec.executable,
        args=spec.arguments,
        env=env,
        cwd=spec.working_directory or "/",
        uid=account.uid if account is not None else None,
        gid=gid,
        groups=groups,
        stdout=spec.stdout_path,
        stderr=spec.stderr_path,
        umask=spec.umask,
        error=error,
    )


def _open_output(path: str | None, fd: int) -> None:
    # Append, create, never truncate; default /dev/null (FACTS 4 StandardOutPath).
    target = -1
    if path is not None:
        try:
            target = os.open(path, _APPEND, 0o666)
        except OSError:
            target = -1  # [SRC-842] logs and continues
    if target < 0:
        target = os.open(os.devnull, os.O_WRONLY)
    os.dup2(target, fd)
    if target != fd:
        os.close(target)


def _child(plan: SpawnPlan) -> None:
    """Runs in the forked child; never returns (exec or _exit)."""
    signal.set_wakeup_fd(-1)
    os.setsid()  # session and process-group leader (FACTS 4 AbandonProcessGroup)
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if plan.error is not None:
        os._exit(EX_CONFIG)
    if plan.uid is not None:
        os.setgroups(list(plan.groups))
        os.setgid(plan.gid)
        os.setuid(plan.uid)
    elif plan.gid:
        os.setgid(plan.gid)
    try:
        os.chdir(plan.cwd)
    except OSError:
        os.chdir("/")  # [SRC-842] "non-existent working directory" and continues
    if plan.umask is not None:
        os.umask(plan.umask)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    if devnull != 0:
        os.close(devnull)
    _open_output(plan.stdout, 1)
    _open_output(plan.stderr, 2)
    if "/" in plan.argv0:
        os.execve(plan.argv0, list(plan.args), plan.env)  # noqa: S606 argv, no shell
    os.execvpe(plan.argv0, list(plan.args), plan.env)  # noqa: S606 argv, no shell


def spawn(plan: SpawnPlan) -> int:
    """Fork and exec; an exec failure makes the child exit 78 (EX_CONFIG), so the job is
    loaded and fails at spawn (FACTS 2.1: missing Program still bootstraps with 0)."""
    pid = os.fork()
    if pid == 0:
        try:
            _child(plan)
        finally:
            os._exit(EX_CONFIG)
    return pid
