"""ps parsing (real procps output from this machine, a BSD-style sample), matching, verdicts."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from svcctl.errors import ParseError
from svcctl.launchd import build_batch, split_batch
from svcctl.model import JobState, ProcInfo, ServiceSpec, Verdict
from svcctl.procs import (
    Match,
    classify_service,
    detect_respawn,
    is_crashlooping,
    match_process,
    matcher_for,
    parse_ps,
    ps_argv,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "ps"
TARGET = "user/501/com.example.shiva"


def shiva(
    match: str | None = r"shiva/main\.py", program: tuple[str, ...] | None = None
) -> ServiceSpec:
    return ServiceSpec(
        name="shiva",
        label="com.example.shiva",
        hosts=("tesseract",),
        program=program or ("/usr/bin/python3", "/Users/ops/shiva/main.py"),
        match=re.compile(match) if match else None,
    )


def bsd() -> list[ProcInfo]:
    return parse_ps((DATA / "macos_bsd_constructed.txt").read_text())


def by_pid() -> dict[int, ProcInfo]:
    return {p.pid: p for p in bsd()}


# --- ps ----------------------------------------------------------------------------------


def test_ps_argv_shape() -> None:
    assert ps_argv() == [
        "env",
        "LC_ALL=C",
        "TZ=UTC0",
        "ps",
        "-axww",
        "-o",
        "pid=,ppid=,uid=,user=,pgid=,lstart=,command=",
    ]


def test_parse_real_ps_on_this_machine() -> None:
    out = subprocess.run(ps_argv(), capture_output=True, text=True, check=True, timeout=30)
    procs = {p.pid: p for p in parse_ps(out.stdout)}
    me = procs[os.getpid()]
    assert me.ppid == os.getppid()
    assert me.uid == os.getuid()
    assert "pytest" in me.command or "python" in me.command
    assert me.started is not None
    assert abs((datetime.now() - me.started).total_seconds()) < 24 * 3600
    assert len(me.started_raw) == 24
    assert procs[1].ppid == 0


def test_parse_bsd_sample() -> None:
    procs = by_pid()
    assert len(procs) == 16
    launchd = procs[1]
    assert (launchd.user, launchd.uid, launchd.pgid, launchd.command) == (
        "root",
        0,
        1,
        "/sbin/launchd",
    )
    assert launchd.started == datetime(2025, 6, 2, 8, 1, 12)  # space-padded day
    assert launchd.started_raw == "Mon Jun  2 08:01:12 2025"
    assert procs[412].user == "_windowserver"
    assert procs[980].user == "1002" and procs[980].args_hidden
    assert procs[990].command == "<defunct>" and not procs[990].args_hidden
    assert procs[731].command.endswith("/MacOS/Python /Users/ops/shiva/main.py --mode paper")


@pytest.mark.parametrize(
    "bad",
    [
        "hello",
        "  12  1  0 root 12 Mon Jun 16 14:23:09\n",
        "x 1 0 root 1 Mon Jun 16 14:23:09 2025 cmd",
    ],
)
def test_parse_ps_garbage(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_ps(bad)


def test_parse_ps_empty_command_and_blank_lines() -> None:
    [p] = parse_ps("\n   7     1     0 root     7 Thu Jan  1 00:00:00 1970\n\n")
    assert p.command == "" and p.started == datetime(1970, 1, 1)


# --- matching ----------------------------------------------------------------------------


EXPECTED = {
    1: Match.NONE,
    412: Match.NONE,
    731: Match.INSTANCE,
    733: Match.INSTANCE,
    902: Match.INSTANCE,
    950: Match.DECOY,
    951: Match.DECOY,
    952: Match.DECOY,
    953: Match.DECOY,
    954: Match.DECOY,
    960: Match.DECOY,
    961: Match.DECOY,
    970: Match.DECOY,
    971: Match.NONE,
    980: Match.HIDDEN,
    990: Match.NONE,
}


def test_decoys_never_count() -> None:
    m = matcher_for(shiva())
    assert {pid: match_process(p, m) for pid, p in by_pid().items()} == EXPECTED


def test_without_match_the_identity_alone_decides() -> None:
    # issue 10: no derived regex; what runs decides, so the same rows are instances
    m = matcher_for(shiva(match=None))
    assert m.pattern is None
    assert {pid: match_process(p, m) for pid, p in by_pid().items()} == EXPECTED


def proc(command: str, pid: int = 100, ppid: int = 1) -> ProcInfo:
    return ProcInfo(pid, ppid, 501, "ops", pid, None, "", command)


@pytest.mark.parametrize(
    ("program", "command", "expected"),
    [
        # a shebang script runs as interpreter + script
        (("/Users/ops/bin/shiva",), "/usr/bin/python3 /Users/ops/bin/shiva --x", Match.INSTANCE),
        (("/Users/ops/bin/shiva",), "/Users/ops/bin/shiva --x", Match.INSTANCE),
        (("/Users/ops/bin/shiva",), "less /Users/ops/bin/shiva", Match.DECOY),
        (("/Users/ops/bin/shiva",), "bash -c /Users/ops/bin/shiva", Match.DECOY),
        # python options that take values are skipped when finding the script
        (
            ("/usr/bin/python3", "/x/shiva/main.py"),
            "python3.11 -W ignore /x/shiva/main.py",
            Match.INSTANCE,
        ),
        (("/usr/bin/python3", "/x/shiva/main.py"), "python3 -c 'x' /x/shiva/main.py", Match.DECOY),
        (("/usr/bin/python3", "/x/shiva/main.py"), "python3 -uc 'x' /x/shiva/main.py", Match.DECOY),
        (("/usr/bin/python3", "-m", "shiva.app"), "Python -m shiva.app", Match.INSTANCE),
        (("/usr/bin/python3", "-m", "shiva.app"), "Python -m other -m shiva.app", Match.DECOY),
        # a binary: argv[0] must be the binary, even when its path has spaces
        (
            ("/Applications/My App.app/Contents/MacOS/shiva",),
            "/Applications/My App.app/Contents/MacOS/shiva --serve",
            Match.INSTANCE,
        ),
        (("/usr/local/bin/shiva",), "/usr/local/bin/shiva", Match.INSTANCE),
        (("/usr/local/bin/shiva",), "sudo /usr/local/bin/shiva", Match.DECOY),
        (("/usr/local/bin/shiva",), "ssh host /usr/local/bin/shiva", Match.DECOY),
        (("/usr/local/bin/shiva",), "(shiva)", Match.HIDDEN),
        (("/usr/local/bin/shiva",), "[kworker/0:1]", Match.NONE),
        # a service that is itself inline code
        (("/bin/sh", "-c", "exec /x/loop"), "/bin/sh -c exec /x/loop", Match.INSTANCE),
        (("/bin/sh", "-c", "exec /x/loop"), "/bin/sh /x/other exec /x/loop", Match.DECOY),
    ],
)
def test_instance_rule(program: tuple[str, ...], command: str, expected: Match) -> None:
    service = shiva(match=None, program=program)
    assert match_process(proc(command), matcher_for(service)) is expected


# --- classification ------------------------------------------------------------------------


def job(pid: int | None, **kw: object) -> JobState:
    return JobState(label="com.example.shiva", source="print", pid=pid, **kw)  # type: ignore[arg-type]


def without(pids: set[int]) -> list[ProcInfo]:
    return [p for p in bsd() if p.pid not in pids]


def test_duplicate_launchd_instance_plus_stray() -> None:
    f = classify_service(shiva(), "tesseract", TARGET, job(731), bsd(), assigned=True)
    assert f.verdict is Verdict.DUPLICATE
    [managed, stray] = f.instances
    assert (managed.proc.pid, managed.managed, managed.owner, managed.children) == (
        731,
        True,
        TARGET,
        (733,),
    )
    assert (stray.proc.pid, stray.managed, stray.owner) == (902, False, None)
    assert [s.proc.pid for s in f.strays] == [902]
    assert [h.pid for h in f.hidden] == [980]
    assert "pid 902" in f.detail


def test_ok_only_when_the_view_is_complete() -> None:
    procs = without({902})
    f = classify_service(shiva(), "tesseract", TARGET, job(731), procs, assigned=True)
    assert f.verdict is Verdict.UNINSPECTABLE  # (Python) of uid 1002 might be a copy
    f = classify_service(shiva(), "tesseract", TARGET, job(731), without({902, 980}), assigned=True)
    assert f.verdict is Verdict.OK
    assert f.strays == ()


def test_stray_when_launchd_has_no_process() -> None:
    procs = without({731, 733, 980})
    f = classify_service(
        shiva(), "tesseract", TARGET, job(None, state="not running"), procs, assigned=True
    )
    assert f.verdict is Verdict.STRAY
    f = classify_service(shiva(), "tesseract", TARGET, None, procs, assigned=True)
    assert f.verdict is Verdict.STRAY


def test_ppid_one_is_not_proof_of_management() -> None:
    # 902 has ppid 1 like launchd's own jobs (FACTS 5.1); launchd says 731
    f = classify_service(shiva(), "h", TARGET, job(731), without({980}), assigned=True)
    assert {i.proc.pid: i.managed for i in f.instances} == {731: True, 902: False}


def test_down_crashloop_blocked() -> None:
    none = without({731, 733, 902, 980})
    assert classify_service(shiva(), "h", TARGET, None, none, assigned=True).verdict is Verdict.DOWN
    loop = job(None, state="spawn scheduled", runs=311, last_exit_code=1, last_exit_raw="1")
    assert (
        classify_service(shiva(), "h", TARGET, loop, none, assigned=True).verdict
        is Verdict.CRASHLOOP
    )
    idle = job(None, state="not running", runs=1, last_exit_code=0)
    assert classify_service(shiva(), "h", TARGET, idle, none, assigned=True).verdict is Verdict.DOWN
    refused = job(None, state="spawn scheduled", last_exit_code=75, last_exit_raw="75: EX_TEMPFAIL")
    f = classify_service(shiva(), "h", TARGET, refused, without({731, 733, 980}), assigned=True)
    assert f.verdict is Verdict.BLOCKED
    assert "pid 902" in f.detail


def test_unexpected_on_unassigned_host() -> None:
    f = classify_service(shiva(), "backup", TARGET, None, without({731, 733, 980}), assigned=False)
    assert f.verdict is Verdict.UNEXPECTED
    f = classify_service(
        shiva(), "backup", TARGET, job(None), without({731, 733, 902, 980}), assigned=False
    )
    assert f.verdict is Verdict.UNEXPECTED  # loaded, even if not running
    f = classify_service(
        shiva(), "backup", TARGET, None, without({731, 733, 902, 980}), assigned=False
    )
    assert f.verdict is Verdict.OK


def test_same_label_in_another_domain_is_not_ours() -> None:
    gui = {"gui/501/com.example.shiva": job(902)}
    f = classify_service(
        shiva(), "h", TARGET, job(731), without({980}), assigned=True, foreign_jobs=gui
    )
    assert f.verdict is Verdict.DUPLICATE
    assert {i.proc.pid: i.owner for i in f.instances} == {
        731: TARGET,
        902: "gui/501/com.example.shiva",
    }


def test_crashloop_and_respawn_signals() -> None:
    assert is_crashlooping(JobState("a", "list", pid=None, on_demand=False, last_exit_code=1))
    assert not is_crashlooping(JobState("a", "list", pid=None, on_demand=True, last_exit_code=1))
    assert not is_crashlooping(job(5, state="running", runs=9))
    assert detect_respawn(job(5, runs=1), job(6, runs=2))
    assert detect_respawn(job(None, runs=1), job(None, runs=3))
    assert not detect_respawn(job(5, runs=1), job(5, runs=1))


# --- real processes on this machine ----------------------------------------------------------


MAIN = """import subprocess, sys, time
if "--worker" not in sys.argv:
    subprocess.Popen([sys.executable, __file__, "--worker"])
time.sleep(120)
"""


def test_real_processes_real_probe(tmp_path: Path) -> None:
    script = tmp_path / "shiva" / "main.py"
    script.parent.mkdir()
    script.write_text(MAIN)
    log = tmp_path / "shiva" / "main.py.log"
    log.write_text("")
    py = sys.executable
    spawned: list[subprocess.Popen[bytes]] = []

    def spawn(*argv: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        spawned.append(p)
        return p

    try:
        managed = spawn(py, str(script))  # stands in for launchd's instance
        stray = spawn(py, str(script))
        decoys = [
            spawn("tail", "-f", str(log)),
            spawn("sh", "-c", f"sleep 120; : {script}"),  # no exec: sh stays, like an SSH shell
            spawn(py, "-c", "import time; time.sleep(120)", str(script)),
            spawn("grep", "shiva/main.py"),
            spawn("cat", "-", str(script)),
        ]
        # the probe batch itself holds the pattern on its command line
        batch = build_batch([["true", "shiva/main.py"], ps_argv()])
        deadline = time.monotonic() + 10
        while True:  # until both copies have started their --worker child
            out = subprocess.run(batch.argv, capture_output=True, text=True, check=True, timeout=30)
            _, ps = split_batch(batch, out.stdout)
            assert ps.rc == 0
            procs = parse_ps(ps.stdout)
            workers = [p for p in procs if p.command.endswith("main.py --worker")]
            if len(workers) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        service = shiva(program=(py, str(script)))
        f = classify_service(service, "local", TARGET, job(managed.pid), procs, assigned=True)
        assert f.verdict is Verdict.DUPLICATE
        got = {i.proc.pid: (i.managed, len(i.children)) for i in f.instances}
        assert got == {managed.pid: (True, 1), stray.pid: (False, 1)}
        decoy_pids = {d.pid for d in decoys}
        assert not decoy_pids & {i.proc.pid for i in f.instances}
        seen = {p.pid: match_process(p, matcher_for(service)) for p in procs}
        assert {seen[pid] for pid in decoy_pids} == {Match.DECOY}
    finally:
        for p in spawned:  # each in its own session: the group holds the --worker child too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
