"""`svcctl deploy` ships a service's release (issue 13).

The pure plan: a service with `release:` uploads the release before the plist (or says why
nothing is sent), switches `current` between stop and start, prunes after verify; a
service without one plans exactly what it always did; a restart ships nothing.

On a testbed host (real sshd, launchd emulator): v1, v2, an unchanged v2, and a v3 that
crashes and is rolled back to v2, with a sampler that never sees two instances. Through the
CLI (`svcctl deploy --release ID --json`), the inventory's `release:` naming the source.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from svcctl.errors import ExitCode
from svcctl.model import Domain, DomainKind, HostSpec, ReleaseSpec, ServiceSpec
from svcctl.ops.plan import DeployOptions, ReleaseHere, deploy_steps, plan_deploy
from tests.deploy.release_kit import ReleaseSampler, Shipped, detail, dry_then_real, planned
from tests.service_kit import Service

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


# -- on a testbed host -------------------------------------------------------------------

def _ran(s: Shipped, release: str, rc: int = 0) -> dict[str, Any]:
    return dry_then_real(s, "deploy", s.base.name, "--release", release, rc=rc)


def test_deploy_ships_switches_keeps_and_rolls_back_a_release(shipped: Shipped) -> None:
    s = shipped
    with ReleaseSampler(s.site, s.site.main, s.root) as sampler:
        s.source("v1")
        first = _ran(s, "v1")
        kinds = [k for k, _ in planned(first)]
        assert kinds == ["lock", "preflight", "upload", "stop", "switch", "start", "verify",
                         "prune", "unlock"]
        assert [r["step"] for r in first["steps"]] == kinds
        assert "release v1 uploaded to" in detail(first, "upload")
        assert [ln.split()[1] for ln in s.ps()] == [f"{s.root}/releases/v1/main.py"]
        assert s.current() == "releases/v1"
        # shared: state lives outside the releases, linked into each one
        assert s.site.sh(s.site.main, f"readlink {s.root}/releases/v1/state").stdout.strip() \
            == "../../shared/state"
        s.site.sh(s.site.main, f"echo kept > {s.root}/releases/v1/state/positions")

        s.source("v2")
        second = _ran(s, "v2")
        assert "release v2: send it to" in dict(planned(second))["upload"]
        assert s.current() == "releases/v2"
        assert [ln.split()[1] for ln in s.ps()] == [f"{s.root}/releases/v2/main.py"]
        assert s.releases() == ["v1", "v2"]  # keep 5: v1 stays
        assert s.site.sh(s.site.main, f"cat {s.root}/current/state/positions").stdout \
            == "kept\n"  # v2 sees what v1 wrote: one shared directory

        again = _ran(s, "v2")  # unchanged: nothing sent, and the plan said so
        assert "already at" in dict(planned(again))["upload"]
        assert "release v2 already at" in detail(again, "upload")
        assert "nothing sent" in detail(again, "upload")

        s.source("v3", crash=True)
        third = _ran(s, "v3", rc=int(ExitCode.FAILED))
        assert third["outcome"] == "rolled-back", third
        assert third["rollback"]["outcome"] == "restored", third["rollback"]
        assert [r["step"] for r in third["rollback"]["steps"]] == [
            "rollback-stop", "rollback-switch", "rollback-restore", "rollback-start",
            "rollback-verify"]
        assert s.current() == "releases/v2"
        # and `.svcctl-previous` as before v3's switch: a rollback never goes back to v3
        assert s.site.sh(s.site.main, f"readlink {s.root}/.svcctl-previous").stdout \
            == "releases/v1\n"
        assert [ln.split()[1] for ln in s.ps()] == [f"{s.root}/releases/v2/main.py"]
    sampler.check(at_least=100)
    assert len(sampler.pids) >= 3  # v1, v2 (twice), v2 again after the rollback: it saw them


def test_other_content_under_the_same_id_is_refused_before_anything_changes(
        shipped: Shipped) -> None:
    s = shipped
    s.source("v1")
    assert s.deploy("v1")[0] == 0
    pids = s.ps()
    s.source("v1-changed")
    rc, report = s.deploy("v1")
    (h,) = report["hosts"]
    assert rc == int(ExitCode.BAD_INPUT), h
    assert h["outcome"] == "bad-input" and "another checksum" in h["error"], h
    assert not any(r["step"] == "upload" for r in h["steps"])
    assert s.ps() == pids and s.current() == "releases/v1"


def test_a_source_that_cannot_be_read_is_one_line_exit_2_before_any_host(
        shipped: Shipped) -> None:
    s = shipped
    s.src.rmdir()
    proc = s.base.svcctl("deploy", s.base.name, "--release", "v1", "--json")
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc
    assert "release source" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
        proc.stderr
    assert s.site.sh(s.site.main, f"test -e {s.root}", check=False).returncode != 0


def test_a_source_entry_named_like_a_shared_directory_is_refused(shipped: Shipped) -> None:
    s = shipped
    s.source("v1")
    (s.src / "state").mkdir()  # the release brings its own `state`: shared: links one there
    (s.src / "state" / "x").write_text("x")
    proc = s.base.svcctl("deploy", s.base.name, "--release", "v1")
    assert proc.returncode == 2, proc.stdout + proc.stderr  # bad input: before any host
    assert "has its own 'state'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert s.site.sh(s.site.main, f"ls {s.root}", check=False).returncode != 0  # untouched


def test_a_shared_directory_planted_as_a_link_is_never_followed(shipped: Shipped) -> None:
    """Anyone who can write the root may plant `shared/state -> elsewhere`: the release is
    not published, and nothing is linked through it."""
    s = shipped
    s.source("v1")
    s.site.sh(s.site.main, f"mkdir -p {s.root}/shared /tmp/{s.base.name}-elsewhere && "
              f"ln -s /tmp/{s.base.name}-elsewhere {s.root}/shared/state")
    rc, doc = s.deploy("v1")
    (h,) = doc["hosts"]
    assert rc == int(ExitCode.FAILED) and "is not a plain directory" in h["error"], doc
    assert s.releases() == [] and s.ps() == []  # nothing published, nothing started
    assert s.site.sh(s.site.main, f"ls -A /tmp/{s.base.name}-elsewhere").stdout == ""


def test_release_for_a_service_without_one_is_one_line_exit_2(service: Service) -> None:
    proc = service.svcctl("deploy", service.name, "--release", "v1", "--dry-run")
    assert proc.returncode == int(ExitCode.BAD_INPUT), proc
    assert "has no release:" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
        proc.stderr


def test_a_health_check_naming_the_release_runs_against_the_release_started(
        shipped: Shipped) -> None:
    """`{{ release }}` in health.command is `<root>/current` when verify runs it: the
    release just switched to and started (the token itself names no file)."""
    s = shipped
    s.base.write_inventory(program=["/usr/bin/python3", "{{ release }}/main.py"],
                           release={"root": s.root, "source": str(s.src)},
                           health={"command": ["/bin/cat", "{{ release }}/VERSION"]})
    s.source("v1")
    code, dry = s.deploy("v1", "--dry-run")
    assert code == 0, dry
    check = f"health check /bin/cat {s.root}/current/VERSION"
    assert dict(planned(dry["hosts"][0]))["verify"].endswith(check), dry
    rc, doc = s.deploy("v1")
    (h,) = doc["hosts"]
    assert (rc, h["outcome"]) == (0, "deployed"), h
    assert f"health check `/bin/cat {s.root}/current/VERSION` passed" in detail(h, "verify")
