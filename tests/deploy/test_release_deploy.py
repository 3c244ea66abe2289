"""`svcctl deploy` ships a service's release (issue 13).

The pure plan: a service with `release:` uploads the release before the plist (or says why
nothing is sent), switches `current` between stop and start, prunes after verify; a
service without one plans exactly what it always did; a restart ships nothing.
"""

from __future__ import annotations

from dataclasses import replace

from svcctl.model import Domain, DomainKind, HostSpec, ReleaseSpec, ServiceSpec
from svcctl.ops.plan import DeployOptions, ReleaseHere, deploy_steps, plan_deploy

ROOT = "/Users/ops/shiva"
PLAIN = ServiceSpec("shiva", "com.example.shiva", ("tesseract",),
                    ("/usr/bin/python3", "/Users/ops/shiva/main.py"), exit_timeout=3)
SVC = replace(PLAIN, program=("/usr/bin/python3", "{{ release }}/main.py"),
              release=ReleaseSpec(ROOT, "/src/shiva", keep=3))
SPEC = HostSpec("tesseract", Domain(DomainKind.USER, 501), home="/Users/ops")
PATH = "/Users/ops/Library/LaunchAgents/com.example.shiva.plist"


OPTS = DeployOptions()


def _plan(svc: ServiceSpec, opts: DeployOptions = OPTS,
          shipped: ReleaseHere | None = None) -> list[tuple[str, str]]:
    steps = plan_deploy(svc, SPEC, PATH, loaded=True, installed=True, opts=opts,
                        hosts_checked=["tesseract"], shipped=shipped)
    return [(s.kind, s.action) for s in steps]


def test_a_release_deploy_uploads_switches_between_stop_and_start_and_prunes_last() -> None:
    plan = _plan(SVC, shipped=ReleaseHere("v2", present=False))
    kinds = [k for k, _ in plan]
    assert kinds == ["lock", "preflight", "upload", "stop", "switch", "start", "verify",
                     "prune", "unlock"]
    said = dict(plan)
    assert "release root /Users/ops/shiva checked" in said["preflight"]
    upload = said["upload"]
    assert upload.startswith("release v2: send it to /Users/ops/shiva/releases/v2")
    assert upload.index("release v2") < upload.index(f"write {PATH}")
    assert "/Users/ops/shiva/current" in said["switch"] and "releases/v2" in said["switch"]
    assert "keep the newest 3 releases" in said["prune"]


def test_a_release_already_on_the_host_is_not_sent_and_the_plan_says_so() -> None:
    said = dict(_plan(SVC, shipped=ReleaseHere("v2", present=True)))
    assert said["upload"].startswith("release v2: already at /Users/ops/shiva/releases/v2 "
                                     "with the same checksum, nothing to send")


def test_a_service_without_release_plans_what_it_always_did() -> None:
    plain = _plan(PLAIN)
    assert [k for k, _ in plain] == ["lock", "preflight", "upload", "stop", "start", "verify",
                                     "unlock"]
    # byte for byte the same whatever the deploy options say of a release
    assert _plan(PLAIN, DeployOptions(release_id="v9")) == plain
    assert not any("release" in d for _, d in plain)


def test_a_restart_of_a_release_service_ships_nothing() -> None:
    steps = deploy_steps(SVC, SPEC, PATH, loaded=True, installed=True,
                         opts=DeployOptions(upload=False), here=None,
                         shipped=ReleaseHere("v2", present=False))
    assert [s.kind for s in steps] == ["stop", "start", "verify"]
