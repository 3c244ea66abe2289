"""`svcctl watch`: the audit on a timer; an event per change; Prometheus metrics."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from svcctl.cli import common
from svcctl.errors import BadInputError

if TYPE_CHECKING:
    from svcctl.ops.watch import Scope

WATCH_HELP = """Run the audit's probe on every host every --interval, over one SSH
connection per host kept open, and print one JSON line (schema svcctl.event/1) per
change: a verdict that changed, a new stray pid, a release change, a host unreachable
(after --grace failed cycles) or reachable again, and a reminder of a finding still
unresolved every --renotify. Read-only: it only ever sends the audit's probe.

--on-change CMD runs `/bin/sh -c CMD` per event, in order, with the event's JSON on stdin
and in $SVCCTL_EVENT (and $SVCCTL_EVENT_KIND, $SVCCTL_HOST, $SVCCTL_SERVICE,
$SVCCTL_VERDICT, ...); its output goes to stderr. --metrics ADDR:PORT serves /metrics for
Prometheus. Logs (connections lost and restored, hook failures, reloads) go to stderr.

Durations: 30s, 5m, 1h or plain seconds. SIGTERM or SIGINT: exit 0 after the current
cycle. SIGHUP: read the inventory again (a bad one keeps the old, and says why).

Exit codes: 0 stopped by a signal; 2 bad input.

Example: svcctl watch --interval 30s --metrics 127.0.0.1:9464 --on-change 'cat >> events.log'
"""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(option: str, text: str) -> float:
    """`30s`, `5m`, `1h` or plain seconds, more than zero."""
    m = _DURATION.fullmatch(text.strip())
    seconds = float(m.group(1)) * _UNIT[m.group(2)] if m else 0.0
    if seconds <= 0:
        raise BadInputError(f"{option} {text!r}: not a duration (30s, 5m, 1h or seconds)")
    return seconds


def parse_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT` (`[::1]:9464` for IPv6) for --metrics."""
    addr, sep, port = text.rpartition(":")
    addr = addr[1:-1] if addr.startswith("[") and addr.endswith("]") else addr
    if not sep or not addr or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInputError(f"--metrics {text!r}: expected ADDR:PORT, e.g. 127.0.0.1:9464")
    return addr, int(port)


def _log(message: str) -> None:
    sys.stderr.write(f"svcctl watch: {message}\n")
    sys.stderr.flush()


def _emit(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader is gone: keep watching (hooks, metrics), say so once
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        _log("stdout is closed: events go on to --on-change and /metrics only")


def register(app: typer.Typer) -> None:
    @app.command(help=WATCH_HELP)
    def watch(
        interval: str = typer.Option("30s", "--interval", help="Time between cycles."),
        grace: int = typer.Option(2, "--grace", min=1,
                                  help="Failed cycles before a host counts as unreachable."),
        renotify: str = typer.Option("1h", "--renotify",
                                     help="Remind of an unresolved finding this often."),
        on_change: str | None = typer.Option(None, "--on-change", metavar="CMD",
                                             help="Run CMD (/bin/sh -c) per event."),
        metrics: str | None = typer.Option(None, "--metrics", metavar="ADDR:PORT",
                                           help="Serve Prometheus /metrics there."),
        host: list[str] = common.HostOption,
        service: list[str] = typer.Option(None, "--service", "-s",
                                          help="Only these services (repeatable)."),
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.inventory import resolve_inventory_path
        from svcctl.ops import watch as ops
        from svcctl.watch.state import Tracker

        every = parse_duration("--interval", interval)
        remind = parse_duration("--renotify", renotify)
        listen = parse_listen(metrics) if metrics else None
        path = resolve_inventory_path(str(inventory) if inventory else None,
                                      dict(os.environ)).absolute()

        def load() -> Scope:
            inv = common.load(path)
            hosts = tuple(inv.hosts[h] for h in common.pick_hosts(inv, host))
            names = common.pick_services(inv, service)
            return ops.Scope(inv, hosts, tuple(inv.services[n] for n in names),
                             common.connector(inv, accept_new_host_key))

        scope = load()
        opts = ops.WatchOptions(interval=every, timeout=max(10.0, every), on_change=on_change)
        collector = None
        if listen:
            from svcctl.watch.metrics import WatchCollector

            collector = WatchCollector()
        shutdown = ops.serve_metrics(*listen, collector) if listen and collector else None
        loop = ops.Watch(scope, load, opts, tracker=Tracker(grace=grace, renotify=remind),
                         collector=collector, emit=_emit, log=_log)
        try:
            with ops.signals_routed(loop):
                loop.run()
        finally:
            if shutdown is not None:
                shutdown()
        raise typer.Exit(0)
