"""Run narrated shell commands and hold each to what the narration says it does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_EXIT_NOTE = re.compile(r"\s+#\s*exit(?:s)?\s+(\d+)\b.*$", re.M)
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")


@dataclass(frozen=True)
class Step:
    command: str  # exactly what a user types at the prompt
    expect_rc: int = 0
    expect_out: tuple[str, ...] = ()  # each must appear in stdout+stderr
    say: str = ""  # the narration shown before the command


@dataclass
class Outcome:
    step: Step
    rc: int
    output: str
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_console(markdown: str) -> list[Step]:
    """The `$ ` commands of every ```console block, with `# exit N` notes as expectations.

    A trailing backslash continues a command on the next line, as in a shell, and a
    here-document (`<<'EOF'`) runs to its terminator.
    """
    steps: list[Step] = []
    in_block = False
    pending = ""
    heredoc: str | None = None
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```") and heredoc is None:
            in_block = stripped == "```console"
            continue
        if not in_block:
            continue
        if pending:
            pending += "\n" + line
        elif line.startswith("$ "):
            pending = line[2:]
        else:
            continue  # sample output
        if heredoc is None and (m := _HEREDOC.search(line)) and pending.count("\n") == 0:
            heredoc = m.group(1)
            continue
        if heredoc is not None:
            if stripped != heredoc:
                continue
            heredoc = None
        if pending.endswith("\\"):
            continue
        m = _EXIT_NOTE.search(pending.split("\n", 1)[0])
        rc = int(m.group(1)) if m else 0
        steps.append(Step(pending, rc))
        pending = ""
    return steps


def environment(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """svcctl on PATH (the one running now), colour off, the demo's testbed."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["NO_COLOR"] = "1"
    env["SVCCTL_TESTBED_DIR"] = str(workdir / ".testbed")
    env.pop("SVCCTL_INVENTORY", None)
    env.update(extra or {})
    return env


def run_step(step: Step, workdir: Path, env: Mapping[str, str], timeout: float = 180) -> Outcome:
    start = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", step.command], check=False, cwd=workdir,
            env=dict(env),
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        rc, output = -1, out + f"\n(timed out after {timeout:g} s)"
    result = Outcome(step, rc, output, time.monotonic() - start)
    if rc != step.expect_rc:
        result.problems.append(f"expected exit {step.expect_rc}, got {rc}")
    for text in step.expect_out:
        if text not in output:
            result.problems.append(f"expected {text!r} in the output")
    return result


def run_steps(steps: Iterable[Step], workdir: Path, env: Mapping[str, str],
              show: Callable[[str], None] | None = None) -> list[Outcome]:
    """Run steps in order, narrating to `show`; stop at the first that misbehaves."""
    outcomes = []
    for step in steps:
        if show:
            if step.say:
                show(f"\n# {step.say}")
            show(f"$ {step.command}")
        outcome = run_step(step, workdir, env)
        outcomes.append(outcome)
        if show:
            body = outcome.output.rstrip()
            if body:
                show("\n".join("  " + line for line in body.splitlines()))
            verdict = "as expected" if outcome.ok else "NOT AS NARRATED: " + "; ".join(
                outcome.problems)
            show(f"  -> exit {outcome.rc} ({outcome.seconds:.1f} s), {verdict}")
        if not outcome.ok:
            break
    return outcomes
