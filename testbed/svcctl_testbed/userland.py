"""macOS's userland for a simulated host: a read-only layer laid over the machine's /usr.

FACTS 5.4 lists what svcctl's remote commands meet on a Mac; this module builds
HOSTDIR/macos/usr so that a host shows the same (DESIGN.md "The Mac's userland"):

- `/bin/sh` is bash in POSIX mode (a Mac's is bash 3.2 as sh), not dash;
- `/usr/bin/python3` is Python 3.9, the Command Line Tools' version, found at
  /Library/Developer/CommandLineTools/usr as on a Mac (setup.sh bind-mounts it there);
- `ps` and `pgrep` behave like BSD's (emulator/ps.py; the emulator serves the process table,
  since no job or SSH session sees /proc);
- `launchctl` is /bin/launchctl;
- GNU-only commands are absent (overlayfs whiteouts) and GNU-only options of the BSD
  commands svcctl may use are refused with BSD's message, before the real tool runs.

Everything is written under HOSTDIR; the machine's /usr is only read.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from svcctl_testbed.errors import TestbedError

EMULATOR_SRC = Path(__file__).resolve().parent / "emulator"
CLT_PREFIX = "/Library/Developer/CommandLineTools/usr"  # where a Mac keeps the CLT's python3
LIB_IN_HOST = "/run/testbed/lib/emulator"  # provision.py's copy of the emulator package

# Absent on a Mac (FACTS 5.4), or procps tools that cannot work without /proc (ps, pgrep,
# pkill and lsof are the emulator's shim instead).
ABSENT = (
    "timeout", "flock", "setsid", "sha256sum", "sha1sum", "sha224sum", "sha384sum",
    "sha512sum", "md5sum", "nproc", "stdbuf", "pidof", "pidwait", "pmap", "pwdx",
    "free", "vmstat", "watch", "slabtop", "tload", "top", "w",
)

# BSD tools whose GNU-only single-letter options a Mac refuses (FACTS 5.4): the letter(s),
# BSD's usage line and its exit status (EX_USAGE 64 for the file movers, 1 elsewhere).
_REFUSED = {
    "stat": ("c", "usage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file ...]", 1),
    "date": ("d", "usage: date [-jnRu] [-I[date|hours|minutes|seconds]] [-f input_fmt] "
                  "[-r filename|seconds] [-v[+|-]val[y|m|w|d|H|M|S]] "
                  "[[[[mm]dd]HH]MM[[cc]yy][.SS] | new_date] [+output_fmt]", 1),
    "mv": ("T", "usage: mv [-f | -i | -n] [-hv] source target\n"
                "       mv [-f | -i | -n] [-v] source ... directory", 64),
    "readlink": ("f", "usage: readlink [-n] [file ...]", 1),
    "xargs": ("r", "usage: xargs [-0opt] [-E eofstr] [-I replstr [-R replacements] [-S replsize]]\n"
                   "             [-J replstr] [-L number] [-n number [-x]] [-P maxprocs]\n"
                   "             [-s size] [utility [argument ...]]", 1),
    "sed": ("", "usage: sed script [-Ealnru] [-i extension] [file ...]\n"
                "       sed [-Ealnu] [-i extension] [-e script] ... [-f script_file] ... "
                "[file ...]", 1),
    "mktemp": ("", "usage: mktemp [-d] [-p tmpdir] [-q] [-t prefix] [-u] template ...\n"
                   "       mktemp [-d] [-p tmpdir] [-q] [-u] -t prefix", 1),
}
# BSD tools that know no long options: `--name` is `illegal option -- -` before the real tool
_NO_LONG = ("cat", "cp", "ln", "ls", "mkdir", "rm", "rmdir", "touch", "chmod", "chown", "head",
            "tail", "sort", "uniq", "wc", "cut", "tr", "tee", "basename", "dirname", "id",
            "uname", "sleep", "kill")  # not env or nohup: their children would inherit the
                                       # wrapper's POSIXLY_CORRECT
_MOVERS_EX_USAGE = ("cp", "ln", "rm")


@dataclass(frozen=True)
class MacPython:
    """A Python 3.9 install to show as the Command Line Tools' /usr/bin/python3."""

    prefix: Path  # holds bin/python3.9 and lib/python3.9
    libpython: Path | None  # lib/libpython3.9.so.1.0 when the binary links it


def find_mac_python() -> MacPython | None:
    """$SVCCTL_MAC_PYTHON (a python3.9 binary), else pyenv's newest 3.9, else python3.9 on
    PATH, else none."""
    candidates = [os.environ.get("SVCCTL_MAC_PYTHON", "")]
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.9.*/bin/python3.9"),
                         key=_version_key, reverse=True)
    candidates.append(shutil.which("python3.9") or "")
    for cand in candidates:
        if not cand or not os.access(cand, os.X_OK):
            continue
        prefix = Path(cand).resolve().parent.parent
        if not (prefix / "lib" / "python3.9" / "os.py").exists():
            continue
        lib = prefix / "lib" / "libpython3.9.so.1.0"
        return MacPython(prefix, lib if lib.exists() else None)
    return None


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/versions/")[1].split("/", maxsplit=1)[0]
    return tuple(int(p) if p.isdigit() else 0 for p in part.split("."))


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _symlink(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def _whiteout(path: Path) -> None:
    """An overlayfs whiteout: the name is absent from the merged /usr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _script(interpreter: str, source: Path) -> str:
    """A stdlib client of the emulator, run straight by its interpreter (no shell between)."""
    body = source.read_text().split("\n", 1)[1]
    return f"#!{interpreter} -ESs\n{body}"


_HEAD = """#!/bin/sh
# BSD {tool} (FACTS 5.4): GNU-only options are refused as a Mac refuses them, then the
# real tool runs; POSIXLY_CORRECT makes GNU getopt stop at the first operand, as BSD's does.
usage='{usage}'
bad() {{ printf '{tool}: illegal option -- %s\\n%s\\n' "$1" "$usage" >&2; exit {code}; }}
"""
_TAIL = 'POSIXLY_CORRECT=1 exec -a {tool} /usr/libexec/gnu/{tool} "$@"\n'
_GETOPT = """for a do
  case $a in
    --) break;;
    --*) bad -;;{letters}
    -*) ;;
    *) break;;
  esac
done
"""
# BSD `sed -i EXT` takes the next word as the backup suffix ('' for none); GNU glues it to
# -i. So `sed -i 's/a/b/' f` reads f as the script on a Mac, and fails: it fails here too.
_SED = """n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    --*) bad -;;
    -i) [ "$n" -gt 0 ] || bad i; a="-i$1"; shift; n=$((n - 1));;
  esac
  set -- "$@" "$a"
done
"""
# A Mac's mktemp needs a template or `-t prefix`, which names PREFIX.XXXXXXXX in $TMPDIR;
# GNU's -t wants X's in it: translate.
_MKTEMP = """n=$#; named=''
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    --*) bad -;;
    -t) [ "$n" -gt 0 ] || bad t; named=1; set -- "$@" -t "$1.XXXXXXXX"; shift; n=$((n - 1))
        continue;;
    -*) ;;
    *) named=1;;
  esac
  set -- "$@" "$a"
done
[ -n "$named" ] || {{ printf '%s\\n' "$usage" >&2; exit 1; }}
"""


# BSD `mv -h` (FACTS 5.4): with two operands and a target that is a symlink to a
# directory, rename over the link itself instead of moving into the directory (GNU: -T);
# otherwise -h changes nothing. With more than two operands it is a usage error.
_MV = """n=$#; h=''; ops=0; opts=1
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  if [ -n "$opts" ]; then
    case $a in
      --) opts=''; set -- "$@" "$a"; continue;;
      --*) bad -;;
      -*T*) bad T;;
      -*h*) h=1; a=$(printf '%s' "$a" | tr -d h); [ "$a" = - ] && continue;;
      -?*) ;;
      *) opts=''; ops=$((ops + 1));;
    esac
  else
    ops=$((ops + 1))
  fi
  set -- "$@" "$a"
done
if [ -n "$h" ]; then
  [ "$ops" -le 2 ] || {{ printf '%s\n' "$usage" >&2; exit 64; }}
  for last do :; done
  if [ -L "$last" ] && [ -d "$last" ]; then set -- -T "$@"; fi
fi
"""


def _wrapper(tool: str, letters: str, usage: str, code: int) -> str:
    """sh that refuses what BSD's getopt would, then runs the real (GNU) tool."""
    head = _HEAD.format(tool=tool, usage=usage, code=code)
    if tool == "sed":
        body = _SED
    elif tool == "mv":
        body = _MV.format()
    elif tool == "mktemp":
        body = _MKTEMP.format()
    else:
        rule = f"\n    -*[{letters}]*) bad \"$(echo \"$a\" | tr -cd '{letters}' | cut -c1)\";;"
        body = _GETOPT.format(letters=rule if letters else "")
    return head + body + _TAIL.format(tool=tool)


# What /usr/bin/python3 does on a Mac without the Command Line Tools (FACTS 5.4): it only
# offers to install them (a dialog on the console) and exits non-zero.
_NO_CLT = (
    "#!/bin/sh\n"
    "echo 'xcode-select: note: No developer tools were found, requesting install.' >&2\n"
    "echo 'If developer tools are located at a non-default location on disk, use `sudo "
    "xcode-select --switch path/to/Xcode.app` to specify the Xcode that you wish to use for "
    "command line developer tools, and cancel the installation dialog.' >&2\n"
    "echo 'See `man xcode-select` for more details.' >&2\n"
    "exit 1\n"
)


def _write_emulator_clients(bin_: Path, interpreter: str) -> None:
    _write(bin_ / "launchctl", _script(interpreter, EMULATOR_SRC / "client.py"), 0o755)
    # ps, pgrep, pkill and lsof (cwd only): one shim that answers to its name. It imports
    # emulator/ps.py from the host's copy of the emulator, whose bytecode provision.py
    # compiled: it runs on every ps call (audit, deploy, adopt), and compiling its source
    # each time doubled that.
    launcher = (f"#!{interpreter} -ESs\n"
                f"import sys\nsys.path.append({LIB_IN_HOST!r})\n"
                "from ps import main\n"
                "try:\n    sys.exit(main())\nexcept KeyboardInterrupt:\n    sys.exit(130)\n")
    for name in ("ps", "pgrep", "pkill", "lsof"):
        _write(bin_ / name, launcher, 0o755)


def _install_python3(top: Path, mac_python: MacPython | None, command_line_tools: bool) -> None:
    """/usr/bin/python3: the CLT's 3.9, or the install prompt of a Mac without them (FACTS 5.4);
    with neither, the machine's own python3 shows through."""
    usr = top / "usr"
    if not command_line_tools:
        _write(usr / "bin" / "python3", _NO_CLT, 0o755)
        return
    if mac_python is None:
        return
    _symlink(usr / "bin" / "python3", f"{CLT_PREFIX}/bin/python3.9")
    if mac_python.libpython is not None:
        # the binary's RUNPATH names its install (unreachable in the host): the loader
        # falls back to the system library directory
        multiarch = getattr(sys.implementation, "_multiarch", "x86_64-linux-gnu")
        _symlink(usr / "lib" / multiarch / mac_python.libpython.name,
                 f"{CLT_PREFIX}/lib/{mac_python.libpython.name}")
    (top / "python-prefix").write_text(str(mac_python.prefix) + "\n")


def _install_bsd_wrappers(usr: Path) -> None:
    """Each BSD tool in _REFUSED or _NO_LONG becomes a wrapper in bin over a copy of the
    machine's GNU tool in libexec/gnu; tools the machine lacks are left out."""
    gnu = usr / "libexec" / "gnu"
    gnu.mkdir(parents=True)
    wrappers = dict(_REFUSED)
    for tool in _NO_LONG:
        wrappers.setdefault(tool, ("", f"usage: {tool} ...", 64 if tool in _MOVERS_EX_USAGE
                                   else 1))
    for tool, (letters, usage, code) in wrappers.items():
        real = Path("/usr/bin", tool)
        if not real.is_file():
            continue
        shutil.copy2(real, gnu / tool)
        _write(usr / "bin" / tool, _wrapper(tool, letters, usage, code), 0o755)


def build_userland(hostdir_root: Path, interpreter: str, mac_python: MacPython | None, *,
                   command_line_tools: bool = True) -> Path:
    """(Re)create HOSTDIR/macos/usr, the layer setup.sh lays over /usr; return its path.

    Without `command_line_tools`, /usr/bin/python3 behaves as on a Mac that lacks them.
    """
    top = hostdir_root / "macos"
    if top.exists():
        shutil.rmtree(top)
    usr = top / "usr"
    bin_ = usr / "bin"
    bin_.mkdir(parents=True)
    _write_emulator_clients(bin_, interpreter)
    _symlink(bin_ / "sh", "bash")  # bash as sh runs in POSIX mode, like a Mac's /bin/sh
    _install_python3(top, mac_python, command_line_tools)
    for tool in ABSENT:
        if Path("/usr/bin", tool).exists():
            _whiteout(bin_ / tool)
    _install_bsd_wrappers(usr)
    return usr


def emulator_python() -> str:
    """The emulator's own interpreter: the machine's python3, by a path the overlay keeps.

    /usr/bin/python3 becomes 3.9 inside a host, so the emulator, launchctl and the ps shim
    run on the interpreter it pointed to before (e.g. /usr/bin/python3.11), resolved here.
    """
    chosen = os.path.realpath(os.environ.get("SVCCTL_TESTBED_PYTHON", "/usr/bin/python3"))
    if not chosen.startswith("/usr/") or not os.access(chosen, os.X_OK):
        raise TestbedError(f"the emulator's interpreter {chosen} must be an executable under "
                           "/usr (apt-get install python3, or set SVCCTL_TESTBED_PYTHON)")
    return chosen
