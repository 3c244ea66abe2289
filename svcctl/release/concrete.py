"""A service bound to one release (issue 13): `{{ release }}` replaced by its directory.

The inventory writes `{{ release }}` where a service names its code; what launchd gets is
the concrete `<root>/releases/<id>`, never `current`, so the plist says which release a
job runs and `ps` shows it for every process (see ReleaseSpec). Pure: strings in, a copy of
the spec out.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from svcctl.model import RELEASE_TOKEN, HealthCheck, ReleaseSpec, ServiceSpec


def release_path(spec: ReleaseSpec, release_id: str) -> str:
    """`<root>/releases/<id>`: where release `release_id` lives on the host."""
    return posixpath.join(spec.root, "releases", release_id)


def for_release(svc: ServiceSpec, release_id: str) -> ServiceSpec:
    """`svc` with every `{{ release }}` in program, runs, working_directory, environment
    values, stdout/stderr paths and the health command replaced by the release's path.

    A service without `release` is returned as it is (the same object).
    """
    if svc.release is None:
        return svc
    path = release_path(svc.release, release_id)

    def sub(text: str) -> str:
        return text.replace(RELEASE_TOKEN, path)

    def sub_opt(text: str | None) -> str | None:
        return None if text is None else sub(text)

    def sub_argv(argv: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if argv is None else tuple(sub(a) for a in argv)

    health = svc.health
    if health is not None and health.command is not None:
        health = replace(health, command=sub_argv(health.command))
    return replace(
        svc,
        program=tuple(sub(a) for a in svc.program),
        runs=sub_argv(svc.runs),
        working_directory=sub_opt(svc.working_directory),
        environment={k: sub(v) for k, v in svc.environment.items()},
        stdout_path=sub_opt(svc.stdout_path),
        stderr_path=sub_opt(svc.stderr_path),
        health=health,
    )


def current_health(svc: ServiceSpec) -> HealthCheck | None:
    """The health check as verify runs it: `{{ release }}` in its command stands for
    `<root>/current`, the release just started (deploy and rollback switch `current`
    before they start; start and restart run the job as installed). Never the token
    itself, which names no file."""
    check = svc.health
    if svc.release is None or check is None or check.command is None:
        return check
    here = posixpath.join(svc.release.root, "current")
    return replace(check, command=tuple(a.replace(RELEASE_TOKEN, here) for a in check.command))
