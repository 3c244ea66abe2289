"""One executor for every deploy-family command: a plan is a list of steps that runs.

An operation (deploy, restart, start, stop, adopt, fence) on one host is an `Operation`:
an observation step, which only reads, and `steps()`, the rest of the plan built from
what that observation saw. `execute` runs any of them the same way:

    lock -> observe -> steps() ... -> unlock

- the `lock` step takes the host's deploy lock; `unlock` always releases it, recorded;
- before each later step, the interrupt flag is checked (SIGINT/SIGTERM: the step in
  flight finishes, nothing new begins) and the lock's lease is renewed (`ensure_held`),
  and once more after the last step: a lock lost during a long verify is a failure;
- every step leaves one `StepRecord`, reported as it completes;
- on a failure, the operation's `failed` hook runs while the lock is still held (a
  deploy's rollback), and the run ends there.

A dry run takes no lock and runs only the observation: its plan is the list that a real
run from the same observation executes, step for step (tests/deploy/test_plan_is_run.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from svcctl.errors import HostError, ParseError, SvcctlError
from svcctl.host.base import Host
from svcctl.ops.lifecycle import StepFailed
from svcctl.ops.lock import DEFAULT_TTL, DEFAULT_WAIT, DeployLock, lock_path
from svcctl.ops.steps import Interrupt, Recorder, Step


class Operation(Protocol):
    """One deploy-family command on one host. `framed`: its plan lists the lock, the
    observation and the unlock too (deploy, fence, start, stop), or only what comes after
    the observation (adopt, whose plan has always been the changes)."""

    framed: bool

    def observe(self) -> Step | None:
        """The step that looks before anything changes (reads only; runs in a dry run)."""

    def steps(self) -> list[Step]:
        """Pure, from what `observe` saw: the steps after it, each with its `run`."""

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """`failing` (None: the interrupt or lease check between steps) raised `exc` after
        `done` completed: roll back what needs it, with the lock still held. Called for
        failures after the observation only."""


@dataclass(frozen=True)
class LockPolicy:
    ttl: float = DEFAULT_TTL
    wait: float = DEFAULT_WAIT
    break_lock: bool = False


@dataclass
class Ran:
    """How far a run got. `stage`: "lock" (not taken), "observe" (refused or failed
    before any change), "steps" (a step failed: `failed_step`), "done", or "planned"."""

    plan: list[Step]
    stage: str
    error: SvcctlError | None = None
    done: list[Step] = field(default_factory=list)
    failed_step: Step | None = None

    @property
    def changed(self) -> bool:
        """Did any step that changes the host complete (or start)?"""
        began = [*self.done, *([self.failed_step] if self.failed_step else [])]
        return any(s.changes for s in began)


def lock_step(service: str, policy: LockPolicy) -> Step:
    return Step("lock", f"take {lock_path(service)} (expires after {policy.ttl:g} s)")


def unlock_step(service: str) -> Step:
    return Step("unlock", f"remove {lock_path(service)}")


def whole_plan(service: str, policy: LockPolicy, observe: Step | None,
               rest: Sequence[Step], *, framed: bool = True) -> list[Step]:
    if not framed:
        return list(rest)
    head = [lock_step(service, policy), *([observe] if observe else [])]
    return [*head, *rest, unlock_step(service)]


def execute(op: Operation, *, host: Host, service: str, rec: Recorder, interrupt: Interrupt,
            policy: LockPolicy, dry_run: bool = False) -> Ran:
    """Run `op` on `host` as the module docstring says; never raises a SvcctlError."""
    observe = op.observe()

    def plan(rest: Sequence[Step]) -> list[Step]:
        return whole_plan(service, policy, observe, rest, framed=op.framed)

    if dry_run:
        try:
            if observe is not None:
                _run(rec, observe)
        except SvcctlError as exc:
            return Ran(plan([]), "observe", exc)
        return Ran(plan(op.steps()), "planned")
    lock = DeployLock(host, service)
    try:
        rec.run("lock", lambda: lock.acquire(ttl=policy.ttl, wait=policy.wait,
                                             break_lock=policy.break_lock).describe())
    except SvcctlError as exc:
        return Ran(plan([]), "lock", exc)
    try:
        try:
            if observe is not None:
                _run(rec, observe)
        except SvcctlError as exc:
            return Ran(plan([]), "observe", exc)
        rest = op.steps()
        return _steps(op, rest, plan(rest), lock, rec, interrupt, observed=observe is not None)
    finally:
        with contextlib.suppress(HostError, ParseError):
            rec.run("unlock", lock.release)


def _steps(op: Operation, rest: Sequence[Step], plan: list[Step], lock: DeployLock,
           rec: Recorder, interrupt: Interrupt, *, observed: bool) -> Ran:
    done: list[Step] = []
    current: Step | None = None
    try:
        for i, step in enumerate(rest):
            current = None
            # between steps: the lock alone is not one (a signal right after it lands in
            # the first step, which finishes: `svcctl stop` interrupted mid-stop still stops)
            if (i > 0 or observed) and interrupt():
                raise StepFailed(f"interrupted by {interrupt.name} " + (
                    f"after {done[-1].kind}" if any(s.changes for s in done)
                    else "before any change"))
            lock.ensure_held()  # renews the lease: a long verify never outlives it
            current = step
            _run(rec, step)
            done.append(step)
        current = None
        lock.ensure_held()  # lost during the last step: someone else may act on the host
    except SvcctlError as exc:
        op.failed(exc, done, current)
        return Ran(plan, "steps", exc, done, current)
    return Ran(plan, "done", None, done)


def _run(rec: Recorder, step: Step) -> None:
    if step.skip is not None:
        rec.skip(step.kind, step.skip)
        return
    assert step.run is not None, f"step {step.kind} has nothing to run"
    if step.parts:
        step.run()
        return
    rec.run(step.kind, step.run)


Run = Callable[[], str]


def bind(plan: Sequence[Step], runs: Mapping[str, Run | Sequence[Run]],
         reads: Collection[str] = ()) -> list[Step]:
    """Give each planned step what runs it: one function per kind, or one per step of that
    kind, in plan order. Kinds in `reads` change nothing on the host. A step with `skip`
    needs nothing to run. Every function given must be used: the plan and the runs agree."""
    queues = {k: list(v) for k, v in runs.items() if not callable(v)}
    out = []
    for s in plan:
        if s.skip is not None:
            out.append(s)
            continue
        fn = runs[s.kind]
        out.append(replace(s, run=queues[s.kind].pop(0) if not callable(fn) else fn,
                           changes=s.kind not in reads))
    left = {k: len(q) for k, q in queues.items() if q}
    assert not left, f"steps without a plan entry: {left}"
    return out
