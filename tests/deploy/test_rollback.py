"""`svcctl rollback SERVICE [--to ID]` (issue 13): a release still on the host, deployed
through deploy's gates.

The pure plan: a deploy that sends nothing and prunes nothing. On a testbed host (real
sshd, launchd emulator), through the CLI: v1, v2, then `rollback` goes back to v1 and
`--to v2` forward again; a deploy of v3 that crashes is rolled back, and leaves `previous`
as it was, so the next `rollback` does not go back to v3; a release whose manifest was
altered, an id the host lacks and a service without `release:` are refused. A sampler
never sees two instances through any of it.
"""

from __future__ import annotations

from typing import Any

from svcctl.errors import ExitCode
from svcctl.ops.plan import DeployOptions, ReleaseHere, plan_deploy
from tests.deploy.release_kit import ReleaseSampler, Shipped, detail, dry_then_real, planned
from tests.deploy.test_release_deploy import PATH, SPEC, SVC
from tests.service_kit import Service

ROLLBACK = DeployOptions(rollback=True)


def test_a_rollback_sends_nothing_switches_between_stop_and_start_and_prunes_nothing() -> None:
    steps = plan_deploy(SVC, SPEC, PATH, loaded=True, installed=True, opts=ROLLBACK,
                        hosts_checked=["tesseract"],
                        shipped=ReleaseHere("v1", present=True, why="previous"))
    said = {s.kind: s.action for s in steps}
    assert [s.kind for s in steps] == ["lock", "preflight", "upload", "stop", "switch",
                                       "start", "verify", "unlock"]
    assert "the release current pointed to before the last switch" in said["preflight"]
    assert said["upload"].startswith("release v1 (previous): already at "
                                     "/Users/ops/shiva/releases/v1, nothing to send; then "
                                     f"write {PATH}")
    to = plan_deploy(SVC, SPEC, PATH, loaded=True, installed=True,
                     opts=DeployOptions(rollback=True, release_id="v0"),
                     hosts_checked=["tesseract"])
    assert "release v0 is there" in to[1].action


def _rollback(s: Shipped, *args: str, rc: int = 0) -> dict[str, Any]:
    done = dry_then_real(s, "rollback", s.base.name, *args, rc=rc)
    assert [r["step"] for r in done["steps"]] == [k for k, _ in planned(done)], done["steps"]
    return done


def _previous(s: Shipped) -> str:
    return s.site.sh(s.site.main, f"readlink {s.root}/.svcctl-previous").stdout.strip()


def _runs(s: Shipped) -> list[str]:
    return [ln.split()[1] for ln in s.ps()]


def test_rollback_goes_back_and_forth_and_never_to_a_release_whose_deploy_failed(
        shipped: Shipped) -> None:
    s = shipped
    with ReleaseSampler(s.site, s.site.main, s.root) as sampler:
        for v in ("v1", "v2"):
            s.source(v)
            assert s.deploy(v)[0] == 0
        sent = s.site.sh(s.site.main, f"ls -i {s.root}/releases/v1/main.py").stdout

        back = _rollback(s)
        assert (back["outcome"], back["release"]) == ("deployed", "v1"), back
        assert "release v1 (previous): already at" in dict(planned(back))["upload"]
        assert "rolling back to release v1 (previous)" in detail(back, "preflight")
        assert "nothing sent" in detail(back, "upload")
        assert s.current() == "releases/v1" and _previous(s) == "releases/v2"
        assert _runs(s) == [f"{s.root}/releases/v1/main.py"]
        (launchd,) = [i for i in back["final"]["instances"] if i["managed"]]
        assert launchd["release"] == "v1", back["final"]
        assert s.site.sh(s.site.main, f"ls -i {s.root}/releases/v1/main.py").stdout == sent
        assert s.releases() == ["v1", "v2"]  # a rollback prunes nothing

        forward = _rollback(s, "--to", "v2")
        assert "(--to)" in dict(planned(forward))["upload"]
        assert s.current() == "releases/v2" and _previous(s) == "releases/v1"
        assert _runs(s) == [f"{s.root}/releases/v2/main.py"]

        s.source("v3", crash=True)
        rc, third = s.deploy("v3")
        assert rc == int(ExitCode.FAILED) and third["hosts"][0]["outcome"] == "rolled-back"
        # the failed deploy put both links back: `previous` is v1 again, not v3
        assert s.current() == "releases/v2" and _previous(s) == "releases/v1"
        assert _runs(s) == [f"{s.root}/releases/v2/main.py"]
        again = _rollback(s)
        assert "release v1 (previous)" in dict(planned(again))["upload"]
        assert _runs(s) == [f"{s.root}/releases/v1/main.py"]
    sampler.check(at_least=100)
    assert len(sampler.pids) >= 5, sampler.result  # v1, v2, v1, v2, v2 again, v1: it saw them


def test_a_rollback_to_what_is_not_there_or_not_intact_is_refused_before_anything_changes(
        shipped: Shipped) -> None:
    s = shipped
    s.source("v1")
    assert s.deploy("v1")[0] == 0
    pids = s.ps()

    # the first release: nothing before it
    proc = s.base.svcctl("rollback", s.base.name, "--yes")
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc.stdout + proc.stderr
    assert "no previous release recorded" in proc.stdout, proc.stdout

    rc, doc = s.base.json("rollback", s.base.name, "--to", "v0")
    (h,) = doc["hosts"]
    assert rc == int(ExitCode.BAD_INPUT) and h["outcome"] == "bad-input", h
    assert "no release v0 under" in h["error"] and "v1" in h["error"], h

    s.source("v2")
    assert s.deploy("v2")[0] == 0
    pids = s.ps()
    # someone edits v1 on the host after its upload: its manifest no longer matches
    s.site.sh(s.site.main, f"echo 'f 0 - evil' >> {s.root}/releases/v1/.svcctl-manifest")
    rc, doc = s.base.json("rollback", s.base.name)
    (h,) = doc["hosts"]
    assert rc == int(ExitCode.FINDINGS) and h["outcome"] == "refused", h
    assert "release v1's manifest is not the one its record names" in h["error"], h
    assert not any(r["step"] in ("upload", "stop") for r in h["steps"]), h["steps"]
    assert s.ps() == pids and s.current() == "releases/v2"

    bad = s.base.svcctl("rollback", s.base.name, "--to", "../v1")
    assert bad.returncode == int(ExitCode.BAD_INPUT), bad
    assert "bad release id" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_rollback_of_a_service_without_release_is_one_line_exit_2(service: Service) -> None:
    proc = service.svcctl("rollback", service.name, "--dry-run")
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc
    assert "svcctl rollback is for one that has" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_audits_fix_for_a_stale_release_is_a_rollback_to_current(shipped: Shipped) -> None:
    """`current` switched by hand after a deploy: launchd still runs the old release
    (stale). The next step audit prints, run as printed, makes launchd run current."""
    s = shipped
    for v in ("v1", "v2"):
        s.source(v)
        assert s.deploy(v)[0] == 0
    s.site.sh(s.site.main, f"cd {s.root} && ln -s releases/v1 .current-new && "
              "mv -f -h .current-new current")
    rc, doc = s.base.json("audit", "--host", s.site.main)
    (f,) = [f for h in doc["hosts"] for f in h["services"] if f["service"] == s.base.name]
    assert (rc, f["verdict"], f["current_release"]) == (1, "stale", "v1"), f
    assert f["next"] == f"svcctl rollback {s.base.name} --to v1 --host {s.site.main}", f

    fix = s.base.svcctl(*f["next"].split()[1:], "--yes")
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert _runs(s) == [f"{s.root}/releases/v1/main.py"]
    rc, doc = s.base.json("audit", "--host", s.site.main)
    (f,) = [f for h in doc["hosts"] for f in h["services"] if f["service"] == s.base.name]
    assert (rc, f["verdict"], f["current_release"]) == (0, "ok", "v1"), f
