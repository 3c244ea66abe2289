"""The simulated hosts run macOS's userland where svcctl meets it (FACTS 5.4, DESIGN.md).

Each check goes through real SSH, as ops (whose login shell runs the command) or root,
and states what a Mac would answer.
"""

from __future__ import annotations

import pytest

from tests.conftest import Hosts
from tests.testbed.jobs import detached

pytestmark = pytest.mark.testbed

H = "tesseract"


def test_login_shells_path_and_sh(hosts: Hosts) -> None:
    # sshd runs ops's command through zsh, root's through /bin/sh
    out = hosts.ssh(H, 'printf "%s|%s|%s" "$ZSH_VERSION" "$PATH" "$(command -v launchctl)"')
    zsh, path, launchctl = out.stdout.split("|")
    assert zsh  # zsh is running this line
    assert path == "/usr/bin:/bin:/usr/sbin:/sbin"
    assert launchctl in ("/bin/launchctl", "/usr/bin/launchctl")
    root = hosts.ssh(H, 'printf "%s|%s" "${ZSH_VERSION-none}" "$PATH"', user="root")
    assert root.stdout == "none|/usr/bin:/bin:/usr/sbin:/sbin"
    # /bin/sh is bash in POSIX mode, not dash
    sh = hosts.ssh(H, ["/bin/sh", "-c", 'printf "%s " "$BASH_VERSION"; set -o | grep posix'])
    assert sh.stdout.split()[1:] == ["posix", "on"], sh.stdout
    assert sh.stdout.split()[0]


def test_zsh_reads_a_leading_equals_sign_as_a_command_lookup(hosts: Hosts) -> None:
    # the reason svcctl quotes `=word` (FACTS 5.4): the same line works under sh
    zsh = hosts.ssh(H, "echo =ok", check=False)
    assert zsh.returncode != 0 and "ok not found" in zsh.stderr
    assert hosts.ssh(H, "echo =ok", user="root").stdout == "=ok\n"


def test_python3_is_the_command_line_tools_39(hosts: Hosts) -> None:
    out = hosts.ssh(H, ["/usr/bin/python3", "-c",
                        "import sys; print(sys.version_info[:2], sys.prefix)"]).stdout
    assert out.strip() == "(3, 9) /Library/Developer/CommandLineTools/usr"
    # what a Mac's 3.9 rejects, rejected here too
    bad = hosts.ssh(H, ["/usr/bin/python3", "-c", "isinstance(1, int | float)"], check=False)
    assert bad.returncode == 1 and "TypeError" in bad.stderr


def test_no_proc_for_sessions_and_jobs(hosts: Hosts) -> None:
    assert hosts.ssh(H, "ls -A /proc | wc -l").stdout.strip() == "0"
    assert hosts.ssh(H, "test -e /proc/self/stat", check=False).returncode == 1
    # nor behind the emulator's back: its own procfs is for root only
    assert hosts.ssh(H, "ls /run/testbed/private/proc", check=False).returncode != 0


@pytest.mark.parametrize("tool", ["timeout", "flock", "setsid", "sha256sum", "nproc", "pidof"])
def test_gnu_only_commands_are_absent(hosts: Hosts, tool: str) -> None:
    r = hosts.ssh(H, f"{tool} 1 true", check=False)
    assert r.returncode == 127 and "command not found" in r.stderr, r
    assert hosts.ssh(H, f"{tool} 1 true", user="root", check=False).returncode == 127


@pytest.mark.parametrize(("line", "option", "code"), [
    ("stat -c %a /tmp", "c", 1),
    ("date -d yesterday", "d", 1),
    ("mv -T /tmp/a /tmp/b", "T", 64),
    ("readlink -f /tmp", "f", 1),
    ("echo x | xargs -r echo", "r", 1),
    ("ls --all /tmp", "-", 1),
    ("cp --version", "-", 64),
])
def test_gnu_only_options_are_refused_as_bsd_refuses_them(hosts: Hosts, line: str, option: str,
                                                          code: int) -> None:
    r = hosts.ssh(H, line, check=False)
    tool = line.rsplit("|", maxsplit=1)[-1].split(maxsplit=1)[0]
    assert r.returncode == code, r
    assert r.stderr.startswith(f"{tool}: illegal option -- {option}\nusage: "), r.stderr


def test_bsd_forms_still_work(hosts: Hosts) -> None:
    # options end at the first operand, as with BSD getopt; `--` ends them too
    assert hosts.ssh(H, "mkdir -p /tmp/u && touch /tmp/u/-l && ls /tmp/u && rm -- /tmp/u/-l"
                     ).stdout == "-l\n"
    # sed -i takes the next word as the suffix: '' for none
    hosts.ssh(H, "printf 'a\\n' > /tmp/u/f && sed -i '' s/a/b/ /tmp/u/f")
    assert hosts.ssh(H, "cat /tmp/u/f").stdout == "b\n"
    # GNU's form is an error on a Mac: the script is read as the suffix
    assert hosts.ssh(H, "sed -i s/b/c/ /tmp/u/f", check=False).returncode != 0
    assert hosts.ssh(H, "cat /tmp/u/f").stdout == "b\n"
    # mktemp wants a template or -t PREFIX (which it names PREFIX.XXXXXXXX)
    assert hosts.ssh(H, "mktemp", check=False).returncode == 1
    made = hosts.ssh(H, "mktemp -t svcctl").stdout.strip()
    assert made.startswith("/tmp/svcctl.") and len(made) == len("/tmp/svcctl.") + 8
    assert hosts.ssh(H, "mktemp /tmp/u/x.XXXX").stdout.startswith("/tmp/u/x.")


def test_ps_pgrep_and_pkill_read_the_emulators_table(hosts: Hosts) -> None:
    # BSD ps: lstart padded to 28 columns, then one space (FACTS 5.2)
    row = hosts.ssh(H, "env LC_ALL=C TZ=UTC0 ps -o lstart=,command= -p 1").stdout
    assert row[24:29] == "     " and row[29:].rstrip("\n") == "(launchd)"  # root's, to ops
    assert hosts.ssh(H, "ps -o command= -p 1", user="root").stdout == "/sbin/launchd\n"
    assert hosts.ssh(H, "ps -p 999999", check=False).returncode == 1
    pid = int(hosts.ssh(H, detached("sleep 7373")).stdout)
    root_pid = int(hosts.ssh(H, detached("sleep 7374"), user="root").stdout)
    # ops cannot read root's arguments: pgrep -f matches root's sleep only for root
    assert hosts.ssh(H, "pgrep -f 'sleep 737[34]'").stdout.split() == [str(pid)]
    assert hosts.ssh(H, "pgrep -f 'sleep 737[34]'", user="root").stdout.split() == [
        str(pid), str(root_pid)]
    assert hosts.ssh(H, "pkill -KILL -f 'sleep 737[34]'").returncode == 0
    assert hosts.ssh(H, f"ps -o pid= -p {pid}", check=False).returncode == 1
    assert hosts.ssh(H, f"ps -o pid= -p {root_pid}").stdout.split() == [str(root_pid)]
    assert hosts.ssh(H, "pkill -9 -f 'sleep 7374'", user="root").returncode == 0
    assert hosts.ssh(H, "pgrep -f 'sleep 737[34]'", user="root", check=False).returncode == 1


def test_lsof_tells_a_process_cwd_to_its_owner_only(hosts: Hosts) -> None:
    # a Mac has no /proc/PID/cwd: `lsof -a -p PID -d cwd -Fn` (FACTS 5.4)
    hosts.ssh(H, "mkdir -p '/tmp/a dir'")
    mine = int(hosts.ssh(H, detached("sh -c 'cd \"/tmp/a dir\" && exec sleep 7575'",
                                     expect="sleep 7575")).stdout)
    roots = int(hosts.ssh(H, detached("sh -c 'cd /var && exec sleep 7576'", expect="sleep 7576"),
                          user="root").stdout)
    try:
        out = hosts.ssh(H, f"lsof -a -p {mine} -d cwd -Fn").stdout
        assert out == f"p{mine}\nfcwd\nn/tmp/a dir\n"
        # another user's process is not listed to ops, and a pid not listed is exit 1
        both = hosts.ssh(H, f"lsof -a -p {mine},{roots} -d cwd -Fn", check=False)
        assert (both.returncode, both.stdout) == (1, out)
        assert hosts.ssh(H, f"lsof -a -p {roots} -d cwd -Fn", user="root").stdout == (
            f"p{roots}\nfcwd\nn/var\n")
        assert hosts.ssh(H, "lsof -a -p 1 -d cwd -Fn", user="root").stdout == "p1\nfcwd\nn/\n"
        # the one form it knows; anything else says so
        other = hosts.ssh(H, f"lsof -p {mine}", check=False)
        assert other.returncode == 1 and "knows only" in other.stderr
    finally:
        hosts.ssh(H, f"kill {mine}", check=False)
        hosts.ssh(H, f"kill {roots}", user="root", check=False)
