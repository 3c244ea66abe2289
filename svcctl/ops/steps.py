"""Step records shared by deploy, adopt and the lifecycle commands, and the interrupt flag.

A step is planned (an exact description, what `--dry-run` prints), then run: each run
leaves one `StepRecord` with its outcome and duration, reported as it happens.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from svcctl.errors import SvcctlError


@dataclass(frozen=True)
class Step:
    """A planned step: `kind` is stable (JSON), `action` says exactly what it will do.

    The same object runs (`svcctl.ops.executor`): `run` does it and returns the detail
    recorded; `changes` says it changes the host (the lease is renewed before it, and a
    failure from then on may need a rollback); `skip`, when set, is recorded as the reason
    it had nothing to do; `parts` says its `run` records its own parts (adopt's `ensure`:
    gate, start, verify) and the step itself leaves no record. Two steps are equal when
    their kind and action are: that is the plan a dry run prints.
    """

    kind: str
    action: str
    run: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    changes: bool = field(default=True, compare=False)
    skip: str | None = field(default=None, compare=False)
    parts: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class StepRecord:
    step: str
    outcome: str  # "ok" | "failed" | "skipped" | "planned"
    detail: str
    duration: float


Progress = Callable[[str, StepRecord], None]


@dataclass
class Recorder:
    """Runs steps for one host, times them, and reports each as it completes."""

    host: str
    progress: Progress | None = None
    steps: list[StepRecord] = field(default_factory=list)

    def add(self, record: StepRecord) -> None:
        self.steps.append(record)
        if self.progress is not None:
            self.progress(self.host, record)

    def run(self, step: str, fn: Callable[[], str]) -> str:
        t0 = time.monotonic()
        try:
            detail = fn()
        except SvcctlError as exc:
            self.add(StepRecord(step, "failed", exc.one_line(), time.monotonic() - t0))
            raise
        self.add(StepRecord(step, "ok", detail, time.monotonic() - t0))
        return detail

    def skip(self, step: str, why: str) -> None:
        self.add(StepRecord(step, "skipped", why, 0.0))


class Interrupt:
    """SIGINT/SIGTERM set a flag that the ops check between steps (and while polling):
    the step in flight finishes or rolls back, the lock is released, the exit is non-zero."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = self.signum or signum

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)
