"""BSD ps's 28-column lstart (FACTS 5.2) and what reading it wrong did to the verdicts.

Rows are laid out the way apple-oss-distributions/adv_cmds prints them (`bsd_row`), and
real processes of this machine are listed through `bsd_ps.py`, a `ps` that prints the
real process table in that layout. Every expectation here is written out by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from svcctl.errors import ParseError
from svcctl.model import JobState, ProcInfo, ServiceSpec, Verdict
from svcctl.procs import Match, classify_service, match_process, matcher_for, parse_ps, ps_argv
from tests.unit import bsd_ps

TARGET = "user/501/com.example.shiva"


def bsd_row(pid: int, ppid: int, uid: int, user: str, pgid: int, lstart: str,
            command: str) -> str:
    """One row of `ps -axww -o pid=,ppid=,uid=,user=,pgid=,lstart=,command=` on macOS.

    adv_cmds-237 ps/keyword.c: pid, ppid, uid and pgid right-justified in 5 columns,
    user left-justified (padded to the longest name; 8 here), lstart LJUST in 28
    columns; ps.c prints one space between columns, the command last and unpadded.
    """
    return f"{pid:5d} {ppid:5d} {uid:5d} {user:<8} {pgid:5d} {lstart:<28} {command}\n"


def test_bsd_row_is_the_layout_of_the_real_capture() -> None:
    # the same 24-character date, then five spaces, then the command: as captures/ps shows
    row = bsd_row(1, 0, 0, "root", 1, "Wed Aug 26 02:46:32 2026", "/sbin/launchd")
    assert row == "    1     0     0 root         1 Wed Aug 26 02:46:32 2026     /sbin/launchd\n"


def service(program: tuple[str, ...], match: str | None = None) -> ServiceSpec:
    return ServiceSpec(name="shiva", label="com.example.shiva", hosts=("tesseract",),
                       program=program, match=re.compile(match) if match else None)


def job(pid: int | None, state: str | None = None) -> JobState:
    return JobState(label="com.example.shiva", source="print", pid=pid, state=state)


def verdict(svc: ServiceSpec, job_: JobState | None, procs: list[ProcInfo]) -> Verdict:
    return classify_service(svc, "tesseract", TARGET, job_, procs, assigned=True).verdict


# --- the parser ----------------------------------------------------------------------------


def test_bsd_gap_is_not_part_of_the_command() -> None:
    [p] = parse_ps(bsd_row(731, 1, 501, "ops", 731, "Mon Jun 16 14:23:09 2025",
                           "/usr/local/bin/shiva --serve"))
    assert p.command == "/usr/local/bin/shiva --serve"
    assert p.started_raw == "Mon Jun 16 14:23:09 2025"
    assert p.started == datetime(2025, 6, 16, 14, 23, 9)
    assert (p.pid, p.ppid, p.uid, p.user, p.pgid) == (731, 1, 501, "ops", 731)


def test_procps_gap_is_one_space_and_a_commands_own_spaces_stay() -> None:
    text = (
        "    1     0     0 root         1 Mon Jun  2 08:01:12 2025 /sbin/init\n"
        "  731     1   501 ops        731 Mon Jun 16 14:23:09 2025     four spaces first\n"
    )
    init, odd = parse_ps(text)
    assert init.command == "/sbin/init"
    assert odd.command == "    four spaces first"  # procps: only the separator is the gap


def test_bsd_row_without_a_command_does_not_decide_the_layout() -> None:
    # trailing spaces may be trimmed on the way; such a row says nothing about the gap
    text = (bsd_row(7, 1, 0, "root", 7, "Thu Jan  1 00:00:00 1970", "").rstrip() + "\n"
            + bsd_row(8, 1, 0, "root", 8, "Thu Jan  1 00:00:01 1970", "/usr/sbin/cron"))
    quiet, cron = parse_ps(text)
    assert quiet.command == ""
    assert cron.command == "/usr/sbin/cron"


def test_a_row_glued_to_its_date_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_ps("    7     1     0 root         7 Thu Jan  1 00:00:00 1970/sbin/x\n")


# --- what reading the gap as the command's did (issue 9) ----------------------------------


def test_anchored_match_matches_a_bsd_row() -> None:
    svc = service(("/usr/local/bin/shiva", "--serve"), match=r"^/usr/local/bin/shiva --serve$")
    procs = parse_ps(bsd_row(500, 1, 501, "ops", 500, "Tue Jun 17 09:00:00 2025",
                             "/usr/local/bin/shiva --serve"))
    assert match_process(procs[0], matcher_for(svc)) is Match.INSTANCE
    assert verdict(svc, None, procs) is Verdict.STRAY


def test_python_row_with_unreadable_arguments_is_hidden() -> None:
    # ps could not read its arguments (FACTS 5.2 `(comm)`): it may be a copy of the service
    svc = service(("/usr/bin/python3", "/Users/ops/shiva/main.py"))
    hidden = bsd_row(980, 1, 0, "root", 980, "Wed Jun 18 10:00:00 2025", "(Python)")
    procs = parse_ps(hidden)
    assert verdict(svc, None, procs) is Verdict.UNINSPECTABLE  # was `down`
    assert procs[0].args_hidden
    assert match_process(procs[0], matcher_for(svc)) is Match.HIDDEN
    assert verdict(svc, job(None, "not running"), procs) is Verdict.UNINSPECTABLE
    managed = bsd_row(731, 1, 501, "ops", 731, "Mon Jun 16 14:23:09 2025",
                      "/usr/bin/python3 /Users/ops/shiva/main.py")
    assert verdict(svc, job(731, "running"), parse_ps(managed + hidden)) is Verdict.UNINSPECTABLE
    assert verdict(svc, job(731, "running"), parse_ps(managed)) is Verdict.OK


def test_comm_cut_to_sixteen_characters_is_still_hidden() -> None:
    # p_comm holds MAXCOMLEN (16) characters of the executable's name (FACTS 5.2)
    svc = service(("/usr/local/opt/node_exporter/bin/node_exporter_brew_services",))
    procs = parse_ps(bsd_row(981, 1, 0, "root", 981, "Wed Jun 18 10:00:00 2025",
                             "(node_exporter_br)")
                     + bsd_row(982, 1, 0, "root", 982, "Wed Jun 18 10:00:00 2025",
                               "(node_exporter_xx)"))
    m = matcher_for(svc)
    assert [match_process(p, m) for p in procs] == [Match.HIDDEN, Match.NONE]


APP = "/Applications/Some App.app/Contents/MacOS/Some App"


def test_a_program_path_with_a_space_is_an_instance_not_a_decoy() -> None:
    svc = service((APP, "--background"))
    stray = bsd_row(600, 1, 501, "ops", 600, "Tue Jun 17 09:00:00 2025", f"{APP} --background")
    procs = parse_ps(stray)
    assert match_process(procs[0], matcher_for(svc)) is Match.INSTANCE
    assert verdict(svc, None, procs) is Verdict.STRAY
    managed = bsd_row(601, 1, 501, "ops", 601, "Tue Jun 17 09:01:00 2025", f"{APP} --background")
    assert verdict(svc, job(601, "running"), parse_ps(stray + managed)) is Verdict.DUPLICATE


# --- real processes, listed in BSD's layout and in procps' ---------------------------------


@pytest.fixture
def bsd_path(tmp_path: Path) -> str:
    """A PATH whose `ps` is bsd_ps.py over this machine's procps."""
    if shutil.which("ps") is None:
        pytest.fail("procps `ps` is needed under the BSD-layout shim")
    bin_dir = tmp_path / "bsd-bin"
    bin_dir.mkdir()
    bsd_ps.install(bin_dir)
    return f"{bin_dir}:{os.environ['PATH']}"


def probe(path: str | None) -> dict[int, ProcInfo]:
    env = {**os.environ, "PATH": path} if path else None
    out = subprocess.run(ps_argv(), capture_output=True, text=True, check=True, timeout=30,
                         env=env)
    return {p.pid: p for p in parse_ps(out.stdout)}


@pytest.fixture
def app_stray(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real process whose program path has spaces, as a Mac app bundle's has."""
    exe = tmp_path / "Some App.app" / "Contents" / "MacOS" / "Some App"
    exe.parent.mkdir(parents=True)
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.fail("sleep(1) is needed")
    shutil.copy(sleep, exe)
    proc = subprocess.Popen([str(exe), "120"], stdin=subprocess.DEVNULL)
    try:
        yield str(exe), proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def test_real_bsd_layout_reads_like_procps(bsd_path: str,
                                           app_stray: tuple[str, subprocess.Popen[bytes]]) -> None:
    exe, stray = app_stray
    raw = subprocess.run(ps_argv(), capture_output=True, text=True, check=True, timeout=30,
                         env={**os.environ, "PATH": bsd_path}).stdout
    mine = next(line for line in raw.splitlines() if line.lstrip().startswith(f"{stray.pid} "))
    assert f"     {exe} 120" in mine  # the shim does print BSD's five-space gap
    bsd, procps = probe(bsd_path), probe(None)
    for pid in (os.getpid(), stray.pid):
        assert bsd[pid].command == procps[pid].command
        assert bsd[pid].started_raw == procps[pid].started_raw
    assert bsd[stray.pid].command == f"{exe} 120"


@pytest.mark.parametrize("layout", ["bsd", "procps"])
def test_real_stray_with_a_space_in_its_path_is_a_stray(
    layout: str, bsd_path: str, app_stray: tuple[str, subprocess.Popen[bytes]]
) -> None:
    exe, stray = app_stray
    procs = list(probe(bsd_path if layout == "bsd" else None).values())
    f = classify_service(service((exe, "120")), "local", TARGET, None, procs, assigned=True)
    assert f.verdict is Verdict.STRAY, f.detail
    assert [i.proc.pid for i in f.instances] == [stray.pid]
