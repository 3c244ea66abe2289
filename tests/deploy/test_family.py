"""What goes with a stray when adopt signals it: `family_of`, pure, over ps rows."""

from __future__ import annotations

from datetime import datetime

from svcctl.model import ProcInfo
from svcctl.ops.kill import family_of

SCRIPT = "/usr/bin/python3 /Users/ops/shiva/main.py"
SPAWN = "/usr/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)"


def row(pid: int, ppid: int, pgid: int, cmd: str = SPAWN, started: str = "Thu Jan  1 00:00:00 2026",
        ) -> ProcInfo:
    return ProcInfo(pid, ppid, 501, "ops", pgid, datetime(2026, 1, 1), started, cmd)


LAUNCHD = row(1, 0, 1, "/sbin/launchd")
STRAY = row(100, 1, 100, SCRIPT)


def pids(stray: ProcInfo, procs: list[ProcInfo], protected: frozenset[int] = frozenset()
         ) -> list[int]:
    return [p.pid for p in family_of(stray, procs, protected)]


def test_descendants_and_the_strays_own_group_go_with_it() -> None:
    procs = [LAUNCHD, STRAY, row(101, 100, 100), row(102, 101, 100), row(103, 1, 100, "sleep 9"),
             row(104, 1, 104, "other"), row(105, 101, 105, "setsid child")]
    assert pids(STRAY, procs) == [101, 102, 103, 105]


def test_a_group_led_by_a_live_ancestor_stays_only_the_tree_goes() -> None:
    # started from a shell (or another job) that leads the group: its siblings stay
    shell = row(50, 1, 50, "-zsh")
    stray = row(100, 50, 50, SCRIPT)
    procs = [LAUNCHD, shell, stray, row(101, 100, 50), row(60, 50, 50, "vim notes")]
    assert pids(stray, procs) == [101]


def test_a_group_whose_leader_is_gone_goes_with_it_but_never_an_ancestor() -> None:
    wrapper = row(60, 1, 50, "sh -c python3 main.py")  # a wrapper left in the dead leader's group
    stray = row(100, 60, 50, SCRIPT)
    procs = [LAUNCHD, wrapper, stray, row(70, 1, 50, "sleep 9")]
    assert pids(stray, procs) == [70]


def test_never_pid_1_nor_launchds_instance_nor_its_descendants() -> None:
    managed = row(200, 1, 100, SCRIPT)  # launchd's, even if it shared the group
    procs = [row(1, 0, 100, "/sbin/launchd"), STRAY, managed, row(201, 200, 100),
             row(101, 100, 100)]
    assert pids(STRAY, procs, frozenset({200})) == [101]


def test_a_reused_pid_has_no_family() -> None:
    reused = row(100, 1, 100, SCRIPT, started="Fri Jan  2 00:00:00 2026")
    assert pids(STRAY, [LAUNCHD, reused, row(101, 100, 100)]) == []
    assert pids(STRAY, [LAUNCHD, row(101, 100, 100)]) == []
