"""`svcctl watch` against the simulated hosts, run as a user runs it (issue 14): a stray
started by hand is an event within interval + 1 s and its end another, the --on-change
hook gets each on stdin and in its environment; a host taken down and brought back
mid-watch; SIGHUP with a broken inventory; SIGTERM."""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Hosts
from tests.service_kit import HOME, Blackhole, Site, free_port
from tests.testbed.jobs import detached
from tests.wait import wait_until
from tests.watch.running import Watcher, no_traceback, sample

pytestmark = pytest.mark.testbed

INTERVAL = 1.0
# the hook: what it got on stdin and its SVCCTL_* environment, one JSON line per run
HOOK_PY = """import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("SVCCTL_")}
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps({"stdin": sys.stdin.read(), "env": env}) + "\\n")
"""


def _up(w: Watcher, host: str) -> bool:
    return sample(w.scrape(), "svcctl_host_up", host=host) == 1.0


def _start_stray(kit: Site, script: str) -> tuple[int, float]:
    """A copy started by hand over SSH: its pid, and the time it was surely running."""
    out = kit.sh("tesseract", detached(f"/usr/bin/python3 {script}")).stdout
    pid = int(out.split()[-1])
    kit.on_teardown("tesseract", f"kill -9 {pid}")
    return pid, time.time()


def test_a_stray_is_an_event_within_interval_plus_one_and_so_is_its_end(
        kit: Site, tmp_path: Path) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    managed = kit.deploy(inv, svc)
    hook, got = tmp_path / "hook.py", tmp_path / "hook.jsonl"
    hook.write_text(HOOK_PY)
    w = Watcher(inv, "--interval", "1", "--grace", "2",
                "--on-change", f"{sys.executable} {hook} {got}", metrics_port=free_port())
    scraper = _Scraper(w)
    try:
        wait_until(lambda: _up(w, "tesseract"))  # a first cycle saw launchd's own: ok
        assert w.events == [], w.lines

        stray, started = _start_stray(kit, svc.script)
        seen_stray, dup = w.event(lambda e: stray in e["pids"])
        assert (dup["kind"], dup["verdict"], dup["previous"]) == ("verdict", "duplicate", "ok")
        assert (dup["host"], dup["service"], dup["launchd_pid"]) == ("tesseract", svc.name,
                                                                    managed)
        assert seen_stray - started <= _within(scraper), f"{seen_stray - started:.2f} s"

        kit.sh("tesseract", f"kill {stray}")
        killed = time.time()
        seen, ok = w.event(lambda e: e["verdict"] == "ok")
        assert (ok["kind"], ok["previous"], ok["pids"]) == ("verdict", "duplicate", [])
        assert seen - killed <= _within(scraper), f"{seen - killed:.2f} s"

        # the hook ran once per event, in order: the event's line on stdin and in the env
        runs = wait_until(lambda: [json.loads(x) for x in got.read_text().splitlines()]
                          if got.exists() and len(got.read_text().splitlines()) == 2
                          else None)
        for run, line, (_, event) in zip(runs, w.lines, w.events, strict=True):
            assert run["stdin"] == line
            env: dict[str, Any] = run["env"]
            assert env["SVCCTL_EVENT"] == line.rstrip("\n")
            assert (env["SVCCTL_EVENT_KIND"], env["SVCCTL_HOST"], env["SVCCTL_SERVICE"],
                    env["SVCCTL_VERDICT"]) == ("verdict", "tesseract", svc.name,
                                               event["verdict"])
        assert runs[0]["env"]["SVCCTL_PIDS"] == str(stray)
        print(f"stray -> event {seen_stray - started:.2f} s, its end -> event "
              f"{seen - killed:.2f} s (slowest probe {_slowest(scraper):.2f} s)")
        scraper.stop()
        rc, _ = w.stop()
        assert rc == 0, w.stderr
        no_traceback(w.stderr)
    finally:
        scraper.stop()
        w.kill()


def _slowest(scraper: _Scraper) -> float:
    return max(took for _, took in scraper.probes("tesseract", 0, time.time()))


def _within(scraper: _Scraper) -> float:
    """Interval + 1 s: the next cycle (interval, +10% jitter) and a probe of 0.9 s; on a
    machine so loaded that the probes themselves take longer, the slowest one's time."""
    return INTERVAL * 1.1 + max(0.9, _slowest(scraper))


class _Scraper:
    """/metrics every 0.1 s in a thread: every answer kept with its time, every failure."""

    def __init__(self, w: Watcher) -> None:
        self.w = w
        self.answers: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.answers.append((time.time(), self.w.scrape()))
            except OSError as exc:
                self.failures.append(repr(exc))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def probes(self, host: str, first: float, last: float) -> list[tuple[float, float]]:
        """The host's probes (start, duration) that ended between `first` and `last`, from
        its distinct last-success times and the duration scraped with each."""
        out: list[tuple[float, float]] = []
        for _, text in self.answers:
            end = sample(text, "svcctl_last_success_timestamp_seconds", host=host)
            took = sample(text, "svcctl_probe_duration_seconds", host=host)
            if end is None or took is None or not first <= end <= last:
                continue
            if not out or end - took != out[-1][0]:
                out.append((end - took, took))
        return out


def cycle_gaps(probes: list[tuple[float, float]]) -> list[float]:
    """Start to start. A cycle starts every interval (+-10%); a probe that takes longer
    than that is not asked again until the cycle after it ends: each gap checked so."""
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(probes)]
    for (_, took), gap in zip(probes, gaps, strict=False):
        slow = took if took > INTERVAL * 0.9 else 0.0
        assert gap <= INTERVAL * 1.1 + 0.3 + slow, ([round(g, 2) for g in gaps], probes)
    return [round(g, 2) for g in gaps]


def test_a_host_down_and_back_mid_watch(kit: Site, hosts: Hosts) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.deploy(inv, svc)
    w = Watcher(inv, "--interval", "1", "--grace", "2", metrics_port=free_port())
    scraper = _Scraper(w)
    try:
        wait_until(lambda: _up(w, "tesseract") and _up(w, "backup"))
        first = time.time()
        hosts.tb.down(["backup"])
        try:
            w.event(lambda e: e["host"] == "backup")
            time.sleep(2 * INTERVAL)  # down for a few more cycles
        finally:
            hosts.tb.up(["backup"])
        w.event(lambda e: e["kind"] == "reachable", timeout=30)
        wait_until(lambda: _up(w, "backup"))
        last = time.time()
        scraper.stop()  # before the exit closes the endpoint
        rc, _ = w.stop()
    finally:
        scraper.stop()
        w.kill()
    assert rc == 0, w.stderr
    no_traceback(w.stderr)
    assert [(e["host"], e["kind"]) for _, e in w.events] == [
        ("backup", "unreachable"), ("backup", "reachable")], w.lines
    assert "backup: connection lost" in w.stderr and "backup: connection restored" in w.stderr
    # the metrics endpoint answered throughout
    assert scraper.failures == [], scraper.failures
    assert len(scraper.answers) >= (last - first) / 0.2
    # tesseract's cycles kept their interval while backup was away: every probe ended
    # within interval (+- 10% jitter) plus the probe's own time of the one before
    probes = scraper.probes("tesseract", first, last)
    assert len(probes) >= 3, probes
    print(f"tesseract's cycle gaps while backup was down and back: {cycle_gaps(probes)}")


def test_sighup_with_a_broken_inventory_keeps_watching_and_sigterm_exits_0(
        kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.deploy(inv, svc)
    w = Watcher(inv, "--interval", "1", metrics_port=free_port())
    try:
        wait_until(lambda: _up(w, "tesseract") and _up(w, "backup"))
        good = inv.read_text()
        inv.write_text("services: [\n")
        w.signal(signal.SIGHUP)
        failed = wait_until(lambda: [x for x in w.log if "reload" in x])
        assert len(failed) == 1 and "still watching the old one" in failed[0], w.log
        assert str(inv) in failed[0]

        # still watching, with the old inventory: a stray is an event
        stray, _ = _start_stray(kit, svc.script)
        _, dup = w.event(lambda e: stray in e["pids"])
        assert dup["verdict"] == "duplicate"

        # a good one without backup: reloaded, backup leaves the metrics
        assert json.loads(good)["hosts"].keys() == {"tesseract", "backup"}
        kit.inventory({svc.name: svc.entry(["tesseract"])}, name=inv, hosts={
            "tesseract": {"domain": "user/501", "home": HOME}})
        w.signal(signal.SIGHUP)
        wait_until(lambda: any("inventory reloaded: 1 host(s)" in x for x in w.log))
        wait_until(lambda: 'host="backup"' not in w.scrape())
        assert _up(w, "tesseract")

        rc, took = w.stop()
        assert rc == 0, w.stderr
        assert took < 8, f"{took:.2f} s"  # an interval and a second, and the exit
        print(f"SIGTERM to exit: {took:.2f} s")
        no_traceback(w.stderr)
    finally:
        w.kill()


def test_a_slow_failing_hook_never_stalls_the_watch(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.deploy(inv, svc)
    w = Watcher(inv, "--interval", "1", "--host", "tesseract",
                "--on-change", "sleep 4; exit 3", metrics_port=free_port())
    try:
        wait_until(lambda: _up(w, "tesseract"))
        stray, _ = _start_stray(kit, svc.script)
        w.event(lambda e: stray in e["pids"])
        kit.sh("tesseract", f"kill {stray}")
        w.event(lambda e: e["verdict"] == "ok")
        # told while the first event's hook still sleeps: events never wait for hooks
        assert not [x for x in w.log if "--on-change failed" in x], w.log
        failed = wait_until(lambda: [x for x in w.log if "--on-change failed" in x]
                            if len([x for x in w.log if "--on-change failed" in x]) == 2
                            else None)
        assert all(x.rstrip().endswith("exited 3") for x in failed), failed
        rc, _ = w.stop()
        assert rc == 0, w.stderr
        no_traceback(w.stderr)
    finally:
        w.kill()


def test_a_hung_host_is_not_asked_again_and_never_delays_the_others(kit: Site) -> None:
    svc = kit.service()
    hole = Blackhole()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])}, hosts={
        "tesseract": {"domain": "user/501", "home": HOME},
        "hung": {"domain": "user/501", "home": HOME, "hostname": "127.0.0.1",
                 "port": hole.port}})
    kit.deploy(inv, svc)
    w = Watcher(inv, "--interval", "1", metrics_port=free_port())
    scraper = _Scraper(w)
    try:
        wait_until(lambda: _up(w, "tesseract"))
        first = time.time()
        time.sleep(5 * INTERVAL)
        last = time.time()
        scraper.stop()
        rc, took = w.stop()
    finally:
        scraper.stop()
        w.kill()
        hole.close()
    assert rc == 0, w.stderr
    # SIGTERM waits for the cycle's results an interval and a second, not for the hung
    # connect's 10 s
    assert took < 8, f"{took:.2f} s"
    no_traceback(w.stderr)
    # six cycles or so, one connect: a host still busy is not asked again
    assert len(hole.accepted) == 1, len(hole.accepted)
    probes = scraper.probes("tesseract", first, last)
    assert len(probes) >= 2, probes
    print(f"tesseract's cycle gaps beside a hung host: {cycle_gaps(probes)}; "
          f"SIGTERM to exit {took:.2f} s")
