"""Pure decisions of issue 11: where plists live and load, the verdicts they give, the
fence plan, the cross-host gate and the fence record."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import datetime

import pytest

from svcctl import places
from svcctl.model import (
    Domain,
    DomainKind,
    FenceRecord,
    Finding,
    HostSpec,
    Instance,
    JobState,
    ProcInfo,
    ServiceSpec,
    Verdict,
)
from svcctl.ops import gate
from svcctl.ops.audit import judge_places, parse_places, places_argv
from svcctl.ops.fence import fence_refusal, fenced_name, move_argv, needs_fence, plan_fence
from svcctl.ops.plan import DeployOptions, aside, plan_deploy

LABEL = "com.example.shiva"
SVC = ServiceSpec("shiva", LABEL, ("backup",), ("/usr/bin/python3", "/Users/ops/main.py"),
                  keep_alive=True)
USER = Domain(DomainKind.USER, 501)
OLD = HostSpec("tesseract", USER, home="/Users/ops")
NEW = HostSpec("backup", USER, home="/Users/ops")
AGENTS = f"/Users/ops/Library/LaunchAgents/{LABEL}.plist"
OURS = f"/Users/ops/Library/Application Support/svcctl/LaunchAgents/{LABEL}.plist"
DAEMON = f"/Library/LaunchDaemons/{LABEL}.plist"
RECORD = FenceRecord("shiva", LABEL, "tesseract", "ann@ci", "2026-12-01T10:00:00Z", "moved",
                     ((AGENTS, "/x/y"),), ("user/501/" + LABEL,))


def proc(pid: int) -> ProcInfo:
    return ProcInfo(pid, 1, 501, "ops", pid, datetime(2026, 1, 1), "Thu Jan  1 00:00:00 2026",
                    "/usr/bin/python3 /Users/ops/main.py")


def quiet(host: str, **kw: object) -> Finding:
    return replace(Finding("shiva", host, Verdict.OK, detail="not running"), **kw)  # type: ignore[arg-type]


def test_places_keep_user_agents_out_of_every_auto_load_directory() -> None:
    assert str(places.plist_path(LABEL, USER, "/Users/ops")) == OURS
    assert str(places.plist_path(LABEL, Domain(DomainKind.GUI, 501), "/Users/ops")) == AGENTS
    assert str(places.plist_path(LABEL, Domain(DomainKind.SYSTEM), None)) == DAEMON
    found = {p.path: p for p in places.places(LABEL, "/Users/ops")}
    assert found[OURS].into is None and not found[OURS].autoload
    assert found[AGENTS].into is DomainKind.GUI and found[DAEMON].into is DomainKind.SYSTEM
    assert f"/Library/LaunchAgents/{LABEL}.plist" in found
    assert [p.path for p in places.places(LABEL, None)] == [
        DAEMON, f"/Library/LaunchAgents/{LABEL}.plist"]
    with pytest.raises(places.NoHomeError):
        places.plist_path(LABEL, USER, None)


def test_reboot_notes_say_which_domain_comes_back() -> None:
    assert places.reboot_note(Domain(DomainKind.SYSTEM), True)[0] is True
    returns, why = places.reboot_note(Domain(DomainKind.SYSTEM), False)
    assert not returns and "neither RunAtLoad nor KeepAlive" in why
    returns, why = places.reboot_note(USER, True)
    assert not returns and "domain: system" in why and "user_name" in why
    assert "console" in places.reboot_note(Domain(DomainKind.GUI, 501), True)[1]
    assert places.starts_at_load(SVC)
    assert not places.starts_at_load(replace(SVC, keep_alive=False))
    assert places.starts_at_load(replace(SVC, keep_alive={"SuccessfulExit": False}))
    assert not places.starts_at_load(replace(SVC, keep_alive={"PathState": {"/x": True}}))


def test_the_places_probe_runs_in_posix_sh_and_reads_back(tmp_path: object) -> None:
    import pathlib

    home = pathlib.Path(str(tmp_path))
    spec = HostSpec("tesseract", USER, home=str(home))
    agents = home / "Library/LaunchAgents"
    agents.mkdir(parents=True)
    (agents / f"{LABEL}.plist").write_text("x")
    record = places.fence_record_path(LABEL, USER, str(home))
    pathlib.Path(record).parent.mkdir(parents=True)
    pathlib.Path(record).write_text(RECORD.dumps())
    argv = places_argv(spec, SVC)
    out = subprocess.run(["dash" if pathlib.Path("/bin/dash").exists() else "sh", *argv[1:]],
                         capture_output=True, text=True, check=True).stdout
    plists, fence = parse_places(out)
    assert plists == (str(agents / f"{LABEL}.plist"),) and fence == RECORD
    pathlib.Path(record).unlink()
    pathlib.Path(record).symlink_to(agents / f"{LABEL}.plist")  # a link is never read
    out = subprocess.run(["sh", *argv[1:]], capture_output=True, text=True, check=True).stdout
    assert parse_places(out)[1] is None


def test_fence_record_round_trip_and_garbage() -> None:
    assert FenceRecord.parse(RECORD.dumps()) == RECORD
    assert "ann@ci" in RECORD.describe() and "moved" in RECORD.describe()
    for garbage in ("", "{", "[]", '{"schema": "svcctl.fence/1"}', '{"schema": "other"}',
                    '{"schema": "svcctl.fence/1", "service": 1, "label": 2, "host": 3, '
                    '"by": 4, "at": 5, "reason": 6, "moved": [[1]]}'):
        assert FenceRecord.parse(garbage) is None, garbage


def test_judge_places_unassigned_host() -> None:
    # not assigned, nothing there: ok (and audit hides it)
    assert judge_places(OLD, SVC, quiet("tesseract")).verdict is Verdict.OK
    # a plist a reboot or login would load, or svcctl's own: unfenced, with the fix
    for plist in (AGENTS, OURS, DAEMON):
        f = judge_places(OLD, SVC, quiet("tesseract", plists=(plist,)))
        assert f.verdict is Verdict.UNFENCED and plist in f.detail
        assert f.hint == "svcctl fence shiva --host tesseract"
    # a record and nothing else: fenced, which counts as harmless
    f = judge_places(OLD, SVC, quiet("tesseract", fence=RECORD))
    assert f.verdict is Verdict.FENCED and "ann@ci" in f.detail
    # launchd's job running there: unexpected, and a fence is the fix (no stray to kill)
    job = JobState(LABEL, "print", pid=7)
    running = Finding("shiva", "tesseract", Verdict.UNEXPECTED,
                      (Instance(proc(7), True, "user/501/" + LABEL),), job)
    assert judge_places(OLD, SVC, running).hint == "svcctl fence shiva --host tesseract"
    stray = replace(running, instances=(Instance(proc(8), False, None),))
    assert judge_places(OLD, SVC, stray).hint is None  # adopt's: it kills identified strays


def test_judge_places_assigned_host() -> None:
    ok = quiet("backup", plists=(OURS,))
    assert judge_places(NEW, SVC, ok).verdict is Verdict.OK
    f = judge_places(NEW, SVC, quiet("backup", plists=(OURS, AGENTS)))
    assert f.verdict is Verdict.UNFENCED and "gui/501" in f.detail and "deploy" in (f.hint or "")
    # down or crash-looping says more, first; the plist is still named
    f = judge_places(NEW, SVC, quiet("backup", verdict=Verdict.CRASHLOOP, plists=(AGENTS,)))
    assert f.verdict is Verdict.CRASHLOOP and AGENTS in f.detail
    # loaded in another domain, even idle: a duplicate waiting to happen (FACTS 1.4)
    for v in (Verdict.OK, Verdict.DOWN, Verdict.CRASHLOOP):
        f = judge_places(NEW, SVC, quiet("backup", verdict=v, elsewhere=("gui/501/" + LABEL,)))
        assert f.verdict is Verdict.DUPLICATE and "gui/501" in f.detail
    # a gui host's own plist sits in ~/Library/LaunchAgents: that is where it belongs
    gui = HostSpec("backup", Domain(DomainKind.GUI, 501), home="/Users/ops")
    assert judge_places(gui, SVC, quiet("backup", plists=(AGENTS,))).verdict is Verdict.OK
    system = HostSpec("backup", Domain(DomainKind.SYSTEM), home="/Users/ops")
    assert judge_places(system, SVC, quiet("backup", plists=(DAEMON,))).verdict is Verdict.OK
    assert judge_places(system, SVC, quiet("backup", plists=(DAEMON, AGENTS))).verdict \
        is Verdict.UNFENCED
    assert aside(SVC, system, quiet("backup", plists=(DAEMON, AGENTS))) == [AGENTS]


def test_plan_fence_and_its_refusals() -> None:
    job = JobState(LABEL, "print", pid=7)
    f = Finding("shiva", "tesseract", Verdict.UNEXPECTED,
                (Instance(proc(7), True, "user/501/" + LABEL),), job,
                elsewhere=("gui/501/" + LABEL,), plists=(AGENTS, OURS))
    assert needs_fence(f) and fence_refusal(SVC, f) is None
    plan = plan_fence(SVC, OLD, f, "moved", 10)
    assert plan.bootouts == ("user/501/" + LABEL, "gui/501/" + LABEL)
    assert [d.target for d in plan.disables] == ["user/501", "gui/501"]
    dests = [d for _, d in plan.moves]
    assert len(set(dests)) == 2 and all(not d.endswith(".plist") for d in dests)
    assert all("/svcctl/fenced/" in d for d in dests)
    assert [s.kind for s in plan.steps] == ["lock", "survey", "bootout", "bootout", "disable",
                                           "move", "move", "record", "prove", "unlock"]
    assert fenced_name(LABEL, DAEMON) == f"{LABEL}.plist@LaunchDaemons"
    stray = replace(f, instances=(Instance(proc(9), False, None),))
    assert "svcctl adopt" in (fence_refusal(SVC, stray) or "")
    hidden = replace(f, instances=(), hidden=(proc(10),))
    assert "--user root" in (fence_refusal(SVC, hidden) or "")
    assert not needs_fence(quiet("tesseract", fence=RECORD))


def test_move_script_moves_links_not_targets(tmp_path: object) -> None:
    import pathlib

    root = pathlib.Path(str(tmp_path))
    target = root / "precious"
    target.write_text("keep")
    link = root / "a.plist"
    link.symlink_to(target)
    (root / "a.plist.previous").write_text("old")
    fdir = root / "fenced"
    argv = move_argv(str(fdir), ((str(link), str(fdir / "a.plist@x")),
                                 (str(root / "missing.plist"), str(fdir / "m"))))
    subprocess.run(argv, check=True)
    assert (fdir / "a.plist@x").is_symlink() and target.read_text() == "keep"
    assert (fdir / "a.plist@x.previous").read_text() == "old"
    assert not link.exists() and oct(fdir.stat().st_mode)[-3:] == "700"


def test_gate_judges_unreachable_fenced_and_stray_hosts() -> None:
    found = [quiet("a", verdict=Verdict.UNREACHABLE), quiet("b", verdict=Verdict.FENCED),
             quiet("c", verdict=Verdict.UNFENCED), quiet("d", verdict=Verdict.UNEXPECTED)]
    res = gate.judge(found)
    assert [f.host for f in res.blocking] == ["a", "d"]
    res = gate.judge(found, acknowledged={"a"}, fencing={"d"})
    assert res.blocking == () and res.acknowledged == ("a",)
    assert "--fenced a" in gate.unreachable_refusal(SVC, found[0])


def test_deploy_plan_shows_unfencing_moving_aside_and_acknowledgements() -> None:
    here = quiet("backup", plists=(AGENTS,), fence=RECORD)
    opts = DeployOptions(acknowledgements=(replace(RECORD, host="tesseract"),))
    steps = plan_deploy(SVC, NEW, OURS, loaded=False, installed=False, opts=opts,
                        hosts_checked=["backup"], here=here)
    text = "\n".join(s.action for s in steps)
    assert "unfence: remove the record (fenced by ann@ci" in text
    assert f"move {AGENTS} aside: launchd would load it into another domain" in text
    assert "tesseract stated fenced by the operator" in text
    assert "'/Users/ops/Library/Application Support/svcctl/LaunchAgents/" in text  # quoted
