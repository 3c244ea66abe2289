"""Pure decisions of the write side: lock records, the stay-up window, the plans."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from svcctl.model import (
    Domain,
    DomainKind,
    Finding,
    HostSpec,
    Instance,
    JobState,
    ProcInfo,
    ServiceSpec,
    Verdict,
)
from svcctl.ops.adopt import plan_adopt
from svcctl.ops.lifecycle import Sample, judge_window, stop_bound
from svcctl.ops.lock import new_record, parse_lock
from svcctl.ops.plan import DeployOptions, plan_deploy

SVC = ServiceSpec("shiva", "com.example.shiva", ("tesseract",),
                  ("/usr/bin/python3", "/Users/ops/shiva/main.py"), exit_timeout=3)
SPEC = HostSpec("tesseract", Domain(DomainKind.USER, 501), home="/Users/ops")
TARGET = "user/501/com.example.shiva"


def proc(pid: int, cmd: str = "/usr/bin/python3 /Users/ops/shiva/main.py") -> ProcInfo:
    return ProcInfo(pid, 1, 501, "ops", pid, datetime(2026, 1, 1), "Thu Jan  1 00:00:00 2026",
                    cmd)


def finding(pid: int | None, runs: int = 1, *, state: str = "running",
            strays: tuple[int, ...] = (), last: int | None = None) -> Finding:
    job = JobState("com.example.shiva", "print", pid=pid, runs=runs, state=state,
                   last_exit_code=last)
    inst = [Instance(proc(pid), True, TARGET)] if pid else []
    inst += [Instance(proc(s), False, None) for s in strays]
    return Finding("shiva", "tesseract", Verdict.OK, tuple(inst), job)


def test_lock_record_round_trip_and_expiry() -> None:
    rec = new_record("shiva", 60, env={"USER": "ann", "GITHUB_RUN_ID": "77"}, now=1000.0)
    back = parse_lock(rec.text())
    assert back == rec and back.ci_run == "77" and back.who.startswith("ann@")
    assert not back.expired(1059.9) and back.expired(1060.0)
    assert "CI run 77" in back.describe()
    for garbage in ("", "{", "[]", '{"who": 1}', "null", '{"service": "x"}'):
        assert parse_lock(garbage) is None


def test_lock_record_garbage_from_a_local_user_is_none_not_a_crash() -> None:
    # /tmp/svcctl-deploy is world-writable: audit and deploy read whatever is there
    fields = '"service": "s", "who": "w", "token": "t", '
    for garbage in ("[" * 100_000,
                    "{" + fields + '"pid": 1e999, "started": 1, "expires": 2}',
                    "{" + fields + '"pid": 1, "started": 1, "expires": 1e999}',
                    "{" + fields + '"pid": 1, "started": NaN, "expires": NaN}',
                    "{" + fields + '"pid": 1, "started": 1, "expires": 1e300}'):
        assert parse_lock(garbage) is None


def test_window_ok_after_stay_up_with_one_stable_pid() -> None:
    samples = [Sample(t, finding(10)) for t in (0.0, 0.5, 1.0, 2.1)]
    assert judge_window(samples[:3], 2.0)[0] == "wait"
    verdict, why = judge_window(samples, 2.0)
    assert verdict == "ok" and "pid 10" in why


def test_window_is_not_ok_on_a_partial_view() -> None:
    hidden = replace(finding(10), hidden=(proc(77, "(python3)"),))
    samples = [Sample(0.0, finding(10)), Sample(2.1, hidden)]
    verdict, why = judge_window(samples, 2.0)
    assert verdict == "fail" and "hide their arguments" in why


def test_window_is_not_ok_while_the_label_is_loaded_in_another_domain() -> None:
    # idle in gui/501: no second process yet, but not "exactly one" either (issue 11)
    idle = replace(finding(10), elsewhere=("gui/501/com.example.shiva",))
    verdict, why = judge_window([Sample(0.0, finding(10)), Sample(2.1, idle)], 2.0)
    assert verdict == "fail" and "gui/501/com.example.shiva" in why


def test_window_fails_on_pid_change_respawn_stray_crashloop_and_no_start() -> None:
    changed = [Sample(0, finding(10)), Sample(1, finding(11, runs=2))]
    assert judge_window(changed, 5)[0] == "fail" and "10 -> 11" in judge_window(changed, 5)[1]
    exited = [Sample(0, finding(10)), Sample(1, finding(None, state="spawn scheduled"))]
    assert judge_window(exited, 5)[0] == "fail"
    stray = [Sample(0, finding(10, strays=(99,)))]
    assert judge_window(stray, 5)[0] == "fail" and "99" in judge_window(stray, 5)[1]
    loop = [Sample(0, finding(None, runs=3, state="spawn scheduled", last=1))]
    assert judge_window(loop, 5)[1].startswith("crash loop")
    never = [Sample(0, finding(None, state="not running")),
             Sample(6, finding(None, state="not running"))]
    assert "did not start" in judge_window(never, 5, start_grace=5)[1]


def test_stop_bound_is_exit_timeout_plus_margin_and_zero_means_margin_only() -> None:
    assert stop_bound(SVC) == 8
    assert stop_bound(ServiceSpec("x", "x", (), ("/x",), exit_timeout=0)) == 5


def test_plan_deploy_lists_the_exact_steps() -> None:
    path = "/Users/ops/Library/LaunchAgents/com.example.shiva.plist"
    steps = plan_deploy(SVC, SPEC, path, loaded=True, installed=True, opts=DeployOptions(),
                        hosts_checked=["tesseract", "backup"])
    assert [s.kind for s in steps] == ["lock", "preflight", "upload", "stop", "start",
                                       "verify", "unlock"]
    assert f"launchctl bootout {TARGET}" in steps[3].action
    assert f"launchctl bootstrap user/501 {path}" in steps[4].action
    assert f"{path}.previous" in steps[2].action
    restart = plan_deploy(SVC, SPEC, path, loaded=False, installed=True,
                          opts=DeployOptions(upload=False), hosts_checked=["tesseract"])
    assert "upload" not in [s.kind for s in restart]
    assert "not loaded" in restart[2].action


def test_plan_adopt_never_targets_launchd_or_pid_1() -> None:
    f = finding(10, strays=(99, 1))
    plan = plan_adopt(SVC, SPEC, f)
    assert [k.proc.pid for k in plan.kills] == [99]
    assert plan.ensure == "running" and not plan.bootouts
    # the signal refuses launchd's pid for the label in every domain it could be loaded in
    assert plan.kills[0].targets == (TARGET, "gui/501/com.example.shiva",
                                     "system/com.example.shiva")
    assert re.search(r"pid 99 .*SIGKILL after 5 s", plan.steps[0].action)
    # on a host the service is not assigned to, launchd's job there is booted out
    backup = HostSpec("backup", Domain(DomainKind.USER, 501), home="/Users/ops")
    plan = plan_adopt(SVC, backup, finding(10, strays=(99,)))
    assert plan.bootouts == (TARGET,) and plan.ensure == "none"
    assert [k.proc.pid for k in plan.kills] == [99]
    # a job in another domain is booted out, never signalled (KeepAlive would respawn it)
    foreign = Finding("shiva", "tesseract", Verdict.DUPLICATE,
                      (Instance(proc(10), True, TARGET),
                       Instance(proc(20), False, "gui/501/com.example.shiva")),
                      JobState("com.example.shiva", "print", pid=10))
    plan = plan_adopt(SVC, SPEC, foreign)
    assert plan.kills == () and plan.bootouts == ("gui/501/com.example.shiva",)
