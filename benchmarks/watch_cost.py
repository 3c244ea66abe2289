"""What does `svcctl watch` cost, and how fast does it tell? (issue 14, "Performance")

Run (as root; it starts its own simulated hosts in a temporary DIR and stops them):
    .venv/bin/python benchmarks/watch_cost.py [--hosts 10] [--interval 5] [--duration 60]
        [--rounds 2] [--stray-interval 2] [--tries 20] [--many 50] [--cycle-interval 20]
        [--cycles 5]
A quick look: --duration 15 --rounds 1 --tries 4 --many 12 --cycle-interval 5 --cycles 3.

Measures, in one run, on testbed hosts with --services (3) services each, all healthy:
  (a) steady state: `svcctl watch --interval 5s` over --hosts (10) hosts, --duration (60) s
      after its first cycle (which connects: a warm-up) is done. The watch process's own
      CPU (utime+stime of it and of its children, live or reaped, from /proc via psutil)
      over the window's wall time: % of one core. Target <= 5%. It serves --metrics,
      scraped only before and after the window (to see its first cycle and that every host
      still answers at the end). It must print no event at all (nothing changes) and log
      nothing but its start line.
  (b) `svcctl audit` from a loop every --interval over the same hosts for the same time:
      the audits' CPU (RUSAGE_CHILDREN), and the ratio watch / audit loop. Target <= 0.2.
      Every audit must be all-ok. (a) and (b) alternate --rounds times; medians.
  (c) stray latency: a watch at --stray-interval (2 s) over the same hosts; a copy of a
      service started by hand over ssh (`nohup /usr/bin/python3 ~/benchN/main.py &`, the
      ssh returning once ps shows it running: tests/testbed/jobs.detached), and the time
      from the ssh returning to the event line naming its pid arriving on the watch's
      stdout (stamped by the reader thread as it arrives). Then the stray is killed and
      the time to its `resolved: duplicate -> ok` event is noted too. Hosts and services
      in turn, --tries (20) times; target: median <= interval + 1 s. The watch must print
      exactly those two events per try.
  (d) a cycle over --many (50) hosts vs over 1 host, the watch every --cycle-interval
      (20 s: a cycle must end before the next begins, or a host still busy is skipped and
      the two mix; 50 testbed hosts on 2 cores took over 4.5 s). The watch logs no
      cycle, so a cycle is timed from its own clocks, read from its /metrics: each host's
      worker stamps its probe's end (`svcctl_last_success_timestamp_seconds`, epoch)
      and its duration (`svcctl_probe_duration_seconds`, from the moment the worker took
      the job). The loop hands every host its job at the same instant, so one cycle is
          max(end) - min(end - duration)
      over the hosts, once every host has a newer end than the last cycle's (scraped
      every 0.2 s after 0.8 interval; a snapshot spanning two cycles, i.e. wider than 0.9
      interval, the shortest gap jitter allows, is dropped, not counted). It leaves out
      only the workers' wake-up after the hand-out (before the first start) and the loop
      receiving the last result. The first cycle (connecting) is not counted; --cycles
      per watch, 1-host and many-host watches alternately, --rounds times; medians.
      Target: many-host cycle <= 2x the 1-host cycle. The many hosts are started after
      (a)-(c), one at a time; if the machine cannot hold them all, the benchmark says
      what failed, measures the largest number that works, and counts the target missed.
      Also printed: the machine's busy CPU a cycle, since the simulated hosts run their
      probes (an emulated ps and launchctl, in Python) on the same cores as the watch.
Prints medians and ratios, the load average and the machine's busy CPU (other work on the
machine shows there); exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from audit_scaling import (
    HOME,
    ROOT,
    audit,
    children_cpu,
    deploy,
    machine_busy,
    ssh,
    write_inventory,
)

from svcctl_testbed.control import Testbed
from svcctl_testbed.errors import TestbedError

sys.path.insert(0, str(ROOT))  # the tests' harness: `svcctl watch` run as a user runs it
from tests.testbed.jobs import detached
from tests.wait import wait_until
from tests.watch.running import Watcher, free_port, no_traceback

CPU_TARGET = 5.0  # % of one core
RATIO_TARGET = 0.2
LATENCY_SLACK = 1.0  # s over the interval
CYCLE_TARGET = 2.0


def host_values(text: str, family: str) -> dict[str, float]:
    """A family labelled by host only, from Prometheus text: host -> value."""
    return {m.group(1): float(m.group(2))
            for m in re.finditer(rf'^{family}\{{host="([^"]*)"\}} (\S+)$', text, re.M)}


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live descendants."""
    proc = psutil.Process(pid)
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in proc.children(recursive=True):
        with_child = child.cpu_times()
        total += with_child.user + with_child.system
    return total


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_watch(inventory: Path, interval: float, hosts: list[str]) -> Watcher:
    """A watch with --metrics, once its first cycle has heard from every host."""
    w = Watcher(inventory, "--interval", f"{interval:g}", metrics_port=free_port())
    try:
        wait_until(lambda: host_values(w.scrape(), "svcctl_host_up") == dict.fromkeys(hosts, 1.0),
                   timeout=60 + interval, interval=0.2)
    except BaseException:
        w.kill()
        raise
    return w


def stop_watch(w: Watcher, expected_events: int) -> None:
    """SIGTERM; exit 0, no traceback, only the start line logged, the events expected."""
    rc, _ = w.stop()
    problems = [] if rc == 0 else [f"exit {rc}"]
    if len(w.events) != expected_events:
        problems.append(f"{len(w.events)} events, not {expected_events}: {''.join(w.lines)}")
    if len(w.log) != 1:
        problems.append("it logged more than its start line")
    try:
        no_traceback(w.stderr)
    except AssertionError:
        problems.append("a traceback or internal error")
    if problems:
        raise RuntimeError(f"svcctl watch: {'; '.join(problems)}; stderr: {w.stderr}")


# -- (a) and (b) ----------------------------------------------------------------------------

@dataclass
class Window:
    """One measured stretch: what we measure, the whole machine, the wall time."""

    cpu: float
    machine: float
    wall: float

    @property
    def percent(self) -> float:
        return 100 * self.cpu / self.wall

    @property
    def machine_percent(self) -> float:
        return 100 * self.machine / self.wall


def measured(cpu: Callable[[], float], work: Callable[[], None]) -> Window:
    c0, m0, t0 = cpu(), machine_busy(), time.monotonic()
    work()
    return Window(cpu() - c0, machine_busy() - m0, time.monotonic() - t0)


def watch_window(inventory: Path, hosts: list[str], interval: float, duration: float) -> Window:
    w = start_watch(inventory, interval, hosts)
    try:
        pid = w.proc.pid
        window = measured(lambda: tree_cpu(pid), lambda: time.sleep(duration))
        ends = host_values(w.scrape(), "svcctl_last_success_timestamp_seconds")
        stale = [h for h in hosts if time.time() - ends.get(h, 0.0) > 2 * interval + 5]
        if stale:
            raise RuntimeError(f"svcctl watch: no recent probe of {stale}")
        stop_watch(w, expected_events=0)
    finally:
        w.kill()
    return window


def audit_loop(inventory: Path, interval: float, duration: float) -> tuple[Window, int]:
    """`svcctl audit` every `interval` (or back to back if one takes longer) for `duration`."""
    runs = 0

    def loop() -> None:
        nonlocal runs
        start = time.monotonic()
        while (due := start + runs * interval) < start + duration:
            time.sleep(max(0.0, due - time.monotonic()))
            audit(inventory)  # raises unless all-ok
            runs += 1
        time.sleep(max(0.0, start + duration - time.monotonic()))

    return measured(children_cpu, loop), runs


# -- (c) ------------------------------------------------------------------------------------

def next_event(w: Watcher, since: int, match: Callable[[dict[str, Any]], bool],
               timeout: float) -> tuple[float, dict[str, Any]]:
    """The first event from index `since` on that matches: (arrival time, event)."""
    def look() -> tuple[float, dict[str, Any]] | None:
        if w.proc.poll() is not None:
            raise RuntimeError(f"svcctl watch exited {w.proc.returncode}: {w.stderr}")
        return next(((t, e) for t, e in w.events[since:] if match(e)), None)

    hit = wait_until(look, timeout=timeout, interval=0.05)
    assert hit is not None  # wait_until returns a truthy value
    return hit


def stray_try(tb: Testbed, w: Watcher, host: str, service: str,
              timeout: float) -> tuple[float, float]:
    """A stray started and killed by hand: seconds until each of its two events."""
    since = len(w.events)
    out = ssh(tb, host, detached(f"/usr/bin/python3 {HOME}/{service}/main.py"))
    started, pid = time.time(), int(out.split()[-1])
    seen, event = next_event(w, since, lambda e: e["host"] == host and pid in e["pids"],
                             timeout)
    if (event["service"], event["verdict"]) != (service, "duplicate"):
        raise RuntimeError(f"stray {pid} on {host}: unexpected event {event}")
    since = len(w.events)
    ssh(tb, host, f"kill {pid}")
    killed = time.time()
    gone, _ = next_event(w, since, lambda e: (e["host"], e["service"], e["verdict"],
                                              e["previous"]) == (host, service, "ok",
                                                                 "duplicate"), timeout)
    return seen - started, gone - killed


def stray_latency(tb: Testbed, inventory: Path, hosts: list[str], services: int,
                  interval: float, tries: int) -> tuple[list[float], list[float]]:
    w = start_watch(inventory, interval, hosts)
    shown, resolved = [], []
    try:
        for i in range(tries):
            s, r = stray_try(tb, w, hosts[i % len(hosts)], f"bench{i % services}",
                             timeout=3 * interval + 20)
            shown.append(s)
            resolved.append(r)
        stop_watch(w, expected_events=2 * tries)
    finally:
        w.kill()
    return shown, resolved


# -- (d) ------------------------------------------------------------------------------------

@dataclass
class Cycles:
    times: list[float] = field(default_factory=list)
    dropped: list[float] = field(default_factory=list)  # spans of snapshots across 2 cycles
    machine: list[float] = field(default_factory=list)  # machine CPU s an interval, per watch
    own: list[float] = field(default_factory=list)  # the watch's CPU s a cycle, per watch

    def add(self, other: Cycles) -> None:
        self.times += other.times
        self.dropped += other.dropped
        self.machine += other.machine
        self.own += other.own


def one_cycle(text: str, hosts: list[str], after: float) -> tuple[float, float] | None:
    """(start, end) of the cycle in this snapshot, once every host ended a probe after
    `after`; None while some host has not."""
    ends = host_values(text, "svcctl_last_success_timestamp_seconds")
    took = host_values(text, "svcctl_probe_duration_seconds")
    if any(ends.get(h, 0.0) <= after or h not in took for h in hosts):
        return None
    return min(ends[h] - took[h] for h in hosts), max(ends[h] for h in hosts)


def cycle_times(inventory: Path, hosts: list[str], interval: float, count: int) -> Cycles:
    w = start_watch(inventory, interval, hosts)  # its first cycle (connecting) is not counted
    out = Cycles()
    try:
        last = max(host_values(w.scrape(), "svcctl_last_success_timestamp_seconds").values())
        deadline = time.monotonic() + 3 * (count + 2) * interval + 60
        busy, own, seen = machine_busy(), tree_cpu(w.proc.pid), 0
        while len(out.times) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(hosts)}-host watch: {len(out.times)} of {count} cycles seen; "
                    f"snapshots spanning more than 0.9 interval (cycles longer than that? try "
                    f"a longer --cycle-interval): {ms(out.dropped)} ms; {w.stderr}")
            cycle = one_cycle(w.scrape(), hosts, last)
            if cycle is None:
                time.sleep(0.2)
                continue
            start, last = cycle
            seen += 1
            if last - start > 0.9 * interval:
                out.dropped.append(last - start)
            else:
                out.times.append(last - start)
            time.sleep(max(0.0, start + 0.8 * interval - time.time()))
        out.machine.append((machine_busy() - busy) / seen)
        out.own.append((tree_cpu(w.proc.pid) - own) / seen)
        stop_watch(w, expected_events=0)
    finally:
        w.kill()
    return out


def add_hosts(tb: Testbed, directory: Path, hosts: list[str], many: int,
              services: int) -> tuple[list[str], str | None]:
    """Up to `many` hosts in all, one at a time, each batch of 10 with its services;
    the hosts that work, and what failed if not all."""
    names = hosts + [f"bench{i:02d}" for i in range(len(hosts), many)]
    have = list(hosts)
    for first in range(len(hosts), many, 10):
        batch = names[first:first + 10]
        try:
            for name in batch:
                tb.up([name])
            write_inventory(directory / "many.yaml", tb.layout.ssh_config, have + batch,
                            services)
            deploy(tb, directory / "many.yaml", batch, services)
        except (TestbedError, RuntimeError, OSError) as exc:
            tb.down([n for n in batch if n in tb.hosts()])
            return have, (f"host {len(have) + 1}..{len(have) + len(batch)} of {many} "
                          f"({batch[0]}..{batch[-1]}): {type(exc).__name__}: {exc}")
        have += batch
    return have, None


def cycles_1_vs_many(tb: Testbed, directory: Path, hosts: list[str],
                     args: argparse.Namespace) -> tuple[Cycles, Cycles]:
    one_inv, many_inv = directory / "one.yaml", directory / "many.yaml"
    write_inventory(one_inv, tb.layout.ssh_config, hosts[:1], args.services)
    write_inventory(many_inv, tb.layout.ssh_config, hosts, args.services)
    one, many = Cycles(), Cycles()
    for _ in range(args.rounds):
        for mine, inv, names in ((one, one_inv, hosts[:1]), (many, many_inv, hosts)):
            mine.add(cycle_times(inv, names, args.cycle_interval, args.cycles))
    return one, many


# -- the run --------------------------------------------------------------------------------

def ms(values: list[float]) -> str:
    return " ".join(f"{v * 1000:.0f}" for v in values)


@dataclass
class Report:
    missed: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> str:
        if not ok:
            self.missed.append(what)
        return "ok" if ok else "MISSED"


def report_cost(rep: Report, watch: list[Window], loop: list[tuple[Window, int]],
                args: argparse.Namespace) -> None:
    med = statistics.median
    w_pct, a_pct = med([x.percent for x in watch]), med([x.percent for x, _ in loop])
    per_cycle = med([x.cpu for x in watch]) / (args.duration / args.interval)
    per_audit = med([x.cpu / n for x, n in loop])
    print(f"(a) svcctl watch, {args.hosts} hosts x {args.services} services, every "
          f"{args.interval:g} s, {args.duration:g} s windows: CPU median {w_pct:.2f}% of a "
          f"core [{' '.join(f'{x.percent:.2f}' for x in watch)}] (~{per_cycle * 1000:.0f} ms "
          f"a cycle); machine busy {med([x.machine_percent for x in watch]):.0f}% of a core")
    print(f"    target <= {CPU_TARGET:g}%: {rep.check(w_pct <= CPU_TARGET, 'watch CPU')}")
    print(f"(b) svcctl audit from a loop, same hosts, interval and windows: CPU median "
          f"{a_pct:.2f}% of a core [{' '.join(f'{x.percent:.2f}' for x, _ in loop)}] "
          f"({per_audit * 1000:.0f} ms an audit, {' '.join(str(n) for _, n in loop)} audits); "
          f"machine busy {med([x.machine_percent for x, _ in loop]):.0f}% of a core")
    ratio = w_pct / a_pct
    print(f"    ratio watch/audit loop {ratio:.3f} (target <= {RATIO_TARGET}): "
          f"{rep.check(ratio <= RATIO_TARGET, 'watch/audit CPU ratio')}")


def report_stray(rep: Report, shown: list[float], resolved: list[float],
                 args: argparse.Namespace) -> None:
    target = args.stray_interval + LATENCY_SLACK
    med = statistics.median(shown)
    print(f"(c) stray -> event, watch every {args.stray_interval:g} s over {args.hosts} hosts, "
          f"{len(shown)} tries: median {med * 1000:.0f} ms, max {max(shown) * 1000:.0f} ms "
          f"[{ms(shown)}]")
    print(f"    target median <= {target:g} s: {rep.check(med <= target, 'stray latency')}")
    print(f"    (killed -> resolved event: median {statistics.median(resolved) * 1000:.0f} ms "
          f"[{ms(resolved)}])")


def report_cycles(rep: Report, one: Cycles, many: Cycles, n: int, failed: str | None,
                  args: argparse.Namespace) -> None:
    c1, cn = statistics.median(one.times), statistics.median(many.times)
    med = statistics.median
    print(f"(d) cycle, watch every {args.cycle_interval:g} s: 1 host median {c1 * 1000:.0f} ms "
          f"[{ms(one.times)}]; {n} hosts median {cn * 1000:.0f} ms [{ms(many.times)}]")
    print(f"    the watch's own CPU a cycle (our /metrics scrapes included): 1 host "
          f"{med(one.own) * 1000:.0f} ms, {n} hosts {med(many.own) * 1000:.0f} ms")
    extra = med(many.machine) - med(one.machine)
    print(f"    machine CPU an interval (a cycle, the hosts' side included, and the idle hosts' "
          f"and others' work): 1 host {med(one.machine) * 1000:.0f} ms, {n} hosts "
          f"{med(many.machine) * 1000:.0f} ms: the {n - 1} more hosts' probes take "
          f"{extra * 1000:.0f} ms of CPU, at least {extra / (os.cpu_count() or 1) * 1000:.0f} ms "
          f"on {os.cpu_count()} cores")
    print(f"    snapshots dropped as spanning two cycles: {len(one.dropped) + len(many.dropped)}")
    ok = cn <= CYCLE_TARGET * c1
    print(f"    ratio {cn / c1:.2f}x (target <= {CYCLE_TARGET:g}x): "
          f"{rep.check(ok, f'{n}-host cycle')}")
    if failed is not None:
        rep.missed.append(f"only {n} of {args.many} hosts")
        print(f"    FLAGGED: measured with {n} hosts, not {args.many}: the machine could not "
              f"hold more: {failed}")


def run(directory: Path, args: argparse.Namespace) -> int:
    tb = Testbed(directory / "testbed")
    hosts = [f"bench{i:02d}" for i in range(args.hosts)]
    rep = Report()
    print(f"machine: {os.cpu_count()} CPUs, load average {loadavg()} at the start")
    try:
        t0 = time.perf_counter()
        tb.up(hosts)
        inventory = directory / "inventory.yaml"
        write_inventory(inventory, tb.layout.ssh_config, hosts, args.services)
        deploy(tb, inventory, hosts, args.services)
        print(f"set-up: {args.hosts} hosts x {args.services} services in "
              f"{time.perf_counter() - t0:.1f} s")
        audit(inventory)  # warm-up: page cache, sshd's first fork
        watch, loop = [], []
        for _ in range(args.rounds):
            watch.append(watch_window(inventory, hosts, args.interval, args.duration))
            loop.append(audit_loop(inventory, args.interval, args.duration))
        report_cost(rep, watch, loop, args)
        shown, resolved = stray_latency(tb, inventory, hosts, args.services,
                                        args.stray_interval, args.tries)
        report_stray(rep, shown, resolved, args)
        t0 = time.perf_counter()
        every, failed = add_hosts(tb, directory, hosts, args.many, args.services)
        print(f"set-up: {len(every)} hosts in all, {time.perf_counter() - t0:.1f} s more")
        try:
            one, many = cycles_1_vs_many(tb, directory, every, args)
        except RuntimeError as exc:
            print(f"(d) not measured: {exc}")
            rep.missed.append("cycle not measured")
        else:
            report_cycles(rep, one, many, len(every), failed, args)
    finally:
        print(f"load average {loadavg()} at the end")
        tb.down()
    print("FAIL: " + "; ".join(rep.missed) if rep.missed else "PASS")
    return 1 if rep.missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10, help="hosts for (a)-(c)")
    parser.add_argument("--services", type=int, default=3, help="services on each host")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds: the watch's and the audit loop's, (a) and (b)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds, (a) and (b)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="(a)+(b) pairs, and 1-host + many-host watches in (d)")
    parser.add_argument("--stray-interval", type=float, default=2.0, help="seconds, (c)")
    parser.add_argument("--tries", type=int, default=20, help="strays, (c)")
    parser.add_argument("--many", type=int, default=50, help="hosts, (d)")
    parser.add_argument("--cycle-interval", type=float, default=20.0,
                        help="seconds, (d): longer than a many-host cycle, which must not "
                             "overlap the next")
    parser.add_argument("--cycles", type=int, default=5, help="cycles timed per watch, (d)")
    args = parser.parse_args()
    if args.many < args.hosts:
        parser.error("--many must be at least --hosts")
    directory = Path(tempfile.mkdtemp(prefix="svcctl-watch-bench-"))
    try:
        return run(directory, args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
