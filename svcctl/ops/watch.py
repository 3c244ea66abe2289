"""`svcctl watch`: the audit probe on every host, on a timer, over connections kept open.

One thread per host owns that host's SSH connection: it probes when the loop asks and
reconnects after a loss with capped, jittered exponential backoff, so a dead host never
delays the others. The loop (the main thread) starts a cycle every `interval`, jittered;
a host still busy from the last cycle is not asked again (cycles never overlap on a host)
and its result counts when it arrives, or when its probe times out. Each result goes
through the pure `svcctl.watch.state.Tracker`; each event is one JSON line on stdout and
one run of the `--on-change` hook, in order, in a worker of its own so that a slow hook
never stalls probing. Read-only by construction: the only command sent is the audit's
probe batch (`svcctl.ops.audit.probe_host`).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from types import FrameType
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server

from svcctl.errors import BadInputError, HostError, ParseError, SvcctlError
from svcctl.guard import printable
from svcctl.host.base import Host
from svcctl.model import HostSpec, Inventory, ServiceSpec
from svcctl.ops.audit import HostReport, probe_host, unreachable_report, visible
from svcctl.ops.context import Connect
from svcctl.ops.hook import HookRunner, Log
from svcctl.watch.state import Tracker

if TYPE_CHECKING:
    from svcctl.watch.metrics import WatchCollector



@dataclass(frozen=True)
class Scope:
    """What is watched: read from the inventory at start and again on SIGHUP."""

    inv: Inventory
    hosts: tuple[HostSpec, ...]
    services: tuple[ServiceSpec, ...]
    connect: Connect


@dataclass(frozen=True)
class WatchOptions:
    interval: float = 30.0
    jitter: float = 0.1  # each cycle starts interval * (1 +- jitter) after the last
    timeout: float = 30.0  # one probe, connecting included
    backoff_cap: float | None = None  # longest wait between two reconnection attempts
    # (None: 8 intervals, at most a minute, at least one interval)
    on_change: str | None = None  # `/bin/sh -c` command run per event
    hook_timeout: float = 30.0

    @property
    def retry_cap(self) -> float:
        if self.backoff_cap is not None:
            return self.backoff_cap
        return max(self.interval, min(60.0, 8 * self.interval))


def backoff(failures: int, interval: float, cap: float, rand: float) -> float:
    """Seconds before the next reconnection attempt after `failures` failed in a row: the
    first retry at the next cycle, then doubling from one interval, capped, and jittered
    down by up to half (`rand` in [0, 1)) so that hosts lost together do not retry in step."""
    if failures <= 1:
        return 0.0
    return min(cap, interval * 2.0 ** (failures - 2)) * (1.0 - rand / 2)


# -- one host --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Done:
    worker: _HostWorker
    report: HostReport
    duration: float | None  # None: no probe went out (waiting to reconnect)
    at: float  # epoch seconds when the probe ended


class _HostWorker:
    """A thread that owns one host's connection and probes it when asked."""

    def __init__(self, spec: HostSpec, connect: Connect, opts: WatchOptions,
                 outbox: SimpleQueue[object], log: Log) -> None:
        self.spec, self.connect, self.opts = spec, connect, opts
        self.busy = False  # read and written by the loop only
        self._outbox, self._log = outbox, log
        self._jobs: SimpleQueue[tuple[ServiceSpec, ...] | None] = SimpleQueue()
        self._host: Host | None = None
        self._failures = 0
        self._answered = False  # has it ever: "lost" then, else "cannot reach"
        self._retry_at = 0.0
        self._error = ""
        self._thread = threading.Thread(target=self._loop, name=f"watch-{spec.name}",
                                        daemon=True)
        self._thread.start()

    def submit(self, services: tuple[ServiceSpec, ...]) -> None:
        self.busy = True
        self._jobs.put(services)

    def close(self) -> None:
        """The thread closes the connection and ends after the probe in flight, if any."""
        self._jobs.put(None)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (services := self._jobs.get()) is not None:
            start = time.monotonic()
            waiting = self._host is None and start < self._retry_at
            try:
                report = unreachable_report(self.spec.name, services, self._error) if waiting \
                    else self._probe(services)
            except Exception as exc:  # a bug must not end the host's thread: told, counted
                self._drop()
                report = unreachable_report(self.spec.name, services,
                                      f"internal error: {type(exc).__name__}: {exc}")
                self._log(f"{self.spec.name}: internal error: {type(exc).__name__}: {exc}")
            took = None if waiting else time.monotonic() - start
            self._outbox.put(_Done(self, report, took, time.time()))
        self._drop()

    def _probe(self, services: tuple[ServiceSpec, ...]) -> HostReport:
        try:
            if self._host is None:
                self._host = self.connect(self.spec)
            report = probe_host(self.spec, services, self._host, self.opts.timeout)
        except HostError as exc:
            return self._failed(services, exc.one_line())
        except ParseError as exc:
            return self._failed(services, f"the probe's output was cut short: {exc}")
        if self._failures:
            self._log(f"{self.spec.name}: connection restored after {self._failures} "
                      "failed attempt(s)")
        self._failures, self._answered = 0, True
        return report

    def _failed(self, services: Sequence[ServiceSpec], why: str) -> HostReport:
        self._drop()
        self._failures += 1
        self._error = why
        wait = backoff(self._failures, self.opts.interval, self.opts.retry_cap,
                       random.random())  # noqa: S311 - jitter, not a secret
        self._retry_at = time.monotonic() + wait
        if self._failures == 1:
            what = "connection lost" if self._answered else "cannot reach it"
            self._log(f"{self.spec.name}: {what}: {printable(why)}")
        return unreachable_report(self.spec.name, services, why)

    def _drop(self) -> None:
        if self._host is not None:
            host, self._host = self._host, None
            try:
                host.close()
            except Exception as exc:  # closing a dead connection may fail: nothing to do
                self._log(f"{self.spec.name}: closing the connection failed: {exc}")


# -- the hook --------------------------------------------------------------------------------

# -- the loop --------------------------------------------------------------------------------

_STOP, _RELOAD = "stop", "reload"


class Watch:
    """The loop. `stop()` and `reload()` are safe to call from signal handlers."""

    def __init__(self, scope: Scope, load: Callable[[], Scope], opts: WatchOptions, *,
                 tracker: Tracker, collector: WatchCollector | None,
                 emit: Callable[[str], None], log: Log) -> None:
        self.scope, self._load, self.opts = scope, load, opts
        self.tracker, self.collector = tracker, collector
        self._emit, self._log = emit, log
        self._inbox: SimpleQueue[object] = SimpleQueue()  # put() is reentrant: signals
        self._hooks = HookRunner(opts.on_change, opts.hook_timeout, log) \
            if opts.on_change else None
        self.workers: dict[str, _HostWorker] = {}
        self.cycles = 0
        self._start_workers(scope.hosts)

    def stop(self) -> None:
        self._inbox.put(_STOP)

    def reload(self) -> None:
        self._inbox.put(_RELOAD)

    def run(self) -> None:
        """Cycles until stop(); then the current cycle's results, connections closed."""
        due = time.monotonic()
        self._log(f"watching {len(self.scope.hosts)} host(s), {len(self.scope.services)} "
                  f"service(s) every {self.opts.interval:g} s")
        try:
            while True:
                try:
                    msg = self._inbox.get(timeout=max(0.0, due - time.monotonic()))
                except Empty:
                    msg = None
                if msg == _STOP:
                    break
                if msg == _RELOAD:
                    self._reload()
                elif isinstance(msg, _Done):
                    self._consume(msg)
                if time.monotonic() >= due:
                    self._cycle()
                    spread = random.uniform(-self.opts.jitter, self.opts.jitter)  # noqa: S311
                    due = max(due + self.opts.interval * (1 + spread), time.monotonic())
            self._finish()
        finally:
            self._close()

    def _close(self) -> None:
        """Every connection closed (a host still hung is left to the exit, which closes
        its socket); the hook's queue run, within its timeout."""
        for w in self.workers.values():
            w.close()
        if self._hooks is not None:
            self._hooks.close(self.opts.hook_timeout)
        closing = time.monotonic() + 2.0
        for w in self.workers.values():
            if not w.busy:
                w.join(max(0.0, closing - time.monotonic()))

    def _cycle(self) -> None:
        self.cycles += 1
        for w in self.workers.values():
            if not w.busy:  # still busy from the last cycle: its result counts when it comes
                w.submit(self.scope.services)

    def _finish(self) -> None:
        """The current cycle's probes still out: waited for, as long as a cycle lasts (one
        interval, at most the probe's timeout) and a second; a host hung past that (an
        unanswered connect) is left to the exit, which closes its socket."""
        wait = min(self.opts.timeout, max(self.opts.interval, 1.0)) + 1.0
        deadline = time.monotonic() + wait
        while any(w.busy for w in self.workers.values()):
            try:
                msg = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                return
            if isinstance(msg, _Done):
                self._consume(msg)
            elif msg == _STOP:  # asked twice: stop now
                return

    def _consume(self, done: _Done) -> None:
        if self.workers.get(done.worker.spec.name) is not done.worker:
            return  # a host removed or changed by a reload: its late result is not counted
        done.worker.busy = False
        report = visible(done.report, self.scope.services)
        if self.collector is not None:
            self.collector.update(report, done.duration, done.at)
        for event in self.tracker.observe(report, done.at):
            self._emit(event.to_json())
            if self._hooks is not None:
                self._hooks.submit(event)

    def _start_workers(self, specs: Sequence[HostSpec]) -> None:
        for spec in specs:
            self.workers[spec.name] = _HostWorker(spec, self.scope.connect, self.opts,
                                                  self._inbox, self._log)

    def _reload(self) -> None:
        """SIGHUP: the inventory again, from the same path; a bad one keeps the old."""
        try:
            scope = self._load()
        except (SvcctlError, OSError) as exc:
            why = exc.one_line() if isinstance(exc, SvcctlError) else str(exc)
            self._log(f"inventory reload failed, still watching the old one: {printable(why)}")
            return
        keep = {s.name for s in scope.hosts}
        same_ssh = scope.inv.ssh_config == self.scope.inv.ssh_config
        for name, w in list(self.workers.items()):
            if name not in keep or not same_ssh or w.spec != scope.inv.hosts[name]:
                w.close()  # gone or changed: its connection closes; a new one for a change
                del self.workers[name]
        added = [s for s in scope.hosts if s.name not in self.workers]
        self.scope = scope
        self._start_workers(added)
        self.tracker.forget(keep)
        if self.collector is not None:
            self.collector.forget(keep)
        self._log(f"inventory reloaded: {len(scope.hosts)} host(s), "
                  f"{len(scope.services)} service(s)")


@contextmanager
def signals_routed(watch: Watch) -> Iterator[None]:
    """SIGTERM and SIGINT stop the watch after the current cycle; SIGHUP reloads."""
    def stop(signum: int, frame: FrameType | None) -> None:
        watch.stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        watch.reload()

    wanted = {signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGHUP: reload}
    old = {s: signal.signal(s, h) for s, h in wanted.items()}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def serve_metrics(address: str, port: int, collector: WatchCollector) -> Callable[[], None]:
    """/metrics on address:port with the watch's families only (a registry of its own, not
    prometheus_client's default one); returns the function that stops serving."""
    registry = CollectorRegistry()
    registry.register(collector)
    try:
        server, thread = start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        raise BadInputError(f"--metrics {address}:{port}: cannot listen: "
                            f"{exc.strerror or exc}") from exc

    def shutdown() -> None:
        server.shutdown()
        server.server_close()
        thread.join(2.0)

    return shutdown
