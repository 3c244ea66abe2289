"""The probe's ps carries the working directory of the rows that need it (issue 10).

`cd ~/shiva && nohup python3 main.py &` shows in ps as `python3 main.py`: only its cwd
says which main.py it runs. A Mac tells a cwd through lsof (FACTS 5.4), and only for the
SSH user's own processes, or to root. The lookup rides in the probe's one remote call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.model import ServiceSpec
from svcctl.procs import cwd_names, parse_probe
from svcctl.procs.ps import parse_lsof_cwd
from svcctl.scripts.probe import probe_argv
from tests.conftest import Hosts
from tests.testbed.jobs import detached

H = "tesseract"


def test_lsof_field_output_is_read_whole_or_not_at_all() -> None:
    text = "p12\nfcwd\nn/Users/ops/shiva\np13\nfcwd\np14\nf3\nn/etc/x\np15\nfcwd\nnrelative\n"
    assert parse_lsof_cwd(text) == {12: "/Users/ops/shiva"}  # 13: no path; 14: not cwd
    assert parse_lsof_cwd("") == {}


def test_names_worth_a_lookup_are_scripts_and_non_interpreter_programs() -> None:
    def svc(*argv: str, runs: tuple[str, ...] | None = None) -> ServiceSpec:
        return ServiceSpec("s", "com.example.s", ("h",), argv, runs=runs)

    assert cwd_names([svc("/usr/bin/python3", "/Users/ops/shiva/main.py", "-u", "v1")]) == [
        "main.py", "v1"]
    assert cwd_names([svc("/Users/ops/bin/shiva", "--flag")]) == ["shiva"]
    assert cwd_names([svc("/usr/bin/env", "X=1", "python3.9", "bot.py")]) == ["bot.py"]
    assert cwd_names([svc("/Users/ops/run.sh", runs=("/usr/bin/python3", "main.py"))]) == [
        "main.py"]
    assert cwd_names([svc("/Users/ops/My App/run me")]) == []  # white space: ps can't tell


@pytest.mark.testbed
def test_the_probe_tells_the_cwd_of_a_relative_copy_to_its_owner(hosts: Hosts) -> None:
    hosts.ssh(H, "mkdir -p /Users/ops/cwdbot && : > /Users/ops/cwdbot/main.py")
    mine = int(hosts.ssh(H, detached("sh -c 'cd /Users/ops/cwdbot && exec sleep 6161'",
                                     expect="sleep 6161")).stdout)
    stray = int(hosts.ssh(H, "cd /Users/ops/cwdbot; " + detached(
        "python3 -c 'import time; time.sleep(300)' main.py",
        expect="python3 -c import time; time.sleep(300) main.py")).stdout)
    roots = int(hosts.ssh(H, "cd /var; " + detached(
        "python3 -c 'import time; time.sleep(300)' main.py",
        expect="python3 -c import time; time.sleep(300) main.py"), user="root").stdout)
    try:
        for user, want in (("ops", {stray: "/Users/ops/cwdbot"}),
                           ("root", {stray: "/Users/ops/cwdbot", roots: "/var"})):
            host = SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config, user=user))
            with host:
                r = host.check(probe_argv(["main.py"]))
            procs = {p.pid: p for p in parse_probe(r.stdout).procs}
            assert {p.pid: p.cwd for p in procs.values() if p.cwd} == want, user
            assert procs[mine].cwd is None  # no word named like the script: not asked
            assert roots in procs  # ops sees the row, `(python3.9)`, without its cwd
    finally:
        hosts.ssh(H, f"kill {mine} {stray}", check=False)
        hosts.ssh(H, f"kill {roots}", user="root", check=False)


def test_without_names_the_probe_is_plain_ps(tmp_path: Path) -> None:
    argv = probe_argv([])
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["sh"]


def test_real_path_pairs_are_read_whole_or_not_at_all() -> None:
    from svcctl.procs.ps import parse_real

    text = "r/a/current/x.py\nR/a/releases/7/x.py\nr/lonely\nr/b\nRrelative\n"
    assert parse_real(text) == {"/a/current/x.py": "/a/releases/7/x.py"}


def test_two_paths_with_one_real_path_name_the_same_file() -> None:
    from svcctl.model import ProcInfo
    from svcctl.procs import Match, match_process, matcher_for

    svc = ServiceSpec("s", "com.example.s", ("h",), ("/usr/bin/python3", "/a/current/x.py"))
    row = ProcInfo(9, 1, 501, "ops", 9, None, "", "/usr/bin/python3 /a/releases/7/x.py")
    assert match_process(row, matcher_for(svc)) is not Match.INSTANCE
    real = {"/a/current/x.py": "/a/releases/7/x.py"}
    assert match_process(row, matcher_for(svc, real)) is Match.INSTANCE
    other = ProcInfo(10, 1, 501, "ops", 10, None, "", "/usr/bin/python3 /a/other/x.py")
    assert match_process(other, matcher_for(svc, real)) is not Match.INSTANCE
