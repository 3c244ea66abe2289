"""runbooks/deploy.md's GitHub Actions workflow, run as written against simulated hosts.

The workflow and the release inventory are the runbook's own YAML blocks, parsed here, so
neither can rot. The repository a run checks out is the demo's working directory
(svcctl_testbed.demo.run.prepare) with the runbook's `shiva` service in its inventory in
place of the demo's, and an ssh_config in `.testbed/` that is the session testbed's with
its IdentityFile and UserKnownHostsFile lines left out: it says where the hosts are (a
real repository's inventory says that too), while the key and the host keys come only from
what the workflow's own step writes to ~/.ssh from the secrets, under the job's private
HOME. So that step is tested, not bypassed.

Every `run:` script runs verbatim (tests/runbooks/actions.py says how GitHub runs one);
emulated are only the steps that are not scripts on a runner, and exactly EMULATED:
checkout, upload-artifact and download-artifact (files copied, as actions.py documents),
and `pipx install svcctl` (this venv's svcctl put on PATH; before it, svcctl is not).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from svcctl_testbed.demo.run import prepare
from svcctl_testbed.demo.script import environment
from tests.conftest import Hosts
from tests.runbooks.actions import Context, JobResult, Runner, WorkflowError
from tests.runbooks.test_runbooks import _clean_shiva

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "deploy.md"
ROOT = "/Users/ops/shiva"
BINDIR = str(Path(sys.executable).parent)
INSTALL = "pipx install svcctl"
# (job, step) of every step that does not run its script as written
EMULATED = {("build", "checkout"), ("build", "upload the artifact"), ("deploy", "checkout"),
            ("deploy", "download the artifact"), ("deploy", "install svcctl"),
            ("deploy", "keep the evidence")}
# what the runbook tells users to set: few, quick retries while a lock is held
VARS = {"DEPLOY_ATTEMPTS": "2", "DEPLOY_BACKOFF": "1"}


def _yaml_blocks(markdown: str) -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```$", markdown,
                                                  re.M | re.S)]


def _the_block(key: str) -> dict[Any, Any]:
    (block,) = [b for b in _yaml_blocks(RUNBOOK.read_text())
                if isinstance(b, dict) and key in b]
    return block


def workflow() -> dict[Any, Any]:
    return _the_block("jobs")


def release_service() -> dict[str, Any]:
    services = _the_block("services")["services"]
    assert set(services) == {"shiva"}, services
    return dict(services["shiva"])


def _steps() -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow()["jobs"].items() for step in spec["steps"]]


# -- what the workflow is made of (no hosts) -----------------------------------------------

def test_exactly_the_steps_that_are_not_scripts_on_a_runner_are_emulated() -> None:
    emulated = {(job, s["name"]) for job, s in _steps() if "uses" in s or s["run"] == INSTALL}
    assert emulated == EMULATED  # a new step is run, or named here: never skipped unseen


def test_the_workflow_deploys_the_commit_and_never_trusts_or_breaks_blindly() -> None:
    jobs = workflow()["jobs"]
    assert jobs["deploy"]["needs"] == "build"
    deploy = next(s["run"] for _, s in _steps() if s["name"] == "deploy")
    assert 'svcctl deploy shiva --release "$GITHUB_SHA" --yes --json > deploy.json' in deploy
    assert "StrictHostKeyChecking" not in json.dumps(workflow())
    calls = [ln for _, s in _steps() for ln in s.get("run", "").splitlines()
             if ln.strip().startswith("svcctl ")]
    assert calls and not any("--break-lock" in c or "--accept-new" in c for c in calls)
    evidence = next(s for _, s in _steps() if s["name"] == "keep the evidence")
    assert evidence["if"] == "always()" and evidence["with"]["path"] == "deploy.json"
    assert release_service()["release"]["source"] == "build/shiva.tar.gz"


def test_every_script_is_posix_sh_and_no_expression_is_pasted_into_one() -> None:
    scripts = [s["run"] for _, s in _steps() if "run" in s]
    assert len(scripts) == 4
    for script in scripts:
        assert "${{" not in script  # secrets and variables arrive through env:
        proc = subprocess.run(["dash", "-n"], input=script, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, (script, proc.stderr)


def test_expressions_read_the_context_and_fall_back_like_github() -> None:
    ctx = Context(github={"sha": "abc"}, secrets={"K": "key"}, vars={"N": "2"})
    assert ctx.substitute("${{ secrets.K }}/${{ github.sha }}") == "key/abc"
    assert ctx.value("vars.N || 4") == "2" and ctx.value("vars.M || 4") == "4"
    assert ctx.value("secrets.UNSET") == ""
    for bad in ("github.token", "env.X", "format('{0}', 1)"):
        with pytest.raises(WorkflowError):
            ctx.value(bad)
    defaults = Context(github={}).env(workflow()["env"])
    assert defaults == {"DEPLOY_ATTEMPTS": "4", "DEPLOY_BACKOFF": "30"}


# -- the runs, against the session's hosts --------------------------------------------------

def _demo_with_the_release(path: Path) -> Path:
    """The demo's files, the runbook's shiva in the inventory in place of the demo's."""
    prepare(path)
    inventory = yaml.safe_load((path / "inventory.yaml").read_text())
    inventory["services"]["shiva"] = release_service()
    (path / "inventory.yaml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    assert inventory["ssh_config"] == ".testbed/ssh_config"
    return path


def _repository(hosts: Hosts, path: Path) -> Path:
    """What checkout gives: the demo with the release, and where the hosts are, but not
    the testbed's key and known_hosts (the workflow brings them)."""
    _demo_with_the_release(path)
    (path / ".testbed").mkdir()
    kept = [line for line in hosts.ssh_config.read_text().splitlines()
            if line.split()[:1] not in (["IdentityFile"], ["IdentitiesOnly"],
                                        ["UserKnownHostsFile"])]
    assert len(kept) < len(hosts.ssh_config.read_text().splitlines())
    (path / ".testbed" / "ssh_config").write_text("\n".join(kept) + "\n")
    return path


def _machine(workspace: Path) -> dict[str, str]:
    """The runner before any step: no svcctl on PATH (the install step puts it there)."""
    env = environment(workspace)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != BINDIR)
    env.pop("SSH_AUTH_SOCK", None)  # no agent: only the key the workflow writes
    return env


def _install(env: dict[str, str]) -> None:
    env["PATH"] = BINDIR + os.pathsep + env["PATH"]


def _run(hosts: Hosts, tmp: Path, name: str, *, crash: bool = False, rerun: bool = False,
         ) -> tuple[str, dict[str, JobResult], Path]:
    """One run of the workflow for a fake commit named `name` (a commit whose bot exits
    at once if `crash`): its sha, the jobs' results, and where deploy.json was kept."""
    sha = hashlib.sha1(name.encode()).hexdigest()  # a fake commit
    tmp = tmp / "rerun" if rerun else tmp
    lay = hosts.tb.layout
    ctx = Context(github={"sha": sha, "run_id": str(time.time_ns() % 10**10),
                          "repository": "example/shiva", "server_url": "https://github.com"},
                  secrets={"DEPLOY_SSH_KEY": lay.identity.read_text().strip(),
                           "MAC_KNOWN_HOSTS": lay.known_hosts.read_text().strip()},
                  vars=VARS)
    repo = _repository(hosts, tmp / name / "repo")
    if crash:
        main = repo / "shiva" / "main.py"
        code = main.read_text()
        assert code.count("    sys.exit(main())") == 1
        main.write_text(code.replace("    sys.exit(main())", "    sys.exit(1)"))
    runner = Runner(workflow(), repo, tmp / name / "run", ctx, _machine, {INSTALL: _install})
    results = runner.run()
    ran = {(j.name, s.name) for j in results.values() for s in j.steps if s.how == "emulated"}
    assert ran == EMULATED, ran
    return sha, results, runner.artifacts / "deploy" / "deploy.json"


def _audit(hosts: Hosts, tmp: Path) -> dict[str, Any]:
    """What an operator's `svcctl audit --json` says of shiva on tesseract, with the
    testbed's own ssh_config, as tests/runbooks/test_runbooks.py lays it out."""
    repo = _demo_with_the_release(tmp)
    (repo / ".testbed").symlink_to(hosts.tb.layout.root)
    env = environment(repo)
    proc = subprocess.run(
        ["svcctl", "audit", "--service", "shiva", "--json"], cwd=repo, env=env,
        capture_output=True, text=True, timeout=120, check=False)
    doc: dict[str, Any] = json.loads(proc.stdout)
    (host,) = [h for h in doc["hosts"] if h["host"] == "tesseract"]
    (svc,) = host["services"]
    assert proc.returncode == (0 if svc["verdict"] == "ok" else 1), proc.stderr
    return dict(svc)


def test_the_workflow_deploys_refuses_a_stray_gives_up_on_a_lock_and_rolls_back(
        hosts: Hosts, tmp_path: Path) -> None:
    _clean_shiva(hosts)
    try:
        sha = _deploys(hosts, tmp_path)
        _redeploys_the_same_commit_sending_nothing(hosts, tmp_path, sha)
        _refuses_around_a_stray(hosts, tmp_path)
        _retries_then_fails_while_locked(hosts, tmp_path)
        _rolls_back_a_release_that_crashes(hosts, tmp_path)
    finally:
        _clean_shiva(hosts)


def _deploys(hosts: Hosts, tmp: Path) -> str:
    sha, jobs, evidence = _run(hosts, tmp, "first")
    assert {n: j.result for n, j in jobs.items()} == {"build": "success",
                                                      "deploy": "success"}, \
        jobs["build"].log + jobs["deploy"].log
    assert f"deployed shiva release {sha}" in jobs["deploy"].step("deploy").output
    doc = json.loads(evidence.read_text())
    (host,) = doc["hosts"]
    assert doc["exit_code"] == 0 and host["outcome"] == "deployed", doc
    svc = _audit(hosts, tmp / "after-first")
    assert svc["verdict"] == "ok", svc
    (inst,) = svc["instances"]
    assert inst["managed"] and inst["release"] == sha, svc
    assert f"{ROOT}/releases/{sha}/main.py" in inst["command"], inst
    current = hosts.ssh("tesseract", ["readlink", f"{ROOT}/current"]).stdout.strip()
    assert current == f"releases/{sha}"
    record = json.loads(hosts.ssh("tesseract", ["cat", f"{ROOT}/current/.svcctl-release.json"])
                        .stdout)
    assert record["id"] == sha and record["ci"]["system"] == "github", record
    assert record["ci"]["url"].startswith("https://github.com/example/shiva/actions/runs/")
    log = hosts.ssh("tesseract", ["cat", f"{ROOT}/shared/logs/main.py.log"]).stdout
    assert f"shiva {sha} pid" in log  # the build's VERSION, logged into the shared logs/
    return sha


def _redeploys_the_same_commit_sending_nothing(hosts: Hosts, tmp: Path, sha: str) -> None:
    """A re-run of the same commit builds the artifact again (new mtimes, a new gzip) and
    deploys it: the same files, so the same release, and nothing is sent."""
    again, jobs, evidence = _run(hosts, tmp, "first", rerun=True)
    assert again == sha and jobs["deploy"].result == "success", jobs["deploy"].log
    (host,) = json.loads(evidence.read_text())["hosts"]
    (upload,) = [s["detail"] for s in host["steps"] if s["step"] == "upload"]
    assert f"release {sha} already at" in upload and "nothing sent" in upload, upload


def _refuses_around_a_stray(hosts: Hosts, tmp: Path) -> None:
    running = hosts.ssh("tesseract", ["readlink", f"{ROOT}/current"]).stdout.strip()
    hosts.ssh("tesseract", f"nohup /usr/bin/python3 {ROOT}/current/main.py "
              "< /dev/null > /dev/null 2>&1 &")
    try:
        _, jobs, evidence = _run(hosts, tmp, "stray")
        deploy = jobs["deploy"]
        assert deploy.result == "failure" and jobs["build"].result == "success", deploy.log
        step = deploy.step("deploy")
        assert step.rc == 1, deploy.log
        assert "::error title=deploy refused::" in step.output
        assert "svcctl adopt shiva" in step.output and "::warning" not in step.output
        assert deploy.step("keep the evidence").how == "emulated"  # if: always()
        doc = json.loads(evidence.read_text())
        assert doc["exit_code"] == 1 and doc["hosts"][0]["outcome"] == "refused", doc
        assert f"tesseract: {doc['hosts'][0]['outcome']}" in step.output
        assert "stray" in step.output, step.output  # the host's error, from deploy.json
        # nothing changed: the first release still current
        assert hosts.ssh("tesseract", ["readlink", f"{ROOT}/current"]).stdout.strip() \
            == running
    finally:
        hosts.ssh("tesseract", ["pkill", "-f", f"{ROOT}/current/main[.]py"], user="root",
                  check=False)


def _retries_then_fails_while_locked(hosts: Hosts, tmp: Path) -> None:
    now = time.time()
    held = {"service": "shiva", "who": "ops@elsewhere", "pid": 4242, "started": now,
            "expires": now + 600, "token": "t", "ci_run": "other-run"}
    hosts.put("tesseract", "/tmp/svcctl-deploy/shiva.lock", json.dumps(held))
    try:
        _, jobs, evidence = _run(hosts, tmp, "locked")
    finally:
        hosts.ssh("tesseract", ["rm", "-f", "/tmp/svcctl-deploy/shiva.lock"], user="root")
    deploy = jobs["deploy"]
    step = deploy.step("deploy")
    assert deploy.result == "failure" and step.rc == 4, deploy.log
    retries = [ln for ln in step.output.splitlines() if ln.startswith("::warning")]
    assert len(retries) == int(VARS["DEPLOY_ATTEMPTS"]) - 1, step.output
    assert "retrying in 1s" in retries[0]
    assert "::error title=deploy locked::" in step.output
    assert "after 2 attempts" in step.output
    doc = json.loads(evidence.read_text())
    assert doc["exit_code"] == 4, doc
    assert "other-run" in json.dumps(doc)  # who holds it: the other CI run


def _rolls_back_a_release_that_crashes(hosts: Hosts, tmp: Path) -> None:
    running = hosts.ssh("tesseract", ["readlink", f"{ROOT}/current"]).stdout.strip()
    sha, jobs, evidence = _run(hosts, tmp, "crash", crash=True)
    deploy = jobs["deploy"]
    step = deploy.step("deploy")
    assert deploy.result == "failure" and step.rc == 3, deploy.log
    assert "::error title=deploy failed::" in step.output
    doc = json.loads(evidence.read_text())
    (host,) = doc["hosts"]
    assert host["outcome"] == "rolled-back" and host["rollback"]["outcome"] == "restored", doc
    # the rollback, printed from deploy.json into the job's log
    assert f"tesseract: rolled-back - {host['error']}; rollback restored: " \
        f"{host['rollback']['detail']}" in step.output
    assert hosts.ssh("tesseract", ["readlink", f"{ROOT}/current"]).stdout.strip() == running
    svc = _audit(hosts, tmp / "after-crash")
    assert svc["verdict"] == "ok" and running.endswith(svc["instances"][0]["release"]), svc
    assert sha not in running
