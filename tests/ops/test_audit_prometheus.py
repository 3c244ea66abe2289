"""`svcctl audit --format prometheus` against the simulated hosts (issue 14): the watch's
families once, for node_exporter's textfile collector, read back with prometheus_client's
parser; the exit code stays audit's."""

from __future__ import annotations

import json
import time

import pytest

from tests.service_kit import HOME, Site, free_port, svcctl
from tests.unit.test_watch_metrics import labels, parse

pytestmark = pytest.mark.testbed


def test_audit_as_prometheus_text(kit: Site) -> None:
    dup, down = kit.service("dup"), kit.service("down")
    inv = kit.inventory(
        {dup.name: dup.entry(["tesseract"]), down.name: down.entry(["tesseract", "ghost"])},
        hosts={"tesseract": {"domain": "user/501", "home": HOME},
               "ghost": {"domain": "user/501", "hostname": "127.0.0.1", "port": free_port()}},
    )
    kit.deploy(inv, dup)
    kit.start_detached("tesseract", f"/usr/bin/python3 {dup.script}")

    before = time.time()
    proc = svcctl("audit", "-i", str(inv), "--format", "prometheus")
    after = time.time()
    assert proc.returncode == 1, proc.stderr  # findings: audit's exit code
    got = parse(proc.stdout)

    verdicts = got["svcctl_verdict"]
    assert verdicts[labels(host="tesseract", service=dup.name, verdict="duplicate")] == 1.0
    assert verdicts[labels(host="tesseract", service=dup.name, verdict="ok")] == 0.0
    assert verdicts[labels(host="tesseract", service=down.name, verdict="down")] == 1.0
    # a host that did not answer: every service audited is unreachable there (as in --json)
    assert verdicts[labels(host="ghost", service=down.name, verdict="unreachable")] == 1.0
    assert verdicts[labels(host="ghost", service=dup.name, verdict="unreachable")] == 1.0
    assert sum(verdicts.values()) == 4.0  # one verdict per host and service

    assert got["svcctl_instances"] == {
        labels(host="tesseract", service=dup.name, kind="launchd"): 1.0,
        labels(host="tesseract", service=dup.name, kind="stray"): 1.0,
        labels(host="tesseract", service=dup.name, kind="hidden"): 0.0,
        labels(host="tesseract", service=down.name, kind="launchd"): 0.0,
        labels(host="tesseract", service=down.name, kind="stray"): 0.0,
        labels(host="tesseract", service=down.name, kind="hidden"): 0.0,
    }
    assert got["svcctl_host_up"] == {labels(host="tesseract"): 1.0, labels(host="ghost"): 0.0}
    [(key, last)] = got["svcctl_last_success_timestamp_seconds"].items()
    assert key == labels(host="tesseract")  # ghost never answered: no sample
    assert before <= last <= after
    durations = got["svcctl_probe_duration_seconds"]
    assert set(durations) == {labels(host="tesseract"), labels(host="ghost")}
    assert all(0 < d < after - before for d in durations.values())


def test_format_json_is_json_and_a_contradiction_is_refused(kit: Site) -> None:
    svc = kit.service()
    inv = kit.inventory({svc.name: svc.entry(["tesseract"])})
    kit.deploy(inv, svc)

    as_json = svcctl("audit", "-i", str(inv), "--host", "tesseract", "--json")
    as_format = svcctl("audit", "-i", str(inv), "--host", "tesseract", "--format", "json")
    assert (as_json.returncode, as_format.returncode) == (0, 0), as_format.stderr
    assert json.loads(as_json.stdout)["hosts"] == json.loads(as_format.stdout)["hosts"]

    ok = svcctl("audit", "-i", str(inv), "--host", "tesseract", "--format", "prometheus")
    assert ok.returncode == 0, ok.stderr
    assert parse(ok.stdout)["svcctl_verdict"][
        labels(host="tesseract", service=svc.name, verdict="ok")] == 1.0

    both = svcctl("audit", "-i", str(inv), "--json", "--format", "prometheus")
    assert both.returncode == 2
    assert both.stdout == ""
    assert "--json and --format prometheus" in both.stderr
