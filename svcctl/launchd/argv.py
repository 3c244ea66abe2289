"""launchctl argv builders: commands are argv lists, quoted once at the SSH boundary."""

from __future__ import annotations

from svcctl.model import Domain

LAUNCHCTL = "launchctl"


def list_argv(label: str | None = None) -> list[str]:
    # legacy `list` sees only the caller's own domain and takes a bare label (FACTS 2.8)
    return [LAUNCHCTL, "list"] if label is None else [LAUNCHCTL, "list", label]


def print_argv(domain: Domain, label: str | None = None) -> list[str]:
    target = domain.target if label is None else domain.service_target(label)
    return [LAUNCHCTL, "print", target]


def print_disabled_argv(domain: Domain) -> list[str]:
    # `print` never shows a service's disabled flag; only print-disabled does (FACTS 2.5)
    return [LAUNCHCTL, "print-disabled", domain.target]


def bootstrap_argv(domain: Domain, path: str) -> list[str]:
    return [LAUNCHCTL, "bootstrap", domain.target, path]


def bootout_argv(domain: Domain, label: str) -> list[str]:
    # the service-target form: "not loaded" is a clean 3, not the ambiguous 5 (FACTS 2.2)
    return [LAUNCHCTL, "bootout", domain.service_target(label)]


def kickstart_argv(domain: Domain, label: str, *, k: bool = False, p: bool = False) -> list[str]:
    flags = "".join(f for f, on in (("k", k), ("p", p)) if on)
    opt = [f"-{flags}"] if flags else []
    return [LAUNCHCTL, "kickstart", *opt, domain.service_target(label)]


def enable_argv(domain: Domain, label: str) -> list[str]:
    return [LAUNCHCTL, "enable", domain.service_target(label)]


def disable_argv(domain: Domain, label: str) -> list[str]:
    return [LAUNCHCTL, "disable", domain.service_target(label)]


def kill_argv(domain: Domain, label: str, signal: str = "SIGTERM") -> list[str]:
    return [LAUNCHCTL, "kill", signal, domain.service_target(label)]
