"""The Prometheus families of `svcctl watch --metrics` and `svcctl audit --format
prometheus` (issue 14), with the official prometheus_client library.

Families (every sample labelled by `host`; service samples by `service` too):

- `svcctl_instances{host,service,kind}`: running copies by kind: `launchd` (launchd's own,
  1 when healthy), `stray` (matching processes launchd did not start), `hidden` (candidates
  whose arguments ps could not read, FACTS 5.2).
- `svcctl_verdict{host,service,verdict}`: 1 for the service's current verdict, 0 for every
  other verdict svcctl knows, so a rule can say `svcctl_verdict{verdict="duplicate"} == 1`.
- `svcctl_host_up{host}`: 1 when the last probe answered, else 0.
- `svcctl_probe_duration_seconds{host}`: how long the last probe took (answered or not).
- `svcctl_last_success_timestamp_seconds{host}`: when the host last answered (epoch
  seconds); absent for a host never reached, so `time() - it` alerts on a stale probe.
- `svcctl_release_info{host,service,release,current}`: 1; `release` is the one launchd's
  instance runs, `current` the one `<root>/current` links to ("" where untold); only for
  services where either is known (issue 13).

A host whose last probe failed keeps its verdict samples (each service `unreachable`) but
has no instance or release samples: nothing was counted, and 0 would read as "down".
Metrics are raw: one failed cycle is `host_up 0` at once; alert rules add their own `for:`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from svcctl.model import Finding, Verdict
from svcctl.watch.report import AuditResult, HostResult, running_release

INSTANCE_KINDS = ("launchd", "stray", "hidden")


@dataclass(frozen=True)
class _Sample:
    report: HostResult
    duration: float | None
    last_success: float | None


def instance_counts(finding: Finding) -> dict[str, int]:
    managed = sum(1 for i in finding.instances if i.managed)
    return {"launchd": managed, "stray": len(finding.strays), "hidden": len(finding.hidden)}


class WatchCollector:
    """A prometheus_client collector over the last result of every host. The watch's loop
    calls `update` per host per cycle while the HTTP server's thread calls `collect`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, _Sample] = {}

    def update(self, report: HostResult, duration: float | None, now: float) -> None:
        """One host's result for one cycle; `duration` None: not measured."""
        with self._lock:
            before = self._hosts.get(report.host)
            last = now if report.reachable else (before.last_success if before else None)
            self._hosts[report.host] = _Sample(report, duration, last)

    def forget(self, hosts_kept: Collection[str]) -> None:
        """After an inventory reload: hosts no longer watched leave the metrics."""
        with self._lock:
            for name in set(self._hosts) - set(hosts_kept):
                del self._hosts[name]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            samples = sorted(self._hosts.items())
        instances = GaugeMetricFamily(
            "svcctl_instances", "Running copies of the service, by kind: launchd (launchd's "
            "own), stray (not started by launchd), hidden (arguments unreadable)",
            labels=["host", "service", "kind"])
        verdicts = GaugeMetricFamily(
            "svcctl_verdict", "1 for the service's current audit verdict, 0 for the others",
            labels=["host", "service", "verdict"])
        up = GaugeMetricFamily("svcctl_host_up", "1 when the host's last probe answered",
                               labels=["host"])
        duration = GaugeMetricFamily("svcctl_probe_duration_seconds",
                                     "How long the host's last probe took", labels=["host"])
        success = GaugeMetricFamily("svcctl_last_success_timestamp_seconds",
                                    "When the host last answered a probe (epoch seconds)",
                                    labels=["host"])
        release = InfoMetricFamily(
            "svcctl_release", "The release launchd's instance runs and the one current "
            "links to (empty where untold)", labels=["host", "service"])
        for host, sample in samples:
            report = sample.report
            up.add_metric([host], 1.0 if report.reachable else 0.0)
            if sample.duration is not None:
                duration.add_metric([host], sample.duration)
            if sample.last_success is not None:
                success.add_metric([host], sample.last_success)
            for f in report.findings:
                for v in Verdict:
                    verdicts.add_metric([host, f.service, v.value],
                                        1.0 if f.verdict is v else 0.0)
                if not report.reachable:
                    continue
                for kind, count in instance_counts(f).items():
                    instances.add_metric([host, f.service, kind], float(count))
                running = running_release(f)
                if running is not None or f.current_release is not None:
                    release.add_metric([host, f.service], {"release": running or "",
                                                           "current": f.current_release or ""})
        yield from (instances, verdicts, up, duration, success, release)


def audit_text(report: AuditResult, durations: Mapping[str, float], now: float) -> str:
    """One audit as Prometheus text (node_exporter's textfile collector): the watch's
    families, once. A host missing from `durations` has no duration sample."""
    collector = WatchCollector()
    for host in report.hosts:
        collector.update(host, durations.get(host.host), now)
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()
