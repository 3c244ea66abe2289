"""The Prometheus families (issue 14), read back with prometheus_client's own parser:
`audit_text` for `svcctl audit --format prometheus`, and the WatchCollector the watch
serves, cycle after cycle, from another thread."""

from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from svcctl.model import Finding, Instance, JobState, ProcInfo, Verdict
from svcctl.ops.audit import AuditReport, HostReport
from svcctl.watch.metrics import WatchCollector, audit_text

FAMILIES = {
    "svcctl_instances", "svcctl_verdict", "svcctl_host_up", "svcctl_probe_duration_seconds",
    "svcctl_last_success_timestamp_seconds", "svcctl_release_info",
}
Labels = tuple[tuple[str, str], ...]


def proc(pid: int, command: str = "/usr/bin/python3 main.py") -> ProcInfo:
    return ProcInfo(pid, 1, 501, "ops", pid, datetime(2026, 3, 29, 3, 0), "3:00AM", command)


def shiva(host: str, verdict: Verdict, strays: tuple[int, ...] = (), *, launchd: bool = True,
          release: str | None = None, current: str | None = None, hidden: int = 0) -> Finding:
    instances = [Instance(proc(p), False, None) for p in strays]
    if launchd:
        instances.insert(0, Instance(proc(400), True, "gui/501/com.example.shiva",
                                     release=release))
    return Finding("shiva", host, verdict, tuple(instances),
                   JobState("com.example.shiva", "print", pid=400 if launchd else None),
                   hidden=tuple(proc(700 + i, "(python3)") for i in range(hidden)),
                   current_release=current)


def parse(text: str) -> dict[str, dict[Labels, float]]:
    """family name -> {sorted labels: value}, every sample of the text."""
    out: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def labels(**kv: str) -> Labels:
    return tuple(sorted(kv.items()))


def scrape(collector: WatchCollector) -> dict[str, dict[Labels, float]]:
    registry = CollectorRegistry()
    registry.register(collector)
    return parse(generate_latest(registry).decode())


REPORT = AuditReport((
    HostReport("alpha", True, (
        shiva("alpha", Verdict.DUPLICATE, (901, 902), hidden=1, release="v1", current="v2"),
        Finding("kali", "alpha", Verdict.FENCED),
    )),
    HostReport("beta", False, (Finding("shiva", "beta", Verdict.UNREACHABLE, detail="refused"),),
               "ssh: connection refused"),
))


def test_every_family_is_there() -> None:
    text = audit_text(REPORT, {"alpha": 0.25, "beta": 5.0}, 1_800_000_000.0)
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    # all gauges in the text format (release_info is an info family, written as a gauge)
    assert families == dict.fromkeys(FAMILIES, "gauge")
    assert set(parse(text)) == FAMILIES


def test_instances_by_kind() -> None:
    got = parse(audit_text(REPORT, {}, 0.0))["svcctl_instances"]
    assert got == {
        labels(host="alpha", service="shiva", kind="launchd"): 1.0,
        labels(host="alpha", service="shiva", kind="stray"): 2.0,
        labels(host="alpha", service="shiva", kind="hidden"): 1.0,
        labels(host="alpha", service="kali", kind="launchd"): 0.0,
        labels(host="alpha", service="kali", kind="stray"): 0.0,
        labels(host="alpha", service="kali", kind="hidden"): 0.0,
    }  # beta did not answer: nothing counted there, rather than a 0 that reads as down


def test_the_verdict_is_one_among_all() -> None:
    got = parse(audit_text(REPORT, {}, 0.0))["svcctl_verdict"]
    for host, service, verdict in (("alpha", "shiva", "duplicate"), ("alpha", "kali", "fenced"),
                                   ("beta", "shiva", "unreachable")):
        rows = {dict(k)["verdict"]: v for k, v in got.items()
                if dict(k)["host"] == host and dict(k)["service"] == service}
        assert set(rows) == {v.value for v in Verdict}
        assert [v for v, x in rows.items() if x == 1.0] == [verdict]
        assert sum(rows.values()) == 1.0


def test_host_up_duration_and_last_success() -> None:
    got = parse(audit_text(REPORT, {"alpha": 0.25, "beta": 5.0}, 1_800_000_000.0))
    assert got["svcctl_host_up"] == {labels(host="alpha"): 1.0, labels(host="beta"): 0.0}
    assert got["svcctl_probe_duration_seconds"] == {labels(host="alpha"): 0.25,
                                                    labels(host="beta"): 5.0}
    # beta was never reached: no sample, rather than a 1970 that looks like a stale probe
    assert got["svcctl_last_success_timestamp_seconds"] == {labels(host="alpha"): 1.8e9}


def test_no_duration_sample_where_none_was_measured() -> None:
    got = parse(audit_text(REPORT, {"alpha": 0.5}, 0.0))
    assert got["svcctl_probe_duration_seconds"] == {labels(host="alpha"): 0.5}


def test_release_info() -> None:
    report = AuditReport((HostReport("alpha", True, (
        shiva("alpha", Verdict.STALE, release="v1", current="v2"),
        Finding("kali", "alpha", Verdict.OK),  # no release: no sample
        Finding("vishnu", "alpha", Verdict.DOWN, current_release="v3"),
    )),))
    got = parse(audit_text(report, {}, 0.0))["svcctl_release_info"]
    assert got == {
        labels(host="alpha", service="shiva", release="v1", current="v2"): 1.0,
        labels(host="alpha", service="vishnu", release="", current="v3"): 1.0,
    }


def test_the_collector_keeps_the_last_success_through_failures_and_forgets_hosts() -> None:
    collector = WatchCollector()
    collector.update(HostReport("alpha", True, (shiva("alpha", Verdict.OK),)), 0.1, 100.0)
    collector.update(HostReport("beta", True, (shiva("beta", Verdict.OK),)), 0.2, 100.0)
    failed = HostReport("alpha", False, (Finding("shiva", "alpha", Verdict.UNREACHABLE),), "x")
    collector.update(failed, 30.0, 130.0)
    got = scrape(collector)
    assert got["svcctl_host_up"] == {labels(host="alpha"): 0.0, labels(host="beta"): 1.0}
    assert got["svcctl_last_success_timestamp_seconds"] == {labels(host="alpha"): 100.0,
                                                            labels(host="beta"): 100.0}
    assert got["svcctl_probe_duration_seconds"][labels(host="alpha")] == 30.0
    assert got["svcctl_verdict"][labels(host="alpha", service="shiva",
                                         verdict="unreachable")] == 1.0
    assert {dict(k)["host"] for k in got["svcctl_instances"]} == {"beta"}
    collector.update(HostReport("alpha", True, (shiva("alpha", Verdict.OK),)), 0.1, 160.0)
    got = scrape(collector)
    assert got["svcctl_last_success_timestamp_seconds"][labels(host="alpha")] == 160.0
    collector.forget(["beta"])
    got = scrape(collector)
    assert got["svcctl_host_up"] == {labels(host="beta"): 1.0}
    assert {dict(k)["host"] for k in got["svcctl_verdict"]} == {"beta"}


def test_a_service_gone_from_the_inventory_leaves_the_metrics() -> None:
    collector = WatchCollector()
    two = (shiva("alpha", Verdict.OK), Finding("kali", "alpha", Verdict.OK))
    collector.update(HostReport("alpha", True, two), 0.1, 1.0)
    collector.update(HostReport("alpha", True, two[:1]), 0.1, 2.0)
    assert {dict(k)["service"] for k in scrape(collector)["svcctl_verdict"]} == {"shiva"}


def test_scrapes_while_the_loop_updates() -> None:
    """The loop's thread updates while the HTTP server's thread collects: every scrape is
    whole (each host one verdict, every family there), none raises."""
    collector = WatchCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            n = 0
            while not stop.is_set():
                n += 1
                for h in range(20):
                    verdict = Verdict.DUPLICATE if n % 2 else Verdict.OK
                    strays = (1000 + n,) if n % 2 else ()
                    collector.update(HostReport(f"h{h}", True,
                                                (shiva(f"h{h}", verdict, strays),)), 0.1, n)
                # half the hosts leave (an inventory reload) and come back next cycle
                collector.forget([f"h{h}" for h in range(10 if n % 2 else 20)])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        for _ in range(60):
            got = parse(generate_latest(registry).decode())
            hosts = {dict(k)["host"] for k in got.get("svcctl_host_up", {})}
            ones = [k for k, v in got.get("svcctl_verdict", {}).items() if v == 1.0]
            assert len(ones) == len(hosts)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert len(parse(generate_latest(registry).decode())["svcctl_host_up"]) in (10, 20)
