"""Rendering results for humans and as versioned JSON: the only printer besides cli.

The JSON shapes are a contract (pinned by tests/contract): fields are added, never
renamed or removed, without bumping `schema`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from svcctl.model import Finding, Instance, Verdict
from svcctl.ops.audit import AuditReport, HostReport

AUDIT_SCHEMA = "svcctl.audit/1"

NEXT_STEP = {
    Verdict.DUPLICATE: "svcctl adopt {service} --host {host}",
    Verdict.STRAY: "svcctl adopt {service} --host {host}",
    Verdict.UNEXPECTED: "svcctl adopt {service} --host {host}  (it is not assigned here)",
    Verdict.DOWN: "svcctl start {service} --host {host}",
    Verdict.CRASHLOOP: "svcctl logs {service} --host {host}",
    Verdict.BLOCKED: "svcctl adopt {service} --host {host}  (a stray holds the guard lock)",
    Verdict.UNREACHABLE: "check SSH: ssh {host} true",
    Verdict.UNINSPECTABLE: "rerun as a user who can read every process (e.g. root)",
}


def _color(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not os.isatty(1):
        return text
    return f"\033[{code}m{text}\033[0m"


def next_step(f: Finding) -> str | None:
    template = NEXT_STEP.get(f.verdict)
    return template.format(service=f.service, host=f.host) if template else None


def instance_json(i: Instance) -> dict[str, Any]:
    p = i.proc
    return {
        "pid": p.pid,
        "ppid": p.ppid,
        "user": p.user,
        "uid": p.uid,
        "started": p.started.strftime("%Y-%m-%dT%H:%M:%SZ") if p.started else p.started_raw,
        "command": p.command,
        "managed": i.managed,
        "owner": i.owner,
        "reason": i.reason,
    }


def finding_json(f: Finding, label: str) -> dict[str, Any]:
    return {
        "service": f.service,
        "label": label,
        "verdict": f.verdict.value,
        "launchd_pid": f.job.pid if f.job else None,
        "launchd_state": f.job.state if f.job else None,
        "instances": [instance_json(i) for i in f.instances],
        "detail": f.detail,
        "next": next_step(f),
    }


def audit_json(report: AuditReport, labels: dict[str, str]) -> str:
    doc = {
        "schema": AUDIT_SCHEMA,
        "ok": report.ok,
        "hosts": [
            {
                "host": h.host,
                "reachable": h.reachable,
                "error": h.error,
                "services": [finding_json(f, labels.get(f.service, "")) for f in h.findings],
            }
            for h in report.hosts
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=False)


def audit_text(report: AuditReport) -> str:
    lines: list[str] = []
    for h in report.hosts:
        lines += _host_text(h)
        lines.append("")
    total = sum(1 for h in report.hosts for f in h.findings if f.verdict is not Verdict.OK)
    verdict = _color("ok", "32") if report.ok else _color(f"{total} finding(s)", "31")
    lines.append(f"audit: {len(report.hosts)} host(s), {verdict}")
    return "\n".join(lines)


def _host_text(h: HostReport) -> list[str]:
    head = f"== {h.host}" + ("" if h.reachable else f"  UNREACHABLE: {h.error}")
    out = [head]
    if not h.findings:
        out.append("  (no services assigned)")
    width = max((len(f.service) for f in h.findings), default=7)
    for f in h.findings:
        pid = f.job.pid if f.job and f.job.pid else "-"
        mark = _color(f.verdict.value, "32" if f.verdict is Verdict.OK else "31")
        out.append(f"  {f.service:<{width}}  {mark:<10}  launchd pid {pid}")
        if f.verdict is not Verdict.OK and f.detail:
            out.append(f"      {f.detail}")
        for i in f.instances:
            p = i.proc
            kind = "launchd" if i.managed else "STRAY"
            out.append(f"      {kind:<7} pid {p.pid:<7} ppid {p.ppid:<7} user {p.user:<8} "
                       f"started {p.started_raw}  {p.command}")
        step = next_step(f)
        if step:
            out.append(f"      next: {step}")
    return out
