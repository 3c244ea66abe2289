"""Rendering results for humans and as versioned JSON: the only printer besides cli.

The JSON shapes are a contract (pinned by tests/contract): fields are added, never
renamed or removed, without bumping `schema`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from svcctl.guard import printable as safe  # the one escaper: guard.py runs alone on Macs
from svcctl.model import HARMLESS, Finding, Instance, Verdict
from svcctl.ops.audit import AuditReport, HeldLock, HostReport
from svcctl.ops.lock import iso

if TYPE_CHECKING:  # deploy and adopt pull in rendering (jinja2); audit must not pay for it
    from svcctl.ops.adopt import AdoptReport
    from svcctl.ops.plan import DeployReport, HostDeploy
    from svcctl.ops.steps import Step, StepRecord

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
    Verdict.UNFENCED: "svcctl fence {service} --host {host}",
    # a deploy of the release `current` names, which is on the host already: rollback --to
    # renders the plist for it and goes through deploy's gates (issue 13); a restart would
    # start the release the installed plist names again
    Verdict.STALE: "svcctl rollback {service} --to {current} --host {host}",
}


def _color(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not os.isatty(1):
        return text
    return f"\033[{code}m{text}\033[0m"


def next_step(f: Finding) -> str | None:
    if f.hint is not None:
        return f.hint
    template = NEXT_STEP.get(f.verdict)
    return template.format(service=f.service, host=f.host,
                           current=f.current_release or "ID") if template else None


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
        "release": i.release,  # additive (issue 13): the release it runs, null if untold
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
        # issue 11, additive: where else launchd has the label, the plists on disk, the fence
        "elsewhere": list(f.elsewhere),
        "plists": list(f.plists),
        "fence": None if f.fence is None else {
            "by": f.fence.by, "at": f.fence.at, "reason": f.fence.reason,
            "moved": [list(m) for m in f.fence.moved], "disabled": list(f.fence.disabled)},
        "reboot": f.reboot,  # why launchd will not bring it back after a reboot; null: it will
        # issue 13, additive: the release `current` links to; null: no release, or untold
        "current_release": f.current_release,
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
                "deploy_locks": [lock_json(lk) for lk in h.locks],
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
    total = sum(1 for h in report.hosts for f in h.findings if f.verdict not in HARMLESS)
    verdict = _color("ok", "32") if report.ok else _color(f"{total} finding(s)", "31")
    lines.append(f"audit: {len(report.hosts)} host(s), {verdict}")
    return "\n".join(lines)


def _host_text(h: HostReport) -> list[str]:
    head = f"== {h.host}" + ("" if h.reachable else f"  UNREACHABLE: {safe(h.error)}")
    out = [head]
    if not h.findings:
        out.append("  (no services assigned)")
    width = max((len(f.service) for f in h.findings), default=7)
    for lk in h.locks:
        state = "expired" if lk.expired else "HELD"
        who = lk.record.describe() if lk.record else "an unreadable record"
        out.append(f"  deploy lock for {lk.service} {state}: {safe(who)}")
    for f in h.findings:
        pid = f.job.pid if f.job and f.job.pid else "-"
        mark = _color(f.verdict.value, "32" if f.verdict in HARMLESS else "31")
        current = (f"  current release {safe(f.current_release)}"
                   if f.current_release is not None else "")
        out.append(f"  {f.service:<{width}}  {mark:<10}  launchd pid {pid}{current}")
        if f.verdict is not Verdict.OK and f.detail:
            out.append(f"      {safe(f.detail)}")
        for i in f.instances:
            p = i.proc
            kind = "launchd" if i.managed else "STRAY"
            release = f"release {safe(i.release)}  " if i.release is not None else ""
            out.append(f"      {kind:<7} pid {p.pid:<7} ppid {p.ppid:<7} "
                       f"user {safe(p.user):<8} started {safe(p.started_raw)}  "
                       f"{release}{safe(p.command)}")
        step = next_step(f)
        if step:
            out.append(f"      next: {safe(step)}")
        if f.reboot:
            out.append(f"      after a reboot: {safe(f.reboot)}")
    return out


def lock_json(lk: HeldLock) -> dict[str, Any]:
    r = lk.record
    return {
        "service": lk.service,
        "expired": lk.expired,
        "who": r.who if r else None,
        "ci_run": r.ci_run if r else None,
        "pid": r.pid if r else None,
        "started": iso(r.started) if r else None,
        "expires": iso(r.expires) if r else None,
    }


# --- deploy, restart, stop, start, adopt ---------------------------------------------

DEPLOY_SCHEMA = "svcctl.deploy/1"
ADOPT_SCHEMA = "svcctl.adopt/1"


def step_line(host: str, r: StepRecord) -> str:
    mark = _color(r.outcome, "32" if r.outcome == "ok" else "33" if r.outcome == "skipped"
                  else "31")
    return f"  {host}  {r.step:<16} {mark:<7} {r.duration:6.2f}s  {safe(r.detail)}"


def step_json(r: StepRecord) -> dict[str, Any]:
    return {"step": r.step, "outcome": r.outcome, "duration_s": round(r.duration, 3),
            "detail": r.detail}


def plan_json(s: Step) -> dict[str, Any]:
    return {"step": s.kind, "action": s.action}


def final_json(f: Finding | None, label: str) -> dict[str, Any] | None:
    return None if f is None else finding_json(f, label)


def final_text(f: Finding | None) -> str:
    if f is None:
        return "final state unknown (host unreachable)"
    if f.verdict in (Verdict.UNINSPECTABLE, Verdict.UNREACHABLE):
        return f"{f.verdict.value}: {safe(f.detail)}"  # "not loaded" would be a guess
    pid = f.job.pid if f.job and f.job.pid else None
    running = f"launchd pid {pid}" if pid else ("loaded, not running" if f.job else "not loaded")
    n = len(f.instances)
    return f"{f.verdict.value}: {running}, {n} matching instance(s)"


def host_deploy_json(h: HostDeploy, label: str) -> dict[str, Any]:
    return {
        "host": h.host,
        "outcome": h.outcome,
        "exit_code": h.exit_code,
        "error": h.error,
        "plan": [plan_json(s) for s in h.plan],
        "steps": [step_json(r) for r in h.steps],
        "rollback": None if h.rollback is None else {
            "outcome": h.rollback.outcome,
            "detail": h.rollback.detail,
            "steps": [step_json(r) for r in h.rollback.steps],
        },
        "final": final_json(h.final, label),
        # issue 11, additive: what launchd does with it after a reboot
        "reboot": None if h.reboot is None else {"returns": h.reboot[0], "why": h.reboot[1]},
        # issue 13, additive: the release deployed (shipped, or rolled back to); null for a
        # service without `release:`, a restart, or a host that never got that far
        "release": h.release,
    }


def deploy_json(report: DeployReport, command: str = "deploy") -> str:
    doc = {
        "schema": DEPLOY_SCHEMA,
        "command": command,
        "service": report.service,
        "label": report.label,
        "dry_run": report.dry_run,
        "exit_code": report.exit_code,
        "hosts": [host_deploy_json(h, report.label) for h in report.hosts],
        # issue 11, additive: hosts fenced before anything started, and the operator's
        # statements that a host is powered off or cut off (`--fenced HOST`)
        "fences": [host_deploy_json(h, report.label) for h in report.fences],
        "acknowledged": [{"host": a.host, "by": a.by, "at": a.at, "reason": a.reason}
                         for a in report.acknowledged],
    }
    return json.dumps(doc, indent=2)


def plan_text(host: str, steps: list[Step]) -> list[str]:
    return [f"  {host}  {i}. {s.kind:<10} {safe(s.action)}" for i, s in enumerate(steps, 1)]


def deploy_text(report: DeployReport, command: str = "deploy") -> str:
    """The summary after the per-step lines (printed live through `step_line`)."""
    lines: list[str] = []
    for a in report.acknowledged:
        lines.append(f"{a.host}: not reached; stated fenced by {safe(a.by)} at {a.at}, "
                     "recorded on every host deployed to")
    for h in [*report.fences, *report.hosts]:
        if report.dry_run and h.outcome == "planned":
            what = "fence" if h in report.fences else command
            lines.append(f"{h.host}: {what} {report.service} would run these steps "
                         "(dry run: nothing changed):")
            lines += plan_text(h.host, h.plan)
            if h.reboot is not None:
                lines.append(f"  after a reboot: {safe(h.reboot[1])}")
        else:
            lines += _host_outcome_text(h)
    lines.append(f"{command} {report.service}: exit {report.exit_code}")
    return "\n".join(lines)


def _host_outcome_text(h: HostDeploy) -> list[str]:
    head = f"{h.host}: {h.outcome}"
    if h.release is not None and h.outcome == "deployed":
        head += f" (release {safe(h.release)})"
    if h.error:
        head += f": {safe(h.error)}"
    lines = [head]
    if h.rollback is not None:
        lines.append(f"  rollback: {h.rollback.outcome}: {safe(h.rollback.detail)}")
    if h.outcome != "not-attempted":
        lines.append(f"  now: {final_text(h.final)}")
        for i in h.final.instances if h.final is not None else ():
            kind = "launchd" if i.managed else "STRAY"
            lines.append(f"    {kind} pid {i.proc.pid} {safe(i.proc.user)} "
                         f"{safe(i.proc.command)}")
    if h.reboot is not None and h.outcome in ("deployed", "restarted"):
        lines.append(f"  after a reboot: {safe(h.reboot[1])}")
    return lines


def adopt_json(service: str, label: str, reports: list[AdoptReport]) -> str:
    doc = {
        "schema": ADOPT_SCHEMA,
        "service": service,
        "label": label,
        "exit_code": max((r.exit_code for r in reports), default=0),
        "hosts": [
            {
                "host": r.host,
                "outcome": r.outcome,
                "exit_code": r.exit_code,
                "error": r.error,
                "plan": [plan_json(s) for s in r.plan],
                "steps": [step_json(x) for x in r.steps],
                "final": final_json(r.final, label),
            }
            for r in reports
        ],
    }
    return json.dumps(doc, indent=2)


def adopt_text(service: str, reports: list[AdoptReport]) -> str:
    lines: list[str] = []
    for r in reports:
        if r.outcome == "planned":
            lines.append(f"{r.host}: adopt {service} plan:")
            lines += plan_text(r.host, r.plan)
            continue
        lines.append(f"{r.host}: {r.outcome}" + (f": {safe(r.error)}" if r.error else ""))
        lines.append(f"  now: {final_text(r.final)}")
    return "\n".join(lines)
