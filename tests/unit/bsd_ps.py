"""A `ps` that prints this machine's real process table in BSD ps's layout (FACTS 5.2).

Test-only: unit tests put it on PATH as `ps` so that svcctl's parsers and adopt's remote
identity script meet macOS's column layout with real processes, on a Linux machine. It
reads procps and re-prints what svcctl uses, the way apple-oss-distributions/adv_cmds
(adv_cmds-237) `ps/keyword.c` and `print.c` do:

- `pid`, `ppid`, `uid`, `pgid`: right-justified, width 5;
- `user`: left-justified to the longest name shown (at most 16);
- `lstart`: the `%c` date left-justified in 28 columns, trailing spaces even when last;
- `command`/`args`: last column, unpadded; a newline or tab shows as `\\012` / `\\011`;
- one space between columns; empty headers (`key=`) print no header line;
- exit 1 when `-p` finds nothing.

Options: `-a`, `-x`, `-w`, `-e`, `-A` (any cluster), `-o list` (repeatable), `-p pid`.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

WIDTH = {"pid": 5, "ppid": 5, "uid": 5, "pgid": 5, "lstart": 28}
_ROW = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+) (.{24}) ?(.*)")


def install(bin_dir: Path) -> None:
    """Make `bin_dir/ps` this shim, run by the current interpreter."""
    ps = bin_dir / "ps"
    ps.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} \"$@\"\n")
    ps.chmod(0o755)


def _procps(pid: str | None) -> list[dict[str, str]]:
    argv = ["/usr/bin/ps", "-ww", "-o", "pid=,ppid=,uid=,pgid=,lstart=,args="]
    argv += ["-p", pid] if pid else ["-ax"]
    out = subprocess.run(argv, capture_output=True, text=True,
                         env={**os.environ, "LC_ALL": "C"}, check=False).stdout
    rows = []
    for line in out.split("\n"):
        m = _ROW.fullmatch(line)
        if m is None:
            continue
        uid = m.group(3)
        try:
            user = pwd.getpwuid(int(uid)).pw_name
        except KeyError:
            user = uid
        command = m.group(6).replace("\n", "\\012").replace("\t", "\\011")
        rows.append({"pid": m.group(1), "ppid": m.group(2), "uid": uid, "user": user,
                     "pgid": m.group(4), "lstart": m.group(5), "command": command})
    return rows


def main(argv: list[str]) -> int:
    keys: list[str] = []
    pid: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-o":
            keys += [k.rstrip("=") for k in argv[i + 1].split(",")]
            i += 2
        elif a == "-p":
            pid = argv[i + 1]
            i += 2
        elif re.fullmatch(r"-[axwAe]+", a):
            i += 1
        else:
            print(f"ps: illegal argument: {a}", file=sys.stderr)
            return 1
    keys = ["command" if k == "args" else k for k in keys]
    unknown = [k for k in keys if k not in {*WIDTH, "user", "command"}]
    if unknown:
        print(f"ps: {unknown[0]}: keyword not found", file=sys.stderr)
        return 1
    rows = _procps(pid)
    user_width = min(16, max([len(r["user"]) for r in rows], default=4))
    for r in rows:
        print(" ".join(_cell(r[k], k, n == len(keys) - 1, user_width) for n, k in enumerate(keys)))
    return 0 if rows else 1


def _cell(value: str, key: str, last: bool, user_width: int) -> str:
    if key == "command":
        return value if last else value.ljust(16)[:16]
    if key == "user":
        return value.ljust(user_width)
    if key == "lstart":
        return value.ljust(WIDTH[key])
    return value.rjust(WIDTH[key])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
