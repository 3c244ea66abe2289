"""`svcctl watch`'s events (issue 14): what `Tracker.observe` tells, cycle after cycle, from
hand-built audit results (svcctl.ops.audit.HostReport, the type the loop passes)."""

from __future__ import annotations

from datetime import datetime

import pytest

from svcctl.model import Finding, Instance, JobState, ProcInfo, Verdict
from svcctl.ops.audit import HostReport
from svcctl.watch.state import Event, Tracker

H = "tesseract"
LAUNCHD_PID = 400


def proc(pid: int) -> ProcInfo:
    return ProcInfo(pid, 1, 501, "ops", pid, datetime(2026, 3, 29, 3, 0), "3:00AM",
                    "/usr/bin/python3 /Users/ops/shiva/main.py")


def finding(verdict: Verdict, *, service: str = "shiva", strays: tuple[int, ...] = (),
            release: str | None = None, launchd: bool = True, detail: str = "",
            host: str = H) -> Finding:
    instances = [Instance(proc(p), False, None, reason="not launchd's") for p in strays]
    job = None
    if launchd:
        owner = f"gui/501/com.example.{service}"
        instances.insert(0, Instance(proc(LAUNCHD_PID), True, owner, release=release))
        job = JobState(f"com.example.{service}", "print", pid=LAUNCHD_PID)
    return Finding(service, host, verdict, tuple(instances), job, detail=detail)


def ok(service: str = "shiva", release: str | None = None) -> Finding:
    return finding(Verdict.OK, service=service, release=release)


def up(*findings: Finding, host: str = H) -> HostReport:
    return HostReport(host, True, findings)


def failed(error: str = "ssh: connection refused", host: str = H) -> HostReport:
    # what audit makes of a failed probe: every service unreachable (svcctl.ops.audit)
    return HostReport(host, False, (Finding("shiva", host, Verdict.UNREACHABLE, detail=error),),
                      error)


def kinds(events: list[Event]) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(e.kind, e.service, e.previous, e.verdict) for e in events]


# --- the baseline -----------------------------------------------------------------------

def test_a_healthy_first_observation_says_nothing() -> None:
    t = Tracker()
    fenced = finding(Verdict.FENCED, service="kali", launchd=False)
    assert t.observe(up(ok(), fenced), 0.0) == []
    assert t.observe(up(ok(), fenced), 30.0) == []


def test_a_broken_first_observation_says_so_once() -> None:
    t = Tracker()
    dup = finding(Verdict.DUPLICATE, strays=(901, 902), detail="launchd's pid 400 and 2 strays")
    report = up(ok("kali"), dup, finding(Verdict.DOWN, service="vishnu", launchd=False))
    events = t.observe(report, 0.0)
    assert kinds(events) == [("verdict", "shiva", None, "duplicate"),
                             ("verdict", "vishnu", None, "down")]
    assert events[0].pids == (901, 902)
    assert events[0].launchd_pid == LAUNCHD_PID
    assert events[0].detail == "duplicate (first seen): launchd's pid 400 and 2 strays"
    assert events[1].launchd_pid is None
    assert t.observe(report, 30.0) == []


# --- verdict transitions ----------------------------------------------------------------

@pytest.mark.parametrize(("before", "after"), [
    (Verdict.OK, Verdict.DUPLICATE), (Verdict.OK, Verdict.DOWN), (Verdict.OK, Verdict.STRAY),
    (Verdict.DUPLICATE, Verdict.OK), (Verdict.DOWN, Verdict.CRASHLOOP),
    (Verdict.OK, Verdict.STALE), (Verdict.UNEXPECTED, Verdict.FENCED),
])
def test_each_verdict_change_is_one_event(before: Verdict, after: Verdict) -> None:
    t = Tracker()
    t.observe(up(finding(before)), 0.0)
    events = t.observe(up(finding(after, detail="why")), 30.0)
    assert kinds(events) == [("verdict", "shiva", before.value, after.value)]
    assert events[0].at == 30.0
    assert events[0].host == H
    assert t.observe(up(finding(after, detail="why")), 60.0) == []


def test_a_resolved_finding_says_resolved() -> None:
    t = Tracker()
    t.observe(up(finding(Verdict.DUPLICATE, strays=(901,))), 0.0)
    [event] = t.observe(up(ok()), 30.0)
    assert (event.kind, event.previous, event.verdict) == ("verdict", "duplicate", "ok")
    assert event.detail == "resolved: duplicate -> ok"
    assert event.pids == ()


def test_a_new_duplicate_carries_every_stray_pid() -> None:
    t = Tracker()
    t.observe(up(ok()), 0.0)
    [event] = t.observe(up(finding(Verdict.DUPLICATE, strays=(902, 901), detail="2 strays")),
                        30.0)
    assert event.pids == (901, 902)
    assert event.detail == "ok -> duplicate: 2 strays"


# --- strays under the same verdict ------------------------------------------------------

def test_new_stray_pids_under_the_same_verdict_are_one_stray_event() -> None:
    t = Tracker()
    t.observe(up(finding(Verdict.DUPLICATE, strays=(901,))), 0.0)
    [event] = t.observe(up(finding(Verdict.DUPLICATE, strays=(901, 905))), 30.0)
    assert (event.kind, event.previous, event.verdict, event.pids) == (
        "stray", "duplicate", "duplicate", (905,))
    # one going away is no news; another replacing it is
    assert t.observe(up(finding(Verdict.DUPLICATE, strays=(905,))), 60.0) == []
    [event] = t.observe(up(finding(Verdict.DUPLICATE, strays=(905, 906))), 90.0)
    assert event.pids == (906,)
    assert t.observe(up(finding(Verdict.DUPLICATE, strays=(905, 906))), 120.0) == []


def test_a_stray_that_left_and_came_back_under_the_same_pid_is_told_again() -> None:
    t = Tracker()
    t.observe(up(finding(Verdict.STRAY, strays=(901,), launchd=False)), 0.0)
    t.observe(up(finding(Verdict.STRAY, strays=(902,), launchd=False)), 30.0)
    [event] = t.observe(up(finding(Verdict.STRAY, strays=(901, 902), launchd=False)), 60.0)
    assert event.pids == (901,)


# --- releases ---------------------------------------------------------------------------

def test_a_deploy_is_a_release_event_even_when_the_verdict_stays_ok() -> None:
    t = Tracker()
    t.observe(up(ok(release="v1")), 0.0)
    [event] = t.observe(up(ok(release="v2")), 30.0)
    assert (event.kind, event.previous, event.verdict) == ("release", "ok", "ok")
    assert (event.previous_release, event.release) == ("v1", "v2")
    assert event.launchd_pid == LAUNCHD_PID
    assert t.observe(up(ok(release="v2")), 60.0) == []


def test_a_release_across_a_restart_gap_is_still_told() -> None:
    t = Tracker()
    t.observe(up(ok(release="v1")), 0.0)
    down = finding(Verdict.DOWN, launchd=False)
    assert kinds(t.observe(up(down), 30.0)) == [("verdict", "shiva", "ok", "down")]
    events = t.observe(up(ok(release="v2")), 60.0)
    assert kinds(events) == [("verdict", "shiva", "down", "ok"), ("release", "shiva", "down", "ok")]
    assert (events[1].previous_release, events[1].release) == ("v1", "v2")


def test_a_restart_that_resolves_stale_is_a_verdict_and_a_release() -> None:
    t = Tracker()
    t.observe(up(finding(Verdict.STALE, release="v1")), 0.0)
    events = t.observe(up(ok(release="v2")), 30.0)
    assert [e.kind for e in events] == ["verdict", "release"]
    assert events[0].detail == "resolved: stale -> ok"


def test_an_untold_release_is_no_release_change() -> None:
    t = Tracker()
    t.observe(up(ok(release="v1")), 0.0)
    # `current` as a release: a path through a `current` the probe did not resolve
    assert t.observe(up(ok(release="current")), 30.0) == []
    assert t.observe(up(ok(release=None)), 60.0) == []
    assert t.observe(up(ok(release="v1")), 90.0) == []
    # a service that never told its release starts telling: the first one is no change
    t.observe(up(ok("kali")), 0.0)
    assert t.observe(up(ok("kali", release="v7")), 30.0) == []


# --- unreachable hosts ------------------------------------------------------------------

def test_one_failed_cycle_is_a_blip() -> None:
    t = Tracker(grace=2)
    t.observe(up(ok(), finding(Verdict.DOWN, service="kali", launchd=False)), 0.0)
    assert t.observe(failed(), 30.0) == []
    # the host's services kept their state: nothing re-baselined, nothing re-told
    assert t.observe(up(ok(), finding(Verdict.DOWN, service="kali", launchd=False)), 60.0) == []


def test_unreachable_after_grace_failed_cycles_once_then_reachable() -> None:
    t = Tracker(grace=3)
    t.observe(up(ok(), ok("kali")), 0.0)
    assert t.observe(failed(), 30.0) == []
    assert t.observe(failed(), 60.0) == []
    [event] = t.observe(failed("ssh: timed out"), 90.0)
    assert (event.kind, event.host, event.service, event.verdict, event.previous) == (
        "unreachable", H, None, None, None)
    assert event.detail == "ssh: timed out"
    # one event, not one per service, and not again while it stays down
    assert t.observe(failed(), 120.0) == []
    events = t.observe(up(ok(), finding(Verdict.DUPLICATE, service="kali", strays=(7,))), 150.0)
    assert kinds(events) == [("reachable", None, None, None),
                             ("verdict", "kali", "ok", "duplicate")]
    assert events[0].detail == "answers again after 4 failed cycles"
    assert t.observe(failed(), 180.0) == []  # the count starts over


def test_grace_one_tells_on_the_first_failure() -> None:
    t = Tracker(grace=1)
    t.observe(up(ok()), 0.0)
    assert [e.kind for e in t.observe(failed(), 30.0)] == ["unreachable"]


def test_a_host_never_reached_is_told_after_grace_and_baselined_when_it_answers() -> None:
    t = Tracker(grace=2)
    assert t.observe(failed(), 0.0) == []
    assert [e.kind for e in t.observe(failed(), 30.0)] == ["unreachable"]
    events = t.observe(up(ok(), finding(Verdict.DOWN, service="kali", launchd=False)), 60.0)
    assert kinds(events) == [("reachable", None, None, None), ("verdict", "kali", None, "down")]


def test_hosts_are_tracked_apart() -> None:
    t = Tracker(grace=1)
    t.observe(up(finding(Verdict.OK, host="a"), host="a"), 0.0)
    t.observe(up(finding(Verdict.OK, host="b"), host="b"), 0.0)
    assert [e.host for e in t.observe(failed(host="a"), 30.0)] == ["a"]
    assert t.observe(up(finding(Verdict.OK, host="b"), host="b"), 30.0) == []


# --- reminders --------------------------------------------------------------------------

def test_an_unresolved_finding_is_reminded_every_renotify_since_its_last_event() -> None:
    t = Tracker(renotify=3600.0)
    dup = up(finding(Verdict.DUPLICATE, strays=(901,), detail="1 stray"), ok("kali"))
    t.observe(dup, 0.0)
    assert t.observe(dup, 3599.0) == []
    [event] = t.observe(dup, 3600.0)
    assert (event.kind, event.service, event.previous, event.verdict, event.pids) == (
        "reminder", "shiva", "duplicate", "duplicate", (901,))
    assert event.detail == "still duplicate: 1 stray"
    assert t.observe(dup, 3630.0) == []
    assert [e.detail for e in t.observe(up(finding(Verdict.DUPLICATE, strays=(901,)),
                                            ok("kali")), 7200.0)] == ["still duplicate"]
    # a new stray is an event, and the next reminder counts from it
    more = up(finding(Verdict.DUPLICATE, strays=(901, 902)), ok("kali"))
    assert [e.detail for e in t.observe(more, 8000.0)] == ["new stray pid(s) 902"]
    assert t.observe(more, 11599.0) == []
    assert [e.kind for e in t.observe(more, 11600.0)] == ["reminder"]


def test_a_harmless_state_is_never_reminded() -> None:
    t = Tracker(renotify=10.0)
    fenced = finding(Verdict.FENCED, service="kali", launchd=False)
    t.observe(up(finding(Verdict.DOWN, launchd=False), fenced), 0.0)
    t.observe(up(ok(), fenced), 5.0)
    assert t.observe(up(ok(), fenced), 100.0) == []
    assert t.observe(up(ok(), fenced), 1000.0) == []


def test_an_unreachable_host_is_reminded_not_its_services() -> None:
    t = Tracker(grace=1, renotify=100.0)
    t.observe(up(finding(Verdict.DUPLICATE, strays=(901,))), 0.0)
    t.observe(failed(), 50.0)
    assert t.observe(failed(), 149.0) == []
    [event] = t.observe(failed("ssh: no route"), 150.0)
    assert (event.kind, event.service, event.verdict, event.previous) == (
        "reminder", None, "unreachable", "unreachable")
    assert event.detail == "still unreachable (3 failed cycles): ssh: no route"
    assert t.observe(failed(), 200.0) == []


# --- inventory reloads ------------------------------------------------------------------

def test_services_gone_from_the_report_are_forgotten_new_ones_baselined() -> None:
    t = Tracker()
    t.observe(up(ok(), finding(Verdict.DOWN, service="kali", launchd=False)), 0.0)
    # kali left the inventory: silently; vishnu joined, broken: told as a first sight
    events = t.observe(up(ok(), finding(Verdict.STRAY, service="vishnu", strays=(5,))), 30.0)
    assert kinds(events) == [("verdict", "vishnu", None, "stray")]
    # kali back: a first sight again, not a change from its old state
    events = t.observe(up(ok(), finding(Verdict.DOWN, service="kali", launchd=False)), 60.0)
    assert kinds(events) == [("verdict", "kali", None, "down")]


def test_forgotten_hosts_start_over() -> None:
    t = Tracker(grace=1)
    t.observe(up(finding(Verdict.DOWN, launchd=False)), 0.0)
    t.forget(["other"])
    assert kinds(t.observe(up(finding(Verdict.DOWN, launchd=False)), 30.0)) == [
        ("verdict", "shiva", None, "down")]


@pytest.mark.parametrize(("grace", "renotify"), [(0, 3600.0), (2, 0.0), (-1, 10.0)])
def test_nonsense_settings_are_refused(grace: int, renotify: float) -> None:
    with pytest.raises(ValueError, match=r"grace|renotify"):
        Tracker(grace=grace, renotify=renotify)


def test_a_copy_started_where_it_is_not_assigned_comes_and_goes() -> None:
    """Given every service of the scope each cycle (audit's report before `visible` drops
    the unassigned ones that are ok), an unexpected copy is a change both ways."""
    t = Tracker()
    idle = finding(Verdict.OK, service="kali", launchd=False)
    t.observe(up(ok(), idle), 0.0)
    running = finding(Verdict.UNEXPECTED, service="kali", strays=(77,), launchd=False)
    [came] = t.observe(up(ok(), running), 30.0)
    assert (came.kind, came.previous, came.verdict, came.pids) == (
        "verdict", "ok", "unexpected", (77,))
    [went] = t.observe(up(ok(), idle), 60.0)
    assert (went.previous, went.verdict, went.detail) == ("unexpected", "ok",
                                                          "resolved: unexpected -> ok")
