"""Helpers for driving launchd on a simulated host over SSH, as a user would."""

from __future__ import annotations

import plistlib
import re
import shlex
import time
from pathlib import Path
from typing import Any

from svcctl.host.quote import quote
from tests.conftest import Hosts
from tests.wait import wait_until

AGENTS = "/Users/ops/Library/LaunchAgents"
SESSION_TYPES = ["Aqua", "Background", "LoginWindow", "StandardIO", "System"]

# The one fake service the tests run on the hosts, as text to upload: its modes and
# arguments are in its docstring.
SERVICE_PY = (Path(__file__).resolve().parents[1] / "fake_service.py").read_text()


def unique_label(prefix: str = "com.example") -> str:
    return f"{prefix}.t{time.time_ns() % 10**10}"


def agent_plist(label: str, *args: str, **keys: Any) -> bytes:
    job: dict[str, Any] = {
        "Label": label,
        "ProgramArguments": ["/usr/bin/python3", "/Users/ops/service.py", *args],
        "LimitLoadToSessionType": SESSION_TYPES,
    }
    job.update(keys)
    return plistlib.dumps(job)


def install_agent(hosts: Hosts, host: str, label: str, plist: bytes) -> str:
    hosts.put(host, "/Users/ops/service.py", SERVICE_PY)
    path = f"{AGENTS}/{label}.plist"
    hosts.put(host, path, plist.decode())
    return path


def launchctl(hosts: Hosts, host: str, *args: str, user: str = "ops") -> Any:
    return hosts.ssh(host, ["launchctl", *args], user=user, check=False)


def print_field(text: str, key: str) -> str | None:
    """A top-level (one-tab) `key = value` of `launchctl print` (FACTS 3.3)."""
    m = re.search(rf"^\t{re.escape(key)} = (.*)$", text, re.M)
    return m.group(1) if m else None


def job_pid(hosts: Hosts, host: str, target: str, user: str = "ops") -> int | None:
    out = launchctl(hosts, host, "print", target, user=user).stdout
    pid = print_field(out, "pid")
    return int(pid) if pid else None


def detached(command: str, expect: str | None = None) -> str:
    """A shell line: `nohup COMMAND &`, echo its pid once it runs `expect`.

    `echo $!` alone races the child: for a moment the pid is still the forked shell or
    nohup, and a probe that looks then sees no such command (that flaked CI once). So
    the line polls `ps -o command=` (BSD and procps alike) until the pid shows `expect`
    (default: COMMAND's words, as ps shows them), for at most 10 s, and fails if it never does.
    """
    want = quote(expect if expect is not None else " ".join(shlex.split(command)))
    return (f"nohup {command} </dev/null >/dev/null 2>&1 & pid=$!; i=0; "
            f"until [ \"$(ps -o command= -p $pid)\" = {want} ]; do "
            "i=$((i+1)); [ $i -gt 200 ] && { echo \"pid $pid never ran it\" >&2; exit 1; }; "
            "sleep 0.05; done; echo $pid")


def wait_ignores(hosts: Hosts, host: str, pid: int) -> None:
    """Wait until SERVICE_PY's pid ignores SIGTERM: it sets that only after start-up.

    A Mac's ps has no sigignore keyword (adv_cmds keyword.c keeps it under `#if FIXME`):
    the service leaves /tmp/ignoring-term.PID once its disposition is set.
    """
    wait_until(lambda: hosts.ssh(host, ["test", "-e", f"/tmp/ignoring-term.{pid}"],
                                 check=False).returncode == 0)


def alive(hosts: Hosts, host: str, pid: int) -> bool:
    """True while pid is a live, non-zombie process on the host."""
    out = hosts.ssh(host, ["ps", "-o", "stat=", "-p", str(pid)], check=False).stdout.strip()
    return bool(out) and not out.startswith("Z")
