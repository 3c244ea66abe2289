"""Deployed but not restarted (issue 13): launchd's instance runs another release than
`current`, judged by audit's pure assessment (`svcctl.assess.service.assess_host`).

launchd's record is a real capture (`print_service/nix_daemon_system_running_macos26_6_2`:
a `system` job running as pid 383; only its pid and state matter here). The ps rows and
the real paths beside it are written as svcctl/scripts/ps_probe.sh prints them
(test_procs_release's `probe_text`: BSD ps's layout, FACTS 5.2; `--- real` then
`r<path>`/`R<real path>`): the probe asks for the real path of `<root>/current/main.py`,
which tells the release `current` links to.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from svcctl.assess.exits import Output
from svcctl.assess.release import judge_release
from svcctl.assess.service import ProbeOutputs, ServiceOutputs, assess_host
from svcctl.model import (
    HARMLESS,
    RELEASE_TOKEN,
    Domain,
    DomainKind,
    Finding,
    HostSpec,
    ReleaseSpec,
    ServiceSpec,
    Verdict,
)
from svcctl.ops import gate
from svcctl.ops.adopt import plan_adopt
from svcctl.ops.audit import AuditReport, HostReport
from svcctl.ops.control import RUNNING
from svcctl.output import audit_json, audit_text, next_step
from tests.unit.captures import capture
from tests.unit.test_procs_release import probe_text

LABEL = "org.nixos.nix-daemon"  # the capture's label: launchd's pid 383, running
PRINT = capture("print_service/nix_daemon_system_running_macos26_6_2.txt")
ROOT = "/Users/ops/shiva"
SHIVA = ServiceSpec("shiva", LABEL, ("builder",), ("/usr/bin/python3", f"{RELEASE_TOKEN}/main.py"),
                    keep_alive=True, release=ReleaseSpec(root=ROOT, source="/ci/build"))
PLAIN = ServiceSpec("shiva", LABEL, ("builder",), ("/usr/bin/python3", f"{ROOT}/main.py"),
                    keep_alive=True)
BUILDER = HostSpec("builder", Domain(DomainKind.SYSTEM))
OTHER = HostSpec("other", Domain(DomainKind.SYSTEM))
CURRENT_V2 = {f"{ROOT}/current/main.py": f"{ROOT}/releases/v2/main.py"}


def audit(rows: list[tuple[int, int, str]], real: dict[str, str] | None = None, *,
          svc: ServiceSpec = SHIVA, spec: HostSpec = BUILDER) -> Finding:
    table: Output = (0, probe_text(rows, real=real), "")
    outputs = ProbeOutputs(table, {}, {svc.name: ServiceOutputs((0, PRINT, ""), "")})
    [finding] = assess_host(spec, [svc], outputs)
    return finding


def runs(release: str) -> str:
    return f"/usr/bin/python3 {ROOT}/{release}/main.py"


def test_launchds_instance_on_an_old_release_is_stale() -> None:
    f = audit([(383, 1, runs("releases/v1"))], CURRENT_V2)
    assert f.verdict is Verdict.STALE, f.detail
    assert f.detail == ("deployed but not restarted: launchd's pid 383 runs release v1, "
                        "current is v2")
    assert f.current_release == "v2"
    [inst] = f.instances
    assert (inst.managed, inst.release) == (True, "v1")
    assert Verdict.STALE not in HARMLESS and Verdict.STALE.value == "stale"
    assert next_step(f) == "svcctl rollback shiva --to v2 --host builder"


def test_a_newer_release_than_current_is_stale_too() -> None:
    """`current` switched back by hand (a manual rollback) and launchd never restarted."""
    f = audit([(383, 1, runs("releases/v3"))], CURRENT_V2)
    assert f.verdict is Verdict.STALE and "runs release v3, current is v2" in f.detail


def test_launchds_instance_on_current_is_ok() -> None:
    f = audit([(383, 1, runs("releases/v2"))], CURRENT_V2)
    assert (f.verdict, f.current_release) == (Verdict.OK, "v2")
    assert f.instances[0].release == "v2"


def test_launchds_instance_through_current_is_ok() -> None:
    """A plist written by hand naming `current/`: the probe resolves it to current's id."""
    f = audit([(383, 1, runs("current"))], CURRENT_V2)
    assert (f.verdict, f.instances[0].release) == (Verdict.OK, "v2")


@pytest.mark.parametrize("real", [
    {},  # no `current` on the host, or the probe could not resolve it
    {f"{ROOT}/current/main.py": f"{ROOT}/releases/.incoming-v2/main.py"},  # not a release
    {f"{ROOT}/current/main.py": "/opt/elsewhere/main.py"},
])
def test_current_untold_is_never_a_guess(real: dict[str, str]) -> None:
    f = audit([(383, 1, runs("releases/v1"))], real)
    assert (f.verdict, f.current_release) == (Verdict.OK, None), f.detail
    assert f.instances[0].release == "v1"


def test_the_instances_release_untold_is_never_a_guess() -> None:
    """launchd's pid runs the service by a path that names no release (a `current` the
    probe did not resolve for it): no `stale`."""
    f = audit([(383, 1, "/usr/bin/python3 /opt/shiva-link/main.py")],
              {**CURRENT_V2, "/opt/shiva-link/main.py": f"{ROOT}/current/main.py"})
    assert f.verdict is Verdict.OK and f.current_release == "v2"
    assert f.instances[0].release == "current"


def test_a_duplicate_stays_duplicate_and_says_stale_in_its_detail() -> None:
    f = audit([(383, 1, runs("releases/v1")), (950, 1, runs("releases/v2"))], CURRENT_V2)
    assert f.verdict is Verdict.DUPLICATE
    assert f.detail.endswith("; also, deployed but not restarted: launchd's pid 383 runs "
                             "release v1, current is v2")
    assert next_step(f) == "svcctl adopt shiva --host builder"


def test_a_stray_on_an_old_release_is_a_stray() -> None:
    f = audit([(950, 1, runs("releases/v1"))], CURRENT_V2)
    assert f.verdict is Verdict.STRAY and f.instances[0].release == "v1"


def test_a_hidden_candidate_keeps_the_view_partial() -> None:
    f = audit([(383, 1, runs("releases/v1")), (951, 1, "(python3)")], CURRENT_V2)
    assert f.verdict is Verdict.UNINSPECTABLE


def test_not_assigned_here_is_unexpected_not_stale() -> None:
    f = audit([(383, 1, runs("releases/v1"))], CURRENT_V2, spec=OTHER)
    assert f.verdict is Verdict.UNEXPECTED
    # the cross-host gate refuses a start beside it, as beside any running copy
    assert gate.judge([f]).blocking == (f,)


def test_a_service_without_release_has_no_current() -> None:
    f = audit([(383, 1, f"/usr/bin/python3 {ROOT}/main.py")], CURRENT_V2, svc=PLAIN)
    assert (f.verdict, f.current_release) == (Verdict.OK, None)


def test_judge_release_keeps_other_verdicts() -> None:
    stale = audit([(383, 1, runs("releases/v1"))], CURRENT_V2)
    for verdict in (Verdict.DOWN, Verdict.CRASHLOOP, Verdict.BLOCKED, Verdict.UNINSPECTABLE):
        f = replace(stale, verdict=verdict, detail="x")
        assert judge_release(f) == f
    unfenced = replace(stale, verdict=Verdict.UNFENCED, detail="a second copy would start")
    assert judge_release(unfenced).verdict is Verdict.UNFENCED
    assert "runs release v1, current is v2" in judge_release(unfenced).detail
    # a stray (not launchd's) on an old release is not what `stale` is about
    stray = replace(stale, verdict=Verdict.OK,
                    instances=tuple(replace(i, managed=False) for i in stale.instances))
    assert judge_release(stray).verdict is Verdict.OK


def test_what_each_command_does_with_a_stale_host() -> None:
    f = audit([(383, 1, runs("releases/v1"))], CURRENT_V2)
    # the cross-host gate: a copy runs there, whatever its release
    assert gate.judge([f]).blocking == (f,)
    # start: launchd's instance already runs alone, nothing to start (restart is the fix)
    assert f.verdict in RUNNING
    # adopt: nothing to kill, nothing to boot out, launchd's pid kept
    plan = plan_adopt(SHIVA, BUILDER, f)
    assert (plan.kills, plan.bootouts, plan.ensure) == ((), (), "running")
    assert 383 in plan.protected


def _report(*findings: Finding) -> AuditReport:
    return AuditReport((HostReport("builder", True, findings),))


def test_audit_output_shows_stale_and_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    f = audit([(383, 1, runs("releases/v1"))], CURRENT_V2)
    report = _report(f)
    assert not report.ok  # a finding: audit exits 1
    doc = json.loads(audit_json(report, {"shiva": LABEL}))
    [svc] = doc["hosts"][0]["services"]
    assert (svc["verdict"], svc["current_release"]) == ("stale", "v2")
    assert svc["instances"][0]["release"] == "v1"
    assert svc["next"] == "svcctl rollback shiva --to v2 --host builder"
    text = audit_text(report)
    assert "  shiva  stale       launchd pid 383  current release v2" in text.splitlines()
    assert f"      {f.detail}" in text.splitlines()
    assert "release v1  /usr/bin/python3" in text
    assert text.endswith("audit: 1 host(s), 1 finding(s)")


def test_output_of_a_service_without_release_is_unchanged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    f = audit([(383, 1, f"/usr/bin/python3 {ROOT}/main.py")], None, svc=PLAIN)
    doc = json.loads(audit_json(_report(f), {"shiva": LABEL}))
    assert doc["hosts"][0]["services"][0]["current_release"] is None
    assert "  shiva  ok          launchd pid 383" in audit_text(_report(f)).splitlines()
