"""fork/exec of one job instance (FACTS 4: setsid, credentials, env, stdio)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from dataclasses import dataclass

from .accounts import Account, Accounts
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


def _account(
    spec: JobSpec, domain: Domain, accounts: Accounts
) -> tuple[Account | None, str | None]:
    """Whom the job runs as (None: root), and why that cannot be resolved, if it cannot."""
    if domain.kind != "system":
        account = accounts.by_uid(domain.uid)  # agents run as the domain's uid
        if account is None:
            return None, f"uid {domain.uid} not in passwd"
        return account, None
    if spec.user_name is None:
        return None, None
    # UserName/GroupName only apply in the system domain (FACTS 4)
    account = accounts.by_name(spec.user_name)
    if account is None:
        return None, f"UserName {spec.user_name!r} does not exist"
    return account, None


def _primary_gid(
    spec: JobSpec, domain: Domain, accounts: Accounts, account: Account | None
) -> tuple[int, str | None]:
    """GroupName's gid in the system domain, else the account's; and a lookup failure."""
    gid = account.gid if account is not None else 0
    if spec.group_name is None or domain.kind != "system":
        return gid, None
    group_gid = accounts.group_gid(spec.group_name)
    if group_gid is None:
        return gid, f"GroupName {spec.group_name!r} does not exist"
    return group_gid, None


def _environment(spec: JobSpec, account: Account | None) -> dict[str, str]:
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
    return env


def _groups(accounts: Accounts, account: Account | None, gid: int) -> tuple[int, ...]:
    """The supplementary groups, led by the primary gid when they lack it; none for root."""
    if account is None:
        return ()
    groups = tuple(accounts.supplementary_gids(account))
    return groups if gid in groups else (gid, *groups)


def plan_spawn(spec: JobSpec, domain: Domain, accounts: Accounts) -> SpawnPlan:
    """Decide who, where and with what environment the job runs; pure except for lookups."""
    account, account_error = _account(spec, domain, accounts)
    gid, group_error = _primary_gid(spec, domain, accounts, account)
    env = _environment(spec, account)
    return SpawnPlan(
        argv0=spec.executable,
        args=spec.arguments,
        env=env,
        cwd=spec.working_directory or "/",
        uid=account.uid if account is not None else None,
        gid=gid,
        groups=_groups(accounts, account, gid),
        stdout=spec.stdout_path,
        stderr=spec.stderr_path,
        umask=spec.umask,
        error=group_error if group_error is not None else account_error,
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
    loaded and fails at spawn (FACTS 2.1: missing Program still bootstraps with 0).

    Every signal is blocked across the fork. Until `_child` has reset them, the child
    shares PID 1's C signal handler and its self-pipe (server.py, set_wakeup_fd): a
    SIGTERM for the new job (a bootout right after a respawn) was written to launchd's
    own pipe, and launchd shut the host down. Blocked, it waits in the child until its
    handlers are the defaults, and stops the job alone (FACTS 2.2)."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _child(plan)  # unblocks, with the default handlers in place
            finally:
                os._exit(EX_CONFIG)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return pid
