"""Read-only verbs: print, print-disabled, blame, error, manager*, help (FACTS 2.6, 2.7, 2.12)."""

from __future__ import annotations

from .codes import ESRCH, LaunchctlError, strerror
from .formats import render_disabled, render_domain, render_service
from .jobs import Job
from .manager import Manager
from .request import USAGE, Reply, Request, find_job, resolve_domain, usage_error
from .targets import parse_target

HELP = """\
Usage: launchctl <subcommand> ... | help [subcommand]
Many subcommands take a target specifier that refers to a domain or service
within that domain. The available specifier forms are:

system/[service-name]
user/<uid>/[service-name]
gui/<uid>/[service-name]
login/<asid>/[service-name]
pid/<pid>/[service-name]

Subcommands:
\tbootstrap       Bootstraps a domain or a service into a domain.
\tbootout         Tears down a domain or removes a service from a domain.
\tenable          Enables an existing service.
\tdisable         Disables an existing service.
\tkickstart       Forces an existing service to start.
\tkill            Sends a signal to the service instance.
\tblame           Prints the reason a service is running.
\tprint           Prints a description of a domain or service.
\tprint-disabled  Prints which services are disabled.
\tlist            Lists information about services.
\tstart           Starts the specified service.
\tstop            Stops the specified service if it is running.
\tload            Bootstraps a service or directory of services.
\tunload          Unloads a service or directory of services.
\tmanagerpid      Prints the PID of the launchd controlling the session.
\tmanageruid      Prints the UID of the current launchd session.
\tmanagername     Prints the name of the current launchd session.
\terror           Prints a description of an error.
\thelp            Prints the usage for a given subcommand.
"""


def _owner_names(mgr: Manager, job: Job) -> tuple[str | None, str | None]:
    spec = job.spec
    if job.domain.kind != "system" or spec.user_name is None:
        return None, None
    account = mgr.accounts.by_name(spec.user_name)
    group = spec.group_name
    if group is None and account is not None:
        group = mgr.accounts.group_name(account.gid)
    return spec.user_name, group


def print_(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1:
        raise usage_error("print")
    target = parse_target(args[0], usage_error("print").err)
    domain = resolve_domain(mgr, target, req)  # anyone may read (FACTS 1.1)
    if target.name is None:
        disabled = mgr.overrides.read(domain.kind, domain.uid)
        return Reply(out=render_domain(domain, disabled, mgr.cfg.print_disabled_style))
    job = find_job(domain, target.name)
    username, group = _owner_names(mgr, job)
    text = render_service(
        job, mgr.throttle_interval(job), mgr.exit_timeout(job), username, group
    )
    return Reply(out=text)


def print_disabled(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1:
        raise usage_error("print-disabled")
    target = parse_target(args[0], usage_error("print-disabled").err)
    domain = resolve_domain(mgr, target, req)
    entries = mgr.overrides.read(domain.kind, domain.uid)
    return Reply(out=render_disabled(entries, mgr.cfg.print_disabled_style))


def blame(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1:
        raise usage_error("blame")
    target = parse_target(args[0], usage_error("blame").err)
    if target.name is None:
        raise usage_error("blame")
    job = find_job(resolve_domain(mgr, target, req), target.name)
    if job.pid is None:
        raise LaunchctlError(ESRCH, "No process to signal.")  # [REIMPL] reuse (FACTS 2.11)
    return Reply(out=f"{job.immediate_reason or 'speculative'}\n")


def error(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if len(args) != 1 or not args[0].lstrip("-").isdigit():
        raise usage_error("error")
    code = int(args[0])
    return Reply(out=f"{code}: {strerror(code)}\n")


def managerpid(mgr: Manager, req: Request, args: list[str]) -> Reply:
    return Reply(out="1\n")


def manageruid(mgr: Manager, req: Request, args: list[str]) -> Reply:
    return Reply(out=f"{req.uid}\n")


def managername(mgr: Manager, req: Request, args: list[str]) -> Reply:
    # Callers arrive over SSH, the `Background` session (FACTS 1.4).
    return Reply(out="Background\n")


def help_(mgr: Manager, req: Request, args: list[str]) -> Reply:
    if args:
        usage = USAGE.get(args[0])
        if usage is None:
            return Reply(rc=1, err=f"Unrecognized subcommand: {args[0]}\n")
        return Reply(out=usage + "\n")
    return Reply(out=HELP)
