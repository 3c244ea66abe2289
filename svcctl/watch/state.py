"""What changed since the last cycle: the watch's events (pure, issue 14).

`Tracker.observe` takes one host's audit for one cycle and returns the events a person
watching would want, each once: a verdict that changed, new stray pids under the same
verdict, launchd's instance running another release, a host that stopped (after `grace`
failed cycles, not on one blip) or started answering again, and a reminder for a finding
still unresolved `renotify` seconds after its last event. The same state is never
reported twice. No clock, no I/O: the loop passes the cycle's time.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from svcctl.guard import printable  # output.safe: the one escaper
from svcctl.model import HARMLESS, Finding, Verdict
from svcctl.watch.report import HostResult, launchd_instance, running_release, stray_pids

EVENT_SCHEMA = "svcctl.event/1"

# kinds of events; host events (UNREACHABLE, REACHABLE, and a reminder of an unreachable
# host) carry no service
VERDICT = "verdict"
STRAY = "stray"
RELEASE = "release"
UNREACHABLE = "unreachable"
REACHABLE = "reachable"
REMINDER = "reminder"
KINDS = (VERDICT, STRAY, RELEASE, UNREACHABLE, REACHABLE, REMINDER)


def iso_time(at: float) -> str:
    """Epoch seconds as ISO 8601 UTC to the millisecond: `2026-03-29T03:12:07.250Z`."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True)
class Event:
    """One change worth telling, as `svcctl watch` prints it (one JSON line) and hands it
    to `--on-change` (stdin and environment)."""

    kind: str
    host: str
    service: str | None
    at: float  # epoch seconds of the cycle
    verdict: str | None  # the verdict now; for host events None (a host reminder: unreachable)
    previous: str | None  # the verdict before; None on the first observation
    detail: str  # one human line
    pids: tuple[int, ...] = ()  # strays' pids (for "stray": the new ones)
    release: str | None = None  # the release launchd's instance runs, when told
    previous_release: str | None = None  # for "release": the one it ran before
    launchd_pid: int | None = None  # launchd's instance, when one runs

    def doc(self) -> dict[str, object]:
        return {
            "schema": EVENT_SCHEMA,
            "kind": self.kind,
            "host": self.host,
            "service": self.service,
            "at": iso_time(self.at),
            "verdict": self.verdict,
            "previous": self.previous,
            "detail": self.detail,
            "pids": list(self.pids),
            "release": self.release,
            "previous_release": self.previous_release,
            "launchd_pid": self.launchd_pid,
        }

    def to_json(self) -> str:
        """One line (json escapes every control character), no trailing newline."""
        return json.dumps(self.doc(), sort_keys=True)

    def env(self) -> dict[str, str]:
        """For `--on-change`: the event and its main fields; None is the empty string and
        no value holds a NUL or a newline (escaped as `\\x00`, `\\x0a`)."""
        def text(value: object) -> str:
            return "" if value is None else printable(value)

        return {
            "SVCCTL_EVENT": self.to_json(),
            "SVCCTL_EVENT_KIND": text(self.kind),
            "SVCCTL_HOST": text(self.host),
            "SVCCTL_SERVICE": text(self.service),
            "SVCCTL_AT": iso_time(self.at),
            "SVCCTL_VERDICT": text(self.verdict),
            "SVCCTL_PREVIOUS": text(self.previous),
            "SVCCTL_DETAIL": text(self.detail),
            "SVCCTL_PIDS": " ".join(str(p) for p in self.pids),
            "SVCCTL_RELEASE": text(self.release),
            "SVCCTL_PREVIOUS_RELEASE": text(self.previous_release),
        }


@dataclass
class _Service:
    """The last known state of one service on one host."""

    verdict: Verdict
    strays: frozenset[int]
    release: str | None  # the last release launchd's instance was seen running
    notified: float  # when its last event went out (or when it was first seen, healthy)


@dataclass
class _Host:
    failures: int = 0  # consecutive failed cycles
    down: bool = False  # the "unreachable" event went out
    notified: float = 0.0  # when its last host event went out
    error: str = ""
    services: dict[str, _Service] = field(default_factory=dict)


class Tracker:
    """Every host's last known state, and the events that a new cycle's result makes."""

    def __init__(self, *, grace: int = 2, renotify: float = 3600.0) -> None:
        if grace < 1:
            raise ValueError(f"grace must be at least 1 cycle, not {grace}")
        if renotify <= 0:
            raise ValueError(f"renotify must be positive, not {renotify}")
        self.grace = grace
        self.renotify = renotify
        self._hosts: dict[str, _Host] = {}

    def forget(self, hosts_kept: Collection[str]) -> None:
        """After an inventory reload: hosts no longer watched are dropped silently."""
        for name in set(self._hosts) - set(hosts_kept):
            del self._hosts[name]

    def observe(self, report: HostResult, now: float) -> list[Event]:
        """One host's result for one cycle -> the events it makes (often none)."""
        state = self._hosts.setdefault(report.host, _Host())
        if not report.reachable:
            return self._failed(report, state, now)
        events: list[Event] = []
        if state.down:
            events.append(Event(REACHABLE, report.host, None, now, None, None,
                                f"answers again after {state.failures} failed cycles"))
        state.failures, state.down = 0, False
        seen: dict[str, _Service] = {}
        for finding in report.findings:
            known = state.services.get(finding.service)
            new = _events(finding, known, now)
            if not new and known is not None and _due(known, self.renotify, now):
                new = [_service_event(REMINDER, finding, known.verdict, now,
                                      _said(f"still {finding.verdict.value}", finding))]
            seen[finding.service] = _remember(finding, known, now, bool(new))
            events.extend(new)
        state.services = seen  # services gone from the inventory are forgotten silently
        return events

    def _failed(self, report: HostResult, state: _Host, now: float) -> list[Event]:
        """A failed probe: counted; told once `grace` in a row failed; reminded while so.
        The services keep their last known state for when the host answers again."""
        state.failures += 1
        state.error = report.error or "the probe failed"
        if state.down:
            if now - state.notified < self.renotify:
                return []
            state.notified = now
            return [Event(REMINDER, report.host, None, now, Verdict.UNREACHABLE.value,
                          Verdict.UNREACHABLE.value,
                          f"still unreachable ({state.failures} failed cycles): {state.error}")]
        if state.failures < self.grace:
            return []
        state.down, state.notified = True, now
        return [Event(UNREACHABLE, report.host, None, now, None, None, state.error)]


def _due(known: _Service, renotify: float, now: float) -> bool:
    return known.verdict not in HARMLESS and now - known.notified >= renotify


def _remember(finding: Finding, known: _Service | None, now: float,
              notified: bool) -> _Service:
    release = running_release(finding)
    if release is None and known is not None:
        release = known.release  # down for a while: the next start is compared with it
    when = now if notified or known is None else known.notified
    return _Service(finding.verdict, frozenset(stray_pids(finding)), release, when)


def _events(finding: Finding, known: _Service | None, now: float) -> list[Event]:
    """The changes from the last known state; at the first sight, only a finding."""
    if known is None:
        if finding.verdict in HARMLESS:
            return []
        return [_service_event(VERDICT, finding, None, now,
                               _said(f"{finding.verdict.value} (first seen)", finding))]
    out: list[Event] = []
    if finding.verdict is not known.verdict:
        out.append(_service_event(VERDICT, finding, known.verdict, now, _transition(
            finding, known.verdict)))
    else:
        new = tuple(p for p in stray_pids(finding) if p not in known.strays)
        if new:
            out.append(_service_event(STRAY, finding, known.verdict, now,
                                      _said(f"new stray pid(s) {_pids(new)}", finding),
                                      pids=new))
    release = running_release(finding)
    if release is not None and known.release is not None and release != known.release:
        out.append(_service_event(RELEASE, finding, known.verdict, now,
                                  f"launchd's instance now runs release {release} "
                                  f"(was {known.release})", previous_release=known.release))
    return out


def _transition(finding: Finding, before: Verdict) -> str:
    now = finding.verdict
    if now in HARMLESS and before not in HARMLESS:
        head = f"resolved: {before.value} -> {now.value}"
    else:
        head = f"{before.value} -> {now.value}"
    return _said(head, finding)


def _said(head: str, finding: Finding) -> str:
    """`head: the finding's detail`, or the head alone when the finding says nothing."""
    return f"{head}: {finding.detail}" if finding.detail else head


def _pids(pids: Sequence[int]) -> str:
    return ", ".join(str(p) for p in pids)


def _service_event(kind: str, finding: Finding, previous: Verdict | None, now: float,
                   detail: str, *, pids: tuple[int, ...] | None = None,
                   previous_release: str | None = None) -> Event:
    inst = launchd_instance(finding)
    return Event(kind, finding.host, finding.service, now, finding.verdict.value,
                 None if previous is None else previous.value, detail,
                 stray_pids(finding) if pids is None else pids,
                 running_release(finding), previous_release,
                 None if inst is None else inst.proc.pid)
