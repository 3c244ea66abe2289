"""The ps/pgrep shim: BSD ps behaviour (FACTS 5.2, 5.3) over the emulator's process table.

Two halves: the pure formatting and selection functions fed with rows, checked against
real macOS output and Apple's sources; and the real shim, installed the way provision.py
installs launchctl, talking to a real emulator about real processes in its namespace.
"""

from __future__ import annotations

import calendar
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from launchd_harness import OPS_GID, OPS_UID, PACKAGE, PYTHON, Emulator

from svcctl_testbed.emulator import ps
from svcctl_testbed.emulator.proctable import Proc, proc_root, visible_rows
from tests.wait import wait_until


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """lstart is local time; pin it the way svcctl does (`env LC_ALL=C TZ=UTC0`)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC0"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def epoch(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%a %b %d %H:%M:%S %Y")))


def row(pid: int, argv: list[str] | None, *, ppid: int = 1, uid: int = 0, comm: str = "",
        start: str = "Wed Aug 26 02:46:35 2026", state: str = "S", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pid": pid, "ppid": ppid, "pgid": pid, "sid": pid, "uid": uid, "ruid": uid, "rgid": 0,
        "tdev": -1, "tty": None, "tpgid": -1, "state": state, "start": epoch(start),
        "comm": comm or (os.path.basename(argv[0]) if argv else "x"), "nice": 0,
        "priority": 20, "sigignore": 0, "sigcatch": 0, "cpu": 0.0, "vsz": 0, "rss": 0,
        "argv": argv, "env": [],
    }
    base.update(extra)
    return base


def table(*rows: dict[str, Any], now: str = "Wed Aug 26 03:00:00 2026") -> dict[str, Any]:
    return {"rc": 0, "now": epoch(now), "mem_kb": 0, "users": {"0": "root", "501": "ops"},
            "rows": list(rows)}


def run_ps(args: list[str], tbl: dict[str, Any], uid: int = 0) -> tuple[int, str, str]:
    return ps.run_ps(args, tbl, uid, stdout_tty=False, termwidth=79, utf8=False)


# ---- pure: layout ----------------------------------------------------------------------------
def test_a_real_macos_capture_is_reproduced_byte_for_byte() -> None:
    # ../shared/launchd/captures/ps/macos26_5_2_ps_eo_pid_ppid_lstart_comm.txt (macOS 26.5.2):
    # the 24-character date left-justified in 28 columns, then the separator: five spaces
    expected = (
        "  PID  PPID STARTED                      COMM\n"
        "    1     0 Wed Aug 26 02:46:32 2026     /sbin/launchd\n"
        "   86     1 Wed Aug 26 02:46:35 2026     /usr/libexec/logd\n"
        "   87     1 Wed Aug 26 02:46:35 2026     /usr/libexec/smd\n"
    )
    tbl = table(
        row(1, ["/sbin/launchd"], ppid=0, start="Wed Aug 26 02:46:32 2026"),
        row(86, ["/usr/libexec/logd"]),
        row(87, ["/usr/libexec/smd"]),
    )
    assert run_ps(["-eo", "pid,ppid,lstart,comm"], tbl) == (0, expected, "")


def test_empty_headers_suppress_the_header_and_lstart_pads_even_when_last() -> None:
    tbl = table(row(5, ["/usr/bin/python3", "/Users/ops/a b/main.py"]))
    rc, out, _ = run_ps(["-axo", "pid=,lstart=,command="], tbl)
    assert (rc, out) == (
        0, "    5 Wed Aug 26 02:46:35 2026     /usr/bin/python3 /Users/ops/a b/main.py\n")
    # print.c lstarted() prints `%-*s` whatever the position: trailing padding remains
    assert run_ps(["-o", "lstart=", "-p", "5"], tbl)[1] == "Wed Aug 26 02:46:35 2026    \n"


def test_one_named_header_brings_the_header_line_back() -> None:
    tbl = table(row(5, ["sleep", "9"]))
    out = run_ps(["-o", "pid=,command=CMD", "-p", "5"], tbl)[1]
    assert out == "      CMD\n    5 sleep 9\n"


def test_header_and_value_justification_follow_keyword_c() -> None:
    tbl = table(row(42, ["/bin/sleep", "300"], uid=501, ppid=7))
    out = run_ps(["-o", "pid,user,stat,tt,etime,command", "-p", "42"], tbl)[1]
    # user: LJUST, sized to the longest name; state: right-justified header, left value;
    # tt: `??` right in 4 and a flag character; etime: sized to its values
    assert out == ("  PID USER STAT   TT  ELAPSED COMMAND\n"
                   "   42 ops  Ss     ??    13:25 /bin/sleep 300\n")


def test_a_column_that_is_not_last_is_cut_to_its_width() -> None:
    tbl = table(row(3, ["/usr/local/bin/something-long", "--flag"]))
    out = run_ps(["-o", "command,pid", "-p", "3"], tbl)[1]
    assert out == "COMMAND            PID\n/usr/local/bin/s     3\n"


def test_unreadable_arguments_show_comm_in_parentheses_and_zombies_defunct() -> None:
    tbl = table(row(8, None, comm="Python"), row(9, ["x"], state="Z"))
    out = run_ps(["-axo", "pid=,command=,comm="], tbl)[1]
    assert out == "    8 (Python)  (Python)\n    9 <defunct> <defunct>\n"  # width 9


def test_strvis_escapes_newline_and_tab_in_octal_and_controls_in_caret_form() -> None:
    assert ps.vis("a\nb\tc") == "a\\012b\\011c"
    assert ps.vis("x\x01y\x7f\\z") == "x^Ay^?\\z"  # VIS_NOSLASH: no backslash, `\` kept
    assert ps.vis("caf\udce9") == "cafM-i"  # C locale: byte 0xe9
    assert ps.vis("\udca0") == "\\240"
    assert ps.vis("café", utf8=True) == "café"
    tbl = table(row(4, ["python3", "-c", "pass", "a\nb"]))
    assert run_ps(["-o", "command=", "-p", "4"], tbl)[1] == "python3 -c pass a\\012b\n"


def test_cflag_shows_the_executable_name_only() -> None:
    tbl = table(row(4, ["/usr/bin/python3", "/Users/ops/svc/main.py"]))
    assert run_ps(["-c", "-o", "command=", "-p", "4"], tbl)[1] == "python3\n"


def test_state_letters_and_flags() -> None:
    assert ps.state(row(5, ["x"], state="R")) == "Rs"
    assert ps.state(row(5, ["x"], state="D", sid=1, nice=5)) == "UN"
    assert ps.state(row(5, ["x"], state="t", sid=1, nice=-2)) == "T<"
    assert ps.state(row(5, ["x"], state="S", tdev=34816, tpgid=5)) == "Ss+"


def test_etime_formats() -> None:
    assert ps.etime(0, 59) == "00:59"
    assert ps.etime(0, 3 * 3600 + 5) == "03:00:05"
    assert ps.etime(0, 2 * 86400 + 61) == "02-00:01:01"
    assert ps.etime(0, 101 * 86400) == "101-00:00:00"


# ---- pure: options -----------------------------------------------------------------------------
def test_procps_cmd_is_refused_like_bsd_ps() -> None:
    rc, out, err = run_ps(["-o", "cmd"], table(row(1, ["x"])))
    assert rc == 1 and out == ""
    assert err.startswith("ps: cmd: keyword not found\nps: no valid keywords; valid keywords:\n")
    # with a valid keyword beside it, ps prints and still exits 1 (eval)
    rc, out, err = run_ps(["-o", "pid=,cmd=", "-p", "1"], table(row(1, ["x"])))
    assert (rc, out, err) == (1, "    1\n", "ps: cmd: keyword not found\n")


def test_sigignore_is_not_a_macos_keyword() -> None:
    # adv_cmds keyword.c keeps sigcatch/sigignore under `#if FIXME`: not built on macOS
    rc, _, err = run_ps(["-o", "sigignore=", "-p", "1"], table(row(1, ["x"])))
    assert rc == 1 and err.startswith("ps: sigignore: keyword not found\n")


def test_pid_miss_prints_the_header_and_exits_1() -> None:
    assert run_ps(["-p", "4242"], table(row(1, ["x"]))) == (1, "  PID TTY           TIME CMD\n",
                                                           "")
    assert run_ps(["-o", "pid=", "-p", "4242"], table(row(1, ["x"]))) == (1, "", "")


def test_pid_lists_split_on_commas_and_blanks() -> None:
    tbl = table(row(1, ["a"]), row(2, ["b"]), row(3, ["c"]))
    assert run_ps(["-o", "pid=", "-p", "1 3", "-p2"], tbl) == (0, "    1\n    2\n    3\n", "")
    rc, _, err = run_ps(["-o", "pid=", "-p", "1,,2"], tbl)
    assert (rc, err) == (1, "ps: Invalid (zero-length) process id\n")
    rc, _, err = run_ps(["-o", "pid=", "-p", "x"], tbl)
    assert (rc, err) == (1, "ps: Invalid process id: x\n")


def test_sess_is_zero_as_on_a_modern_mac() -> None:
    # xnu fill_user64_eproc no longer fills e_sess (a kernel pointer): every row shows 0
    assert run_ps(["-o", "pid=,sess=,pgid=", "-p", "7"], table(row(7, ["a"])))[1] == \
        "    7      0     7\n"


def test_unknown_option_prints_bsd_usage() -> None:
    rc, out, err = run_ps(["--version"], table())
    assert rc == 1 and out == ""
    assert err.startswith("ps: illegal option -- -\nusage: ps [-AaCcEefhjlMmrSTvwXx]")


def test_dashless_first_argument_is_bsd_mode() -> None:
    assert ps.kludge_oldps_options(ps.PS_ARGS_U03, "aux", None) == ("-aux", False)
    assert ps.kludge_oldps_options(ps.PS_ARGS_U03, "eww", "-p") == ("-eww", False)
    assert ps.kludge_oldps_options(ps.PS_ARGS_U03, "-axo", "pid") == ("-axo", True)
    assert ps.kludge_oldps_options(ps.PS_ARGS_U03, "34", None) == ("-p34", False)
    # `e` in BSD mode is -E: the environment is appended to the command
    tbl = table(row(6, ["sleep", "9"], env=["XPC_SERVICE_NAME=com.x", "A=1"]))
    assert run_ps(["eww", "-o", "command=", "-p", "6"], tbl)[1] == \
        "sleep 9 XPC_SERVICE_NAME=com.x A=1\n"
    # while `-e` (UNIX2003 mode) means every process
    assert run_ps(["-e", "-o", "command="], tbl)[1] == "sleep 9\n"


def test_selection_without_options_is_own_processes_with_a_tty() -> None:
    tbl = table(row(2, ["a"], uid=501), row(3, ["b"], uid=501, tdev=34816, tty="ttys000"),
                row(4, ["c"], uid=0, tdev=34816, tty="ttys000"))
    assert run_ps(["-o", "pid="], tbl, uid=501)[1] == "    3\n"
    assert run_ps(["-xo", "pid="], tbl, uid=501)[1] == "    2\n    3\n"
    assert run_ps(["-U", "ops", "-o", "pid="], tbl)[1] == "    2\n    3\n"


def test_visibility_rule_withholds_other_uids_arguments() -> None:
    def proc(pid: int, uid: int) -> Proc:
        return Proc(pid=pid, ppid=1, pgid=pid, sid=pid, uid=uid, ruid=uid, rgid=0, tdev=-1,
                    tty=None, tpgid=-1, state="S", start=0.0, argv=("prog", "--secret"),
                    env=("K=V",), comm="prog", nice=0, priority=20, sigignore=0, sigcatch=0,
                    cpu_seconds=0.0, vsz_kb=0, rss_kb=0)

    rows = visible_rows([proc(2, 0), proc(3, 501)], 501, 3, ["/usr/bin/ps", "-ax"])
    assert rows[0]["argv"] is None and rows[0]["env"] is None
    assert rows[1]["argv"] == ["/usr/bin/ps", "-ax"] and rows[1]["comm"] == "ps"
    assert visible_rows([proc(2, 501)], 0, 9, None)[0]["argv"] == ["prog", "--secret"]


# ---- pure: pgrep -------------------------------------------------------------------------------
def _chain() -> dict[str, Any]:
    return table(
        row(1, ["/sbin/launchd"], ppid=0),
        row(10, ["sshd: ops"], ppid=1),
        row(11, ["sh", "-c", "pgrep -f worker.py"], ppid=10),
        row(12, ["/usr/bin/pgrep", "-f", "worker.py"], ppid=11),
        row(20, ["/usr/bin/python3", "/Users/ops/worker.py"], ppid=1,
            start="Wed Aug 26 02:50:00 2026"),
        row(21, ["/usr/bin/python3", "/Users/ops/worker.py"], ppid=1,
            start="Wed Aug 26 02:55:00 2026"),
    )


def test_pgrep_excludes_itself_and_its_ancestors_unless_a() -> None:
    assert ps.run_pgrep(["-f", "worker.py"], _chain(), 12, 11, 12) == (0, "20\n21\n", "")
    assert ps.run_pgrep(["-af", "worker.py"], _chain(), 12, 11, 12) == (0, "11\n20\n21\n", "")


def test_pgrep_long_newest_oldest_delim_and_exits() -> None:
    chain = _chain()
    assert ps.run_pgrep(["-lf", "worker"], chain, 12, 11, 12)[1] == (
        "20 /usr/bin/python3 /Users/ops/worker.py\n21 /usr/bin/python3 /Users/ops/worker.py\n")
    assert ps.run_pgrep(["-l", "python"], chain, 12, 11, 12)[1] == "20 python3\n21 python3\n"
    assert ps.run_pgrep(["-nf", "worker"], chain, 12, 11, 12)[1] == "21\n"
    assert ps.run_pgrep(["-of", "worker"], chain, 12, 11, 12)[1] == "20\n"
    assert ps.run_pgrep(["-d,", "-f", "worker"], chain, 12, 11, 12)[1] == "20,21\n"
    assert ps.run_pgrep(["-x", "python"], chain, 12, 11, 12)[0] == 1
    assert ps.run_pgrep(["-x", "python3"], chain, 12, 11, 12)[0] == 0
    assert ps.run_pgrep(["-i", "PYTHON3"], chain, 12, 11, 12)[0] == 0
    assert ps.run_pgrep(["nomatch"], chain, 12, 11, 12) == (1, "", "")
    for bad in (["-c", "x"], ["--full", "x"], []):
        rc, out, err = ps.run_pgrep(bad, chain, 12, 11, 12)
        assert rc == 2 and out == "" and "usage: pgrep" in err, bad


# ---- the real shim against a real emulator ----------------------------------------------------
@pytest.fixture
def shim(emu: Emulator) -> Path:
    """ps and pgrep installed as provision.py installs launchctl: shebang + the text,
    in a directory uid 501 can read."""
    text = (PACKAGE / "ps.py").read_text().split("\n", 1)[1]
    bindir = emu.base / "usr-bin"
    bindir.mkdir(mode=0o755)
    for name in ("ps", "pgrep"):
        path = bindir / name
        path.write_text(f"#!{PYTHON} -ESs\n{text}")
        path.chmod(0o755)
    return bindir


def _env(emu: Emulator, shim: Path) -> dict[str, str]:
    return {"PATH": f"{shim}:/usr/bin:/bin", "SVCCTL_LAUNCHD_SOCKET": str(emu.socket_path),
            "LC_ALL": "C", "TZ": "UTC0"}


def in_ns(emu: Emulator, shim: Path, argv: list[str],
          uid: int = 0) -> subprocess.CompletedProcess[str]:
    """Run argv inside the host's PID namespace (as uid), so the peer pid is a real one."""
    ids = [] if uid == 0 else ["setpriv", f"--reuid={uid}", f"--regid={OPS_GID}",
                               "--clear-groups", "--"]
    return subprocess.run(["nsenter", "-t", str(emu.pid1), "-p", "--", *ids, *argv],
                          env=_env(emu, shim), capture_output=True, text=True, timeout=30,
                          cwd="/")


def start_in_ns(emu: Emulator, argv: list[str], uid: int = 0) -> int:
    """Start a long-lived process inside the namespace; return its pid there."""
    ids = [] if uid == 0 else ["setpriv", f"--reuid={uid}", f"--regid={OPS_GID}",
                               "--clear-groups", "--"]
    subprocess.Popen(["nsenter", "-t", str(emu.pid1), "-p", "--", *ids, *argv],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, cwd="/")
    want = ("\0".join(argv) + "\0").encode()

    def find() -> int | None:
        for ns_pid, host_pid in emu.ns_pids().items():
            try:
                if Path(f"/proc/{host_pid}/cmdline").read_bytes() == want:
                    return ns_pid
            except OSError:
                continue
        return None

    return wait_until(find)


SLEEPER = [PYTHON, "-c", "import time; time.sleep(300)"]
LSTART = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"


def test_real_row_layout_byte_for_byte(emu: Emulator, shim: Path) -> None:
    pid = start_in_ns(emu, [*SLEEPER, "layout"])
    res = in_ns(emu, shim, ["ps", "-o", "pid=,lstart=,command=", "-p", str(pid)])
    assert res.returncode == 0, res
    m = re.fullmatch(rf"( *\d+) ({LSTART})(     )(.*)\n", res.stdout)
    assert m, res.stdout
    assert m.group(1) == f"{pid:5d}" and m.group(4) == " ".join([*SLEEPER, "layout"])
    # the date is the process's real start, as the kernel counts it
    host = emu.host_pid(pid)
    fields = Path(f"/proc/{host}/stat").read_text().rsplit(")", 1)[1].split()
    btime = next(int(ln.split()[1]) for ln in Path("/proc/stat").read_text().splitlines()
                 if ln.startswith("btime "))
    started = btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    assert m.group(2) == time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(int(started)))


def test_real_header_rules_and_pid_1(emu: Emulator, shim: Path) -> None:
    res = in_ns(emu, shim, ["ps", "-o", "pid,comm", "-p", "1"])
    assert (res.returncode, res.stdout) == (0, "  PID COMM\n    1 /sbin/launchd\n")
    res = in_ns(emu, shim, ["ps", "-o", "pid=,ucomm=", "-p", "1"])
    assert res.stdout == "    1 launchd         \n"


def test_real_other_uids_arguments_are_hidden_from_501(emu: Emulator, shim: Path) -> None:
    roots = start_in_ns(emu, [*SLEEPER, "root-secret"])
    mine = start_in_ns(emu, [*SLEEPER, "ops-own"], uid=OPS_UID)
    res = in_ns(emu, shim, ["ps", "-axo", "pid=,uid=,command="], uid=OPS_UID)
    assert res.returncode == 0, res
    lines = {int(ln.split()[0]): ln for ln in res.stdout.splitlines()}
    comm = os.path.basename(os.path.realpath(PYTHON))[:16]
    assert lines[roots] == f"{roots:5d}     0 ({comm})"
    assert lines[mine].endswith(" ".join([*SLEEPER, "ops-own"]))
    assert "root-secret" not in res.stdout
    # the caller's own row: ps as it was run, not the interpreter behind the shim
    own = [ln for ln in res.stdout.splitlines() if f"{shim}/ps -axo" in ln]
    assert len(own) == 1 and own[0].endswith(f"{shim}/ps -axo pid=,uid=,command="), res.stdout
    # root sees everything
    res = in_ns(emu, shim, ["ps", "-o", "command=", "-p", str(roots)])
    assert res.stdout == " ".join([*SLEEPER, "root-secret"]) + "\n"


def test_real_newline_argument_is_escaped(emu: Emulator, shim: Path) -> None:
    pid = start_in_ns(emu, [*SLEEPER, "two\nlines\there"])
    res = in_ns(emu, shim, ["ps", "-o", "args=", "-p", str(pid)])
    assert res.stdout == " ".join([*SLEEPER, "two\\012lines\\011here"]) + "\n"


def test_real_pid_miss_and_refused_keyword(emu: Emulator, shim: Path) -> None:
    res = in_ns(emu, shim, ["ps", "-o", "pid=", "-p", "4242"])
    assert (res.returncode, res.stdout, res.stderr) == (1, "", "")
    res = in_ns(emu, shim, ["ps", "-o", "cmd", "-p", "1"])
    assert res.returncode == 1 and res.stderr.startswith("ps: cmd: keyword not found\n")
    res = in_ns(emu, shim, ["ps", "--help"])
    assert res.returncode == 1 and "usage: ps" in res.stderr


def test_real_pgrep_excludes_its_ancestors(emu: Emulator, shim: Path) -> None:
    target = start_in_ns(emu, [*SLEEPER, "pgrep-target"])
    script = "pgrep -f pgrep-target; echo rc=$?; pgrep -af pgrep-target; echo rc=$?; echo sh=$$"
    res = in_ns(emu, shim, ["/bin/sh", "-c", script])
    out = res.stdout.split("\n")
    sh = int(out[-2].removeprefix("sh="))
    assert out[:2] == [str(target), "rc=0"], res
    # -a: the calling shell, whose own command line holds the pattern, is included
    assert sorted(int(x) for x in out[2:-3]) == sorted([target, sh]), res
    assert out[-3] == "rc=0"
    res = in_ns(emu, shim, ["pgrep", "-f", "no-such-thing-anywhere"])
    assert (res.returncode, res.stdout) == (1, "")


def test_real_zombie_is_defunct(emu: Emulator, shim: Path) -> None:
    parent = start_in_ns(emu, [PYTHON, "-c",
                               "import os, time; os.fork() or os._exit(0); time.sleep(300)"])

    def zombie() -> str | None:
        out = in_ns(emu, shim, ["ps", "-axo", "ppid=,stat=,command="]).stdout
        return next((ln for ln in out.splitlines() if ln.split()[0] == str(parent)), None)

    assert wait_until(zombie) == f"{parent:5d} Z    <defunct>"


def test_proc_root_prefers_the_testbeds_private_procfs(tmp_path: Path) -> None:
    assert proc_root(tmp_path) == Path("/proc")
    (tmp_path / "private" / "proc").mkdir(parents=True)
    assert proc_root(tmp_path) == Path("/proc")  # an empty mount point is not a procfs
    (tmp_path / "private" / "proc" / "self").symlink_to("1")
    assert proc_root(tmp_path) == tmp_path / "private" / "proc"


def test_real_table_comes_from_private_proc_when_proc_is_covered(emu: Emulator,
                                                                 shim: Path) -> None:
    """The hosts' layout: a procfs at <root>/private/proc, an empty tmpfs over /proc."""
    private = emu.root / "private"
    private.mkdir(mode=0o700)
    (private / "proc").mkdir()

    def in_mount_ns(*argv: str) -> None:
        subprocess.run(["nsenter", "-t", str(emu.pid1), "-p", "-m", "--", *argv],
                       check=True, capture_output=True, timeout=10)

    in_mount_ns("mount", "-t", "proc", "proc", str(private / "proc"))
    in_mount_ns("mount", "-t", "tmpfs", "-o", "size=1k", "none", "/proc")
    pid = start_in_ns(emu, [*SLEEPER, "covered"])
    res = in_ns(emu, shim, ["ps", "-o", "pid=,args=", "-p", str(pid)])
    assert res.stdout == f"{pid:5d} {' '.join([*SLEEPER, 'covered'])}\n", res
