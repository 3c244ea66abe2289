"""A monotonic timer heap for the single-threaded event loop."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def schedule(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(delay, 0.0), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def next_timeout(self) -> float | None:
        """Seconds until the next live timer, None when there is none."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(self._heap[0].when - time.monotonic(), 0.0)

    def run_due(self) -> None:
        now = time.monotonic()
        while self._heap and (self._heap[0].cancelled or self._heap[0].when <= now):
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.cancelled = True  # a fired timer is no longer pending
                timer.callback()
