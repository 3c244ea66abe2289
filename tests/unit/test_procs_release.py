"""Process identity for releases (issue 13): `{{ release }}` matches any release.

The probe's output is written in BSD ps's layout (FACTS 5.2: pid, ppid, uid, pgid
right-justified in 5 columns, lstart left-justified in 28, one space between columns),
followed by its cwd (lsof -Fn) and real-path parts, and read by `parse_probe` as audit
reads it. The verdicts come from `classify_service` with the templated spec, which is what
audit and deploy pass (they do not know the id).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from svcctl.model import RELEASE_TOKEN, Instance, JobState, ReleaseSpec, ServiceSpec, Verdict
from svcctl.ops.audit import AuditReport, HostReport
from svcctl.output import audit_text, instance_json
from svcctl.procs import (
    Match,
    classify_service,
    identity_paths,
    match_process,
    matcher_for,
    parse_probe,
)
from svcctl.procs.ps import CWD_MARK, REAL_MARK

ROOT = "/Users/ops/shiva"
TARGET = "user/501/com.example.shiva"
LSTART = "Tue Jun 17 09:00:00 2025"


def shiva(
    program: tuple[str, ...] = ("/usr/bin/python3", f"{RELEASE_TOKEN}/main.py"),
    working_directory: str | None = None,
) -> ServiceSpec:
    return ServiceSpec(
        name="shiva",
        label="com.example.shiva",
        hosts=("tesseract",),
        program=program,
        working_directory=working_directory,
        release=ReleaseSpec(root=ROOT, source="/ci/build"),
    )


def bsd_row(pid: int, ppid: int, command: str, user: str = "ops", uid: int = 501) -> str:
    return f"{pid:>5} {ppid:>5} {uid:>5} {user:<4} {pid:>5} {LSTART:<28} {command}"


def probe_text(
    rows: Sequence[tuple[int, int, str]],
    cwds: dict[int, str] | None = None,
    real: dict[str, str] | None = None,
) -> str:
    """What svcctl/scripts/ps_probe.sh prints: ps's rows, `--- cwd`, lsof's fields,
    `--- real`, then `r<path>`/`R<real path>` pairs."""
    lines = [bsd_row(1, 0, "/sbin/launchd", "root", 0)]
    lines += [bsd_row(pid, ppid, cmd) for pid, ppid, cmd in rows]
    lines.append(CWD_MARK)
    for pid, cwd in (cwds or {}).items():
        lines += [f"p{pid}", "fcwd", f"n{cwd}"]
    lines.append(REAL_MARK)
    for path, resolved in (real or {}).items():
        lines += [f"r{path}", f"R{resolved}"]
    return "\n".join(lines) + "\n"


def running(pid: int) -> JobState:
    return JobState(label="com.example.shiva", source="print", pid=pid, state="running")


def audit(text: str, launchd_pid: int | None, svc: ServiceSpec | None = None) -> tuple[
    Verdict, dict[int, Instance]
]:
    probe = parse_probe(text)
    job = running(launchd_pid) if launchd_pid is not None else None
    f = classify_service(svc or shiva(), "tesseract", TARGET, job, probe.procs,
                         assigned=True, real_paths=probe.real)
    return f.verdict, {i.proc.pid: i for i in f.instances}


def test_launchds_instance_runs_the_concrete_release() -> None:
    verdict, inst = audit(probe_text([(900, 1, f"/usr/bin/python3 {ROOT}/releases/v2/main.py")]),
                          900)
    assert verdict is Verdict.OK
    assert inst[900].managed and inst[900].release == "v2"


def test_a_stray_running_an_old_release_is_found_with_its_release() -> None:
    text = probe_text([
        (900, 1, f"/usr/bin/python3 {ROOT}/releases/v2/main.py"),
        (850, 1, f"/usr/bin/python3 {ROOT}/releases/v1/main.py"),
    ])
    verdict, inst = audit(text, 900)
    assert verdict is Verdict.DUPLICATE
    assert (inst[900].managed, inst[900].release) == (True, "v2")
    assert (inst[850].managed, inst[850].release) == (False, "v1")
    assert "stray" in inst[850].reason


def test_current_is_told_by_the_release_the_probe_resolved() -> None:
    text = probe_text(
        [(851, 1, f"python3 {ROOT}/current/main.py")],
        real={f"{ROOT}/current/main.py": f"{ROOT}/releases/v7/main.py"},
    )
    verdict, inst = audit(text, None)
    assert verdict is Verdict.STRAY and inst[851].release == "v7"


def test_current_unresolved_reads_current() -> None:
    verdict, inst = audit(probe_text([(851, 1, f"python3 {ROOT}/current/main.py")]), None)
    assert verdict is Verdict.STRAY and inst[851].release == "current"


def test_a_link_elsewhere_into_a_release_is_matched_by_its_real_path() -> None:
    text = probe_text([(852, 1, "python3 /opt/shiva-link/main.py")],
                      real={"/opt/shiva-link/main.py": f"{ROOT}/releases/v3/main.py"})
    verdict, inst = audit(text, None)
    assert verdict is Verdict.STRAY and inst[852].release == "v3"


@pytest.mark.parametrize(
    "command",
    [
        f"/usr/bin/python3 {ROOT}2/releases/v1/main.py",  # a sibling root
        f"/usr/bin/python3 {ROOT}2/current/main.py",
        f"/usr/bin/python3 {ROOT}/releases/.incoming-x/main.py",  # a half-uploaded release
        f"/usr/bin/python3 {ROOT}/releases/v1/sub/main.py",  # not the release dir itself
        f"/usr/bin/python3 {ROOT}/releases/main.py",
        f"/usr/bin/python3 {ROOT}/currently/main.py",
        f"/usr/bin/python3 {ROOT}/releases/v1/main.pyc",
        f"/usr/bin/python3 /x{ROOT}/releases/v1/main.py",
        f"/usr/bin/python3 {ROOT}/shared/main.py",
    ],
)
def test_paths_that_only_resemble_a_release_are_not_instances(command: str) -> None:
    verdict, inst = audit(probe_text([(860, 1, command)]), None)
    assert verdict is Verdict.DOWN and inst == {}
    # and it is not taken for an instance by name alone either
    kind = match_process(parse_probe(probe_text([(860, 1, command)])).procs[1],
                         matcher_for(shiva()))
    assert kind in (Match.DECOY, Match.NONE)


def test_relative_invocation_with_cwd_inside_a_release() -> None:
    """issue 10's cwd mechanism: `cd releases/v1 && python3 main.py` (lsof's cwd)."""
    text = probe_text([(870, 1, "python3 main.py")], cwds={870: f"{ROOT}/releases/v1"})
    verdict, inst = audit(text, None)
    assert verdict is Verdict.STRAY and inst[870].release == "v1"


def test_relative_invocation_without_cwd_is_hidden_not_instance() -> None:
    verdict, inst = audit(probe_text([(871, 1, "python3 main.py")]), None)
    assert verdict is Verdict.UNINSPECTABLE and inst == {}


def test_working_directory_in_the_release() -> None:
    """`program: [python3, main.py]` with `working_directory: {{ release }}`."""
    svc = shiva(("/usr/bin/python3", "main.py"), working_directory=RELEASE_TOKEN)
    text = probe_text([
        (900, 1, "/usr/bin/python3 main.py"),
        (880, 1, f"/usr/bin/python3 {ROOT}/releases/v1/main.py"),
    ], cwds={900: f"{ROOT}/releases/v2"})
    verdict, inst = audit(text, 900, svc)
    assert verdict is Verdict.DUPLICATE
    assert (inst[900].release, inst[880].release) == ("v2", "v1")


def test_a_binary_in_the_release() -> None:
    svc = shiva((f"{RELEASE_TOKEN}/bin/shiva", "--port", "9100"))
    text = probe_text([
        (900, 1, f"{ROOT}/releases/2026-12-01.a1b2c3d/bin/shiva --port 9100"),
        (890, 1, f"{ROOT}/releases/.incoming-2026/bin/shiva --port 9100"),
    ])
    verdict, inst = audit(text, 900, svc)
    assert verdict is Verdict.OK and set(inst) == {900}
    assert inst[900].release == "2026-12-01.a1b2c3d"


def test_a_service_without_release_carries_none() -> None:
    svc = ServiceSpec(name="shiva", label="com.example.shiva", hosts=("tesseract",),
                      program=("/usr/bin/python3", f"{ROOT}/releases/v2/main.py"))
    verdict, inst = audit(probe_text([(900, 1, f"python3 {ROOT}/releases/v2/main.py")]),
                          900, svc)
    assert verdict is Verdict.OK and inst[900].release is None


def test_the_probe_resolves_the_release_through_current() -> None:
    """The token names no file: the probe is asked for `<root>/current/...`, whose real
    path tells the current release."""
    assert identity_paths(shiva()) == ["/usr/bin/python3", f"{ROOT}/current/main.py"]
    text = probe_text([], real={f"{ROOT}/current/main.py": f"{ROOT}/releases/v7/main.py"})
    assert matcher_for(shiva(), parse_probe(text).real).current_release == "v7"
    assert matcher_for(shiva()).current_release is None
    stale = {f"{ROOT}/current/main.py": f"{ROOT}/releases/.incoming-v8/main.py"}
    assert matcher_for(shiva(), stale).current_release is None


def _text(svc: ServiceSpec, command: str) -> tuple[str, dict[str, object]]:
    probe = parse_probe(probe_text([(850, 1, command)]))
    f = classify_service(svc, "tesseract", TARGET, None, probe.procs, assigned=True,
                         real_paths=probe.real)
    report = AuditReport((HostReport("tesseract", True, (f,)),))
    return audit_text(report), instance_json(f.instances[0])


def test_audit_output_names_the_release() -> None:
    text, doc = _text(shiva(), f"/usr/bin/python3 {ROOT}/releases/v1/main.py")
    assert doc["release"] == "v1"
    stray = next(line for line in text.splitlines() if "STRAY" in line)
    assert stray.endswith(f"release v1  /usr/bin/python3 {ROOT}/releases/v1/main.py")


def test_audit_text_without_a_release_is_unchanged() -> None:
    plain = ServiceSpec(name="shiva", label="com.example.shiva", hosts=("tesseract",),
                        program=("/usr/bin/python3", f"{ROOT}/main.py"))
    text, doc = _text(plain, f"/usr/bin/python3 {ROOT}/main.py")
    assert doc["release"] is None
    stray = next(line for line in text.splitlines() if "STRAY" in line)
    assert stray == (f"      STRAY   pid 850     ppid 1       user ops      started {LSTART}  "
                     f"/usr/bin/python3 {ROOT}/main.py")
