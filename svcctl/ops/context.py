"""One run of one command: built once in `svcctl.cli` and passed down to every operation.

What every operation needs and none of them should rebuild: the inventory, how to reach a
host (the host-key policy and the SSH user are inside `connect`), the interrupt flag
(SIGINT/SIGTERM, installed once per command), where step lines go, the hosts the operator
stated are fenced, the stay-up window an operator asked for, and how many hosts may be
worked on at once (`fan_out`, the one thread pool).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from svcctl.host.base import Host
from svcctl.model import HostSpec, Inventory
from svcctl.ops.steps import Interrupt, Progress

Connect = Callable[[HostSpec], Host]
T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 8  # hosts probed at once by status and diff (audit: --concurrency)


@dataclass
class RunContext:
    inv: Inventory
    connect: Connect
    interrupt: Interrupt = field(default_factory=Interrupt)
    progress: Progress | None = None
    # `--fenced HOST`: stated powered off or cut off by the operator (never inferred)
    acknowledged: frozenset[str] = frozenset()
    stay_up: float | None = None  # `--stay-up`; None: each service's own
    concurrency: int = DEFAULT_CONCURRENCY

    @contextmanager
    def preconnected(self, specs: Sequence[HostSpec]) -> Iterator[None]:
        """Inside: every one of `specs` is being connected to in the background, so that
        the SSH handshakes (mostly waiting on the hosts) overlap the caller's own work, and
        `connect` hands each its open Host, or raises the HostError connecting raised. On
        leaving, the hosts nobody asked for (an early error) are closed, now or as soon as
        their handshake ends; leaving never waits for one.

        Only for a command certainly about to talk to all of them (audit, status: 60-100 ms
        of a one-host run, issue 12): a host key is accepted on first use here as it would
        be at first use."""
        plain = self.connect
        gate = threading.BoundedSemaphore(max(1, min(self.concurrency, len(specs))))

        def opened(host: Host) -> Host:
            with gate:
                try:
                    host.open()
                except BaseException:
                    host.close()
                    raise
                return host

        # made here, in this thread: the transport's import (paramiko) is CPU, which the
        # GIL would only share; the handshakes that follow are mostly waiting
        pending = {s.name: _in_background(opened, plain(s), "svcctl-connect") for s in specs}

        def claim(spec: HostSpec) -> Host:
            future = pending.pop(spec.name, None)
            return plain(spec) if future is None else future.result()

        self.connect = claim
        try:
            yield
        finally:
            self.connect = plain
            for future in pending.values():
                future.add_done_callback(_close_opened)

    def fan_out(self, fn: Callable[[T], R], items: Sequence[T],
                workers: int | None = None) -> list[R]:
        """`fn` over `items`, at most `workers` (default: `concurrency`) at once, results in
        the order of `items`; one at a time when that is 1 (no thread at all).

        An exception from `fn` is raised once every call already running has returned (a
        deploy on one host is never cut off because another failed); the items not yet
        started are not started. Ctrl-C (KeyboardInterrupt: no command that changes hosts
        lets SIGINT raise, they set `interrupt`) is raised at once: the workers are daemon
        threads, so a host hanging in its handshake cannot hold the exit for its timeout."""
        n = max(1, min(workers or self.concurrency, len(items)))
        if n == 1:
            return [fn(x) for x in items]
        todo: queue.SimpleQueue[tuple[T, Future[R]]] = queue.SimpleQueue()
        futures: list[Future[R]] = [Future() for _ in items]
        for pair in zip(items, futures, strict=True):
            todo.put(pair)
        for i in range(n):
            threading.Thread(target=_work, args=(todo, fn), name=f"svcctl-fan-{i}",
                             daemon=True).start()
        try:
            return [f.result() for f in futures]
        except BaseException as exc:
            for f in futures:
                f.cancel()
            if not isinstance(exc, KeyboardInterrupt):
                wait(futures)
            raise


def _work(todo: queue.SimpleQueue[tuple[T, Future[R]]], fn: Callable[[T], R]) -> None:
    """A fan-out worker: the next item not cancelled, until none is left."""
    while True:
        try:
            x, future = todo.get_nowait()
        except queue.Empty:
            return
        if future.set_running_or_notify_cancel():
            _settle(future, fn, x)


def _settle(future: Future[R], fn: Callable[[T], R], x: T) -> None:
    try:
        future.set_result(fn(x))
    except BaseException as exc:  # handed to the waiting thread, which raises it
        future.set_exception(exc)


def _in_background(fn: Callable[[T], R], x: T, name: str) -> Future[R]:
    """`fn(x)` in a daemon thread of its own: the process's exit never waits for it."""
    future: Future[R] = Future()
    future.set_running_or_notify_cancel()
    threading.Thread(target=_settle, args=(future, fn, x), name=name, daemon=True).start()
    return future


def _close_opened(future: Future[Host]) -> None:
    """A done-callback: close the host a background connect opened (none if it failed)."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()
