"""One run of one command: built once in `svcctl.cli` and passed down to every operation.

What every operation needs and none of them should rebuild: the inventory, how to reach a
host (the host-key policy and the SSH user are inside `connect`), the interrupt flag
(SIGINT/SIGTERM, installed once per command), where step lines go, the hosts the operator
stated are fenced, the stay-up window an operator asked for, and how many hosts may be
worked on at once (`fan_out`, the one thread pool).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
        leaving, the hosts nobody asked for (an early error) are closed.

        Only for a command certainly about to talk to all of them (audit, status: 60-100 ms
        of a one-host run, issue 12): a host key is accepted on first use here as it would
        be at first use."""
        plain = self.connect
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(specs))),
                                  thread_name_prefix="svcctl-connect")

        def opened(host: Host) -> Host:
            try:
                host.open()
            except BaseException:
                host.close()
                raise
            return host

        # made here, in this thread: the transport's import (paramiko) is CPU, which the
        # GIL would only share; the handshakes that follow are mostly waiting
        pending: dict[str, Future[Host]] = {s.name: pool.submit(opened, plain(s))
                                            for s in specs}
        pool.shutdown(wait=False)  # its threads end when their handshakes do

        def claim(spec: HostSpec) -> Host:
            future = pending.pop(spec.name, None)
            return plain(spec) if future is None else future.result()

        self.connect = claim
        try:
            yield
        finally:
            self.connect = plain
            for future in pending.values():
                if future.exception() is None:
                    future.result().close()

    def fan_out(self, fn: Callable[[T], R], items: Sequence[T],
                workers: int | None = None) -> list[R]:
        """`fn` over `items`, at most `workers` (default: `concurrency`) at once, results in
        the order of `items`; one at a time when that is 1 (no thread at all)."""
        n = max(1, min(workers or self.concurrency, len(items)))
        if n == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(fn, items))
