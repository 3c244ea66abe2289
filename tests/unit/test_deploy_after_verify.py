"""A deploy that passed verify is never rolled back by what follows it (issue 13: prune).

The rollback hook (`_HostRun.failed`) and the outcome are decided from the executor's
record of what completed; the host here refuses every call, so a rollback attempt fails
the test instead of touching anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from svcctl.host.base import DEFAULT_TIMEOUT, Host, Result
from svcctl.model import Domain, DomainKind, HostSpec, Inventory, ServiceSpec
from svcctl.ops.context import RunContext
from svcctl.ops.deploy import _HostRun, _outcome
from svcctl.ops.executor import Ran
from svcctl.ops.lifecycle import StepFailed
from svcctl.ops.plan import DeployOptions
from svcctl.ops.steps import Recorder, Step


class _Untouchable(Host):
    def __init__(self) -> None:
        self.name = "tesseract"

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
            stdin: bytes | None = None) -> Result:
        raise AssertionError(f"the host was asked to run {list(argv)}")

    def feed(self, argv: Sequence[str], chunks: Iterable[bytes], *,
             timeout: float = DEFAULT_TIMEOUT) -> Result:
        raise AssertionError(f"the host was fed {list(argv)}")

    def read_file(self, path: str) -> bytes | None:
        raise AssertionError(f"the host was asked to read {path}")

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        raise AssertionError(f"the host was asked to write {path}")


SVC = ServiceSpec("shiva", "com.example.shiva", ("tesseract",), ("/usr/bin/python3", "/x.py"))
SPEC = HostSpec("tesseract", Domain(DomainKind.USER, 501), home="/Users/ops")
STEPS = [Step(k, k) for k in ("upload", "stop", "switch", "start", "verify")]


def _run() -> _HostRun:
    inv = Inventory(Path("inventory.yaml"), {"tesseract": SPEC}, {"shiva": SVC}, Path("."))
    ctx = RunContext(inv, lambda spec: _Untouchable())
    return _HostRun(ctx, SVC, SPEC, _Untouchable(), DeployOptions(), Recorder("tesseract"))


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_failure_after_verify_never_rolls_back(interrupted: bool) -> None:
    run = _run()
    exc = StepFailed("prune: the host went away")
    if interrupted:
        run.ctx.interrupt.signum = 2  # what the SIGINT handler records
    run.failed(exc, STEPS, Step("prune", "prune"))
    assert run.undone is None  # and the host was never touched (it would have raised)
    outcome, code, error = _outcome(Ran([], "steps", exc, list(STEPS), Step("prune", "")),
                                    run)
    assert outcome == ("interrupted" if interrupted else "failed") and code == 3
    assert error is not None and "verified: nothing was rolled back" in error


def test_a_failure_before_verify_still_rolls_back() -> None:
    """The same hook, one step earlier, does undo: its first move is on the host (which
    refuses here), so the rollback is attempted, not skipped."""
    run = _run()
    run.installed = True
    with pytest.raises(AssertionError, match="the host was asked to run"):
        run.failed(StepFailed("start: no"), STEPS[:3], Step("start", "start"))
