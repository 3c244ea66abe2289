"""runbooks/monitoring.md's configuration blocks cannot rot: the YAML and the plist parse,
every `svcctl_*` family they name is one svcctl writes, and every verdict an alert rule
names is one svcctl has. (Its console commands run in tests/runbooks/test_runbooks.py.)"""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

import yaml

from svcctl.model import Finding, Verdict
from svcctl.ops.audit import AuditReport, HostReport
from svcctl.watch.metrics import audit_text

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "monitoring.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", RUNBOOK.read_text(), flags=re.S)


def _families() -> set[str]:
    """Every family name svcctl writes (a family without samples still has its TYPE line)."""
    report = AuditReport((HostReport("h", True, (Finding("s", "h", Verdict.OK),)),))
    text = audit_text(report, {"h": 0.1}, now=1.0)
    return {m.group(1) for m in re.finditer(r"^# TYPE (\w+) ", text, flags=re.M)}


def test_every_family_the_runbook_names_is_one_svcctl_writes() -> None:
    named = set(re.findall(r"\b(svcctl_[a-z_]+)", RUNBOOK.read_text()))
    have = _families() | {f"{f}_info" for f in _families()}
    assert named, "the runbook names no metric"
    assert named <= have, sorted(named - have)


def test_the_alert_rules_and_scrape_config_parse_and_name_real_verdicts() -> None:
    docs = [yaml.safe_load(b) for b in _blocks("yaml")]
    rules = [r for d in docs for g in d.get("groups", []) for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {"SvcctlDuplicate", "SvcctlDown",
                                           "SvcctlProbeStale"}
    assert any("scrape_configs" in d for d in docs)
    named = {v for r in rules for m in re.finditer(r'verdict=~?"([^"]+)"', r["expr"])
             for v in m.group(1).split("|")}
    assert named and named <= {v.value for v in Verdict}, named - {v.value for v in Verdict}
    down = next(r for r in rules if r["alert"] == "SvcctlDown")
    assert down["for"] == "2m"


def test_the_launch_agent_parses_and_runs_svcctl_watch() -> None:
    (xml,) = _blocks("xml")
    plist = plistlib.loads(xml.encode())
    assert plist["ProgramArguments"][1:2] == ["watch"] and plist["KeepAlive"] is True
