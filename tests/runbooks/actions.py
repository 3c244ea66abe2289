"""Just enough of a GitHub Actions run to run a runbook's workflow as written.

Every `run:` script runs verbatim, as GitHub runs it when a step names no `shell:`:
`bash -e <script>` in the job's workspace. Only GitHub's `${{ ... }}` expressions are
replaced first, as GitHub does: `secrets.*`, `vars.*` and `github.*` from the run's
context, `a || b` giving the first non-empty value. The environment is what GitHub sets
(GITHUB_SHA, GITHUB_RUN_ID, GITHUB_REPOSITORY, GITHUB_SERVER_URL, GITHUB_WORKSPACE,
GITHUB_ACTIONS=true, CI=true, a private HOME per job) plus the workflow's, job's and
step's `env:`. Jobs run in `needs` order, each in a fresh workspace and HOME, as on
separate runners; a step runs on `success()` (the default), `failure()` or `always()`.

Steps that are not shell scripts on a runner are emulated, and only these (any other
`uses:`, expression, `if:`, `shell:` or key is an error, never silently skipped):
- `actions/checkout@v4`: the workspace is a copy of the prepared repository directory;
- `actions/upload-artifact@v4`: `path` is copied into the run's artifact store under
  `name` (a file by its base name, a directory by its contents), as v4 stores it;
- `actions/download-artifact@v4`: the artifact's files are copied into `path`;
- any `run:` named in `emulated_runs`, by the callable given there (installing a tool the
  test provides, for example).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_REF = re.compile(r"(secrets|vars|github)\.([A-Za-z_][A-Za-z0-9_]*)")
_WORKFLOW_KEYS = {"name", "on", True, "concurrency", "env", "jobs"}  # YAML 1.1: on == True
_JOB_KEYS = {"runs-on", "needs", "steps", "env"}
_STEP_KEYS = {"name", "run", "uses", "with", "env", "if"}
CHECKOUT = "actions/checkout@v4"
UPLOAD = "actions/upload-artifact@v4"
DOWNLOAD = "actions/download-artifact@v4"


class WorkflowError(AssertionError):
    """The workflow uses something this emulator does not run: the test must fail."""


@dataclass(frozen=True)
class Context:
    """What `${{ }}` may read: GitHub's `github`, and the repository's secrets and vars."""

    github: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict)
    vars: Mapping[str, str] = field(default_factory=dict)

    def value(self, expr: str) -> str:
        """One expression: references and literals joined by `||` (the first non-empty)."""
        value = ""
        for operand in (o.strip() for o in expr.split("||")):
            if m := _REF.fullmatch(operand):
                scope: Mapping[str, str] = getattr(self, m.group(1))
                if m.group(1) == "github" and m.group(2) not in scope:
                    raise WorkflowError(f"github.{m.group(2)} is not in the test's context")
                value = scope.get(m.group(2), "")  # an unset secret or variable is ''
            elif re.fullmatch(r"\d+", operand):
                value = operand
            elif re.fullmatch(r"'[^']*'", operand):
                value = operand[1:-1]
            else:
                raise WorkflowError(f"expression not understood: ${{{{ {expr} }}}}")
            if value:
                return value
        return value

    def substitute(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), text)

    def env(self, block: Mapping[str, Any] | None) -> dict[str, str]:
        return {str(k): self.substitute(str(v)) for k, v in (block or {}).items()}


@dataclass
class StepResult:
    job: str
    name: str
    how: str  # "ran" (the script, verbatim), "emulated", "skipped"
    rc: int = 0
    output: str = ""


@dataclass
class JobResult:
    name: str
    result: str  # success, failure, skipped: GitHub's job results
    steps: list[StepResult] = field(default_factory=list)

    def step(self, name: str) -> StepResult:
        (found,) = [s for s in self.steps if s.name == name]
        return found

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.how}, exit {s.rc})\n{s.output}" for s in self.steps)


EmulatedRun = Callable[[dict[str, str]], None]  # changes the job's environment


@dataclass
class Runner:
    """One workflow run: `repo` is what checkout gives; `base_env(workspace)` the
    environment of the machine (PATH and the like) before GitHub's variables."""

    workflow: Mapping[Any, Any]
    repo: Path
    root: Path  # this run's private directory: workspaces, homes, artifacts
    context: Context
    base_env: Callable[[Path], dict[str, str]]
    emulated_runs: Mapping[str, EmulatedRun] = field(default_factory=dict)
    timeout: float = 300

    def run(self) -> dict[str, JobResult]:
        _check_keys("workflow", self.workflow, _WORKFLOW_KEYS)
        jobs: Mapping[str, Any] = self.workflow["jobs"]
        results: dict[str, JobResult] = {}
        for name in _in_needs_order(jobs):
            needs = _needs(jobs[name])
            if any(results[n].result != "success" for n in needs):
                results[name] = JobResult(name, "skipped")
            else:
                results[name] = self._job(name, jobs[name])
        return results

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def _job(self, name: str, job: Mapping[str, Any]) -> JobResult:
        _check_keys(f"job {name}", job, _JOB_KEYS)
        workspace, home = self.root / name / "work", self.root / name / "home"
        home.mkdir(parents=True)
        env = {**self.base_env(workspace), **self._github_env(workspace, home),
               **self.context.env(self.workflow.get("env")), **self.context.env(job.get("env"))}
        result = JobResult(name, "success")
        for i, step in enumerate(job["steps"]):
            _check_keys(f"job {name} step {i}", step, _STEP_KEYS)
            label = str(step.get("name") or step.get("uses") or step.get("run"))
            if not _should_run(step.get("if"), failed=result.result == "failure"):
                result.steps.append(StepResult(name, label, "skipped"))
                continue
            done = self._step(name, label, i, step, workspace, env)
            result.steps.append(done)
            if done.rc != 0:
                result.result = "failure"
        return result

    def _github_env(self, workspace: Path, home: Path) -> dict[str, str]:
        gh = self.context.github
        return {"GITHUB_ACTIONS": "true", "CI": "true", "HOME": str(home),
                "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(home.parent / "tmp"),
                "GITHUB_SHA": gh["sha"], "GITHUB_RUN_ID": gh["run_id"],
                "GITHUB_REPOSITORY": gh["repository"], "GITHUB_SERVER_URL": gh["server_url"]}

    def _step(self, job: str, label: str, i: int, step: Mapping[str, Any], workspace: Path,
              env: dict[str, str]) -> StepResult:
        if "uses" in step:
            return self._uses(job, label, str(step["uses"]), step.get("with") or {}, workspace)
        script = str(step["run"])
        if script.strip() in self.emulated_runs:
            self.emulated_runs[script.strip()](env)
            return StepResult(job, label, "emulated")
        path = self.root / job / f"step-{i}.sh"
        path.write_text(self.context.substitute(script))
        try:
            proc = subprocess.run(["bash", "-e", str(path)], cwd=workspace, check=False,
                                  env={**env, **self.context.env(step.get("env"))},
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else ""
            return StepResult(job, label, "ran", -1, f"{out}\n(timed out)")
        return StepResult(job, label, "ran", proc.returncode, proc.stdout)

    def _uses(self, job: str, label: str, action: str, given: Mapping[str, Any],
              workspace: Path) -> StepResult:
        with_ = {str(k): self.context.substitute(str(v)) for k, v in given.items()}
        if action == CHECKOUT and not with_:
            shutil.copytree(self.repo, workspace, symlinks=True)
        elif action == UPLOAD and set(with_) <= {"name", "path", "if-no-files-found"}:
            src, store = workspace / with_["path"], self.artifacts / with_["name"]
            if store.exists():  # v4: an artifact name is uploaded once per run
                return StepResult(job, label, "emulated", 1, f"{with_['name']} exists")
            if not src.exists():
                missing = with_.get("if-no-files-found", "warn") == "error"
                return StepResult(job, label, "emulated", int(missing), f"no files at {src}")
            if src.is_dir():
                shutil.copytree(src, store)
            else:
                store.mkdir(parents=True)
                shutil.copy2(src, store / src.name)
        elif action == DOWNLOAD and set(with_) <= {"name", "path"}:
            store = self.artifacts / with_["name"]
            if not store.is_dir():
                return StepResult(job, label, "emulated", 1, f"no artifact {with_['name']}")
            shutil.copytree(store, workspace / with_.get("path", "."), dirs_exist_ok=True)
        else:
            raise WorkflowError(f"job {job}: `uses: {action}` with {sorted(with_)} "
                                "is not emulated")
        return StepResult(job, label, "emulated")


def _check_keys(what: str, block: Mapping[Any, Any], allowed: set[Any]) -> None:
    unknown = set(block) - allowed
    if unknown:
        raise WorkflowError(f"{what}: keys this emulator does not run: {sorted(map(str, unknown))}")


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _in_needs_order(jobs: Mapping[str, Any]) -> list[str]:
    order: list[str] = []
    while len(order) < len(jobs):
        ready = [n for n in jobs if n not in order and set(_needs(jobs[n])) <= set(order)]
        if not ready:
            raise WorkflowError(f"jobs' needs form a cycle or name no job: {list(jobs)}")
        order += ready
    return order


def _should_run(condition: Any, *, failed: bool) -> bool:
    text = "success()" if condition is None else str(condition).strip()
    text = m.group(1) if (m := _EXPR.fullmatch(text)) else text
    known = {"success()": not failed, "failure()": failed, "always()": True}
    if text not in known:
        raise WorkflowError(f"`if: {condition}` is not emulated")
    return known[text]
