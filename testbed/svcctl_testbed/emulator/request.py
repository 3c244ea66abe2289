"""Requests, replies and the lookups every verb shares (FACTS 1.3, 1.4, 2.7)."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import NO_DOMAIN, NO_SERVICE, LaunchctlError
from .jobs import Domain, Job
from .manager import Manager
from .targets import Target, domain_description


@dataclass(frozen=True)
class Request:
    argv: list[str]
    cwd: str
    tty: bool
    uid: int  # from SO_PEERCRED, never from the request (DESIGN.md)
    pid: int


@dataclass
class Reply:
    rc: int = 0
    out: str = ""
    err: str = ""
    wait_for: Job | None = None  # `bootout --wait`: send once this job is removed


USAGE = {
    "bootstrap": "Usage: launchctl bootstrap <domain-target> [service-path, service-path2, ...]",
    "bootout": "Usage: launchctl bootout [--wait] <domain-target> [service-path1, ...] | "
    "<service-target>",
    "enable": "Usage: launchctl enable <service-target>",
    "disable": "Usage: launchctl disable <service-target>",
    "kickstart": "Usage: launchctl kickstart [-k] [-p] [-s] <service-target>",
    "kill": "Usage: launchctl kill <signal-number|signal-name> <service-target>",
    "print": "Usage: launchctl print <domain-target> | <service-target>",
    "print-disabled": "Usage: launchctl print-disabled <domain-target>",
    "blame": "Usage: launchctl blame <service-target>",
    "list": "Usage: launchctl list [service-name]",
    "start": "Usage: launchctl start <service-name>",
    "stop": "Usage: launchctl stop <service-name>",
    "load": "Usage: launchctl load [-wF] [-S sessiontype] [-D searchpath] <paths ...>",
    "unload": "Usage: launchctl unload [-wF] [-S sessiontype] [-D searchpath] <paths ...>",
    "error": "Usage: launchctl error <error-code>",
}


def usage_error(verb: str) -> LaunchctlError:
    return LaunchctlError(64, USAGE.get(verb, f"Usage: launchctl {verb}"))


def resolve_domain(mgr: Manager, target: Target, req: Request) -> Domain:
    """A missing domain (e.g. gui without a console login) is error 112 (FACTS 1.4)."""
    domain = mgr.domain(target.kind, target.handle, create_for=req.uid)
    if domain is None:
        raise LaunchctlError(
            NO_DOMAIN, f"Could not find domain for {domain_description(target.kind, target.handle)}"
        )
    return domain


def not_found(label: str, domain: Domain) -> LaunchctlError:
    where = domain_description(domain.kind, domain.uid)
    return LaunchctlError(NO_SERVICE, f'Could not find service "{label}" in domain for {where}')


def find_job(domain: Domain, label: str) -> Job:
    job = domain.jobs.get(label)
    if job is None:
        raise not_found(label, domain)
    return job


def may_modify(uid: int, domain: Domain) -> bool:
    """system: root only; user/gui: that uid or root (FACTS 1.3)."""
    return uid == 0 or (domain.kind != "system" and domain.uid == uid)


def caller_domain(mgr: Manager, req: Request) -> Domain:
    """Legacy verbs: root -> system, others -> user/<uid> (FACTS 1.3, task brief)."""
    if req.uid == 0:
        return mgr.system
    domain = mgr.domain("user", req.uid, create_for=req.uid)
    assert domain is not None  # created for the caller's own uid
    return domain
