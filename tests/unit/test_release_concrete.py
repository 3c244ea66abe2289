"""for_release (issue 13): `{{ release }}` becomes `<root>/releases/<id>` wherever a
service names its code, and nowhere else."""

from __future__ import annotations

import re

from svcctl.model import RELEASE_TOKEN, HealthCheck, ReleaseSpec, ServiceSpec
from svcctl.release.concrete import for_release, release_path

R = RELEASE_TOKEN
SPEC = ReleaseSpec(root="/Users/ops/shiva", source="/src/build", keep=3, shared=("state",))


def _svc(**kw: object) -> ServiceSpec:
    base: dict[str, object] = {
        "name": "shiva", "label": "com.example.shiva", "hosts": ("a",),
        "program": (f"{R}/run.sh", "--flag", f"--root={R}/x"),
    }
    base.update(kw)
    return ServiceSpec(**base)  # type: ignore[arg-type]


def test_release_path() -> None:
    assert release_path(SPEC, "20261201-1200-abc") == "/Users/ops/shiva/releases/20261201-1200-abc"


def test_every_field_is_made_concrete() -> None:
    svc = _svc(
        release=SPEC,
        runs=("/usr/bin/python3", f"{R}/main.py"),
        working_directory=R,
        environment={"APP": f"{R}/app:{R}/lib", "PLAIN": "x"},
        stdout_path=f"{R}/../logs/out.log",
        stderr_path=f"{R}/err.log",
        health=HealthCheck(command=(f"{R}/check", "now"), timeout=2.0),
        match=re.compile(r"main\.py"),
    )
    got = for_release(svc, "r1")
    p = "/Users/ops/shiva/releases/r1"
    assert got.program == (f"{p}/run.sh", "--flag", f"--root={p}/x")
    assert got.runs == ("/usr/bin/python3", f"{p}/main.py")
    assert got.working_directory == p
    assert dict(got.environment) == {"APP": f"{p}/app:{p}/lib", "PLAIN": "x"}
    assert got.stdout_path == f"{p}/../logs/out.log"
    assert got.stderr_path == f"{p}/err.log"
    assert got.health == HealthCheck(command=(f"{p}/check", "now"), timeout=2.0)
    # everything else is kept, the original is untouched
    assert got.release == SPEC and got.match is svc.match and got.label == svc.label
    assert svc.program[0] == f"{R}/run.sh" and svc.environment["APP"].startswith(R)


def test_absent_fields_stay_absent() -> None:
    got = for_release(_svc(release=SPEC, health=HealthCheck(tcp_port=8080)), "r2")
    assert got.runs is None and got.working_directory is None
    assert got.stdout_path is None and got.stderr_path is None
    assert got.health == HealthCheck(tcp_port=8080)
    assert got.program[0] == "/Users/ops/shiva/releases/r2/run.sh"


def test_without_release_unchanged() -> None:
    svc = _svc()
    assert for_release(svc, "r1") is svc


def test_only_the_exact_token() -> None:
    got = for_release(_svc(release=SPEC, program=("{{release}}/a", "{{ release }}/b")), "r3")
    assert got.program == ("{{release}}/a", "/Users/ops/shiva/releases/r3/b")
