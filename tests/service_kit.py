"""The tests' one harness: where scenarios run, what runs there, svcctl as a user runs it.

A `Site` is the simulated macOS hosts (`testbed_site`) or a real Mac (`mac_site`, marker
`macos`), reached only through the `ssh` client and svcctl's own CLI, so the same scenario
body runs unchanged against the testbed and against a real Mac's launchd:

    SVCCTL_MAC_SSH_CONFIG=~/.ssh/config SVCCTL_MAC_HOST=mymac \\
    SVCCTL_MAC_BACKUP=othermac pytest -m macos tests/deploy

(`SVCCTL_MAC_UID`, default 501, and `SVCCTL_MAC_HOME`, default /Users/<user>, describe
the login user whose `user/<uid>` domain the tests use; root access is never needed.)

A `Service` is one uniquely named copy of SERVICE_PY (tests/fake_service.py) on a site,
with its inventory. What a test does to a host by hand through the site (`install_program`,
`bootstrap`, `start_detached`, ...) is undone by `Site.teardown` (bootout, kill by pid,
remove files), which the `kit` fixture runs, so tests never see each other's leftovers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from svcctl.host.quote import quote
from svcctl.inventory import load_inventory
from svcctl.render import render_plist
from tests.conftest import Hosts
from tests.testbed.jobs import SERVICE_PY, detached, print_field
from tests.wait import wait_until

__all__ = ["SERVICE_PY"]  # re-exported: the harness's users upload it

ROOT = Path(__file__).resolve().parents[1]
HOME = "/Users/ops"  # the testbed's login user, ops (uid 501)
# what `Site.inventory` puts under `defaults:` unless told otherwise
INVENTORY_DEFAULTS: dict[str, Any] = {"keep_alive": True, "throttle_interval": 10,
                                      "exit_timeout": 2}

# Runs until its stdin closes: every few ms, count the processes running the service
# script (argv[1] == the script, exactly; decoys never count). The script path comes on
# stdin's first line, so the sampler's own argv never matches. On a real Mac it runs
# there, with ps; for a testbed host it runs on the real machine and reads /proc for
# that host's pid namespace (SAMPLER_PIDNS), reporting the pids the host sees.
SAMPLER_PY = r'''
import json, os, subprocess, sys, threading, time
script = sys.stdin.readline().strip()
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
pidns = os.environ.get("SAMPLER_PIDNS")
# pid -> its pid in the host's namespace, or 0: not in it. A process never changes pid
# namespace, and pids are handed out in turn (a reuse needs pid_max more forks, never
# within one 3 ms gap), so this is looked up once per process; a pid gone from /proc is
# forgotten. The machine has hundreds of processes, the host a dozen: a scan reads a
# dozen files, not a link per process on the machine (half the CPU, more samples).
members = {}
def member(d):
    if d not in members:
        if os.readlink(f"/proc/{d}/ns/pid") != pidns:
            members[d] = 0
        else:
            with open(f"/proc/{d}/status") as fh:
                members[d] = int(next(x for x in fh if x.startswith("NSpid:")).split()[-1])
    return members[d]
def scan():
    global members
    out = []
    if pidns:  # a testbed host, seen from the real machine: its pid namespace only
        live = [d for d in os.listdir("/proc") if d.isdigit()]
        for d in live:
            try:
                nspid = member(d)
                if not nspid:
                    continue
                # read every time: the process may have exec'd since (the guard does)
                with open(f"/proc/{d}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
                if len(argv) > 1 and argv[1].decode(errors="replace") == script:
                    out.append(nspid)
            except (OSError, StopIteration):
                continue
        if len(members) > len(live):
            members = {d: members[d] for d in live if d in members}
        return out
    ps = subprocess.run(["ps", "-axo", "pid=,command="], capture_output=True, text=True)
    for line in ps.stdout.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == script and "python" in parts[1].lower():
            out.append(int(parts[0]))
    return out
samples, worst, seen, events, every = 0, 0, [], [], set()
while not stop.is_set():
    pids = sorted(scan())
    samples += 1
    worst = max(worst, len(pids))
    every.update(pids)
    if pids != seen:
        events.append([round(time.time(), 3), pids])
        seen = pids
    if samples == 1:
        print("sampling", flush=True)
    time.sleep(0.003)
print(json.dumps({"samples": samples, "max": worst, "events": events[-100:],
                  "pids": sorted(every)}))
'''


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Blackhole:
    """A TCP port that accepts and never says a word: an SSH connect to it hangs until the
    connect timeout (10 s, or ssh_config's ConnectTimeout), as a host whose sshd is wedged does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


# -- svcctl, as a user runs it ---------------------------------------------------------------

def svcctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "svcctl.cli.main", *args]


def svcctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """svcctl exactly as a user runs it: a fresh process, exit code and both streams."""
    return subprocess.run(svcctl_argv(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def audit_json(inventory: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = svcctl("audit", "-i", str(inventory), "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def finding(doc: dict[str, Any], host: str, service: str) -> dict[str, Any]:
    h = next(x for x in doc["hosts"] if x["host"] == host)
    return next(f for f in h["services"] if f["service"] == service)


# -- where scenarios run -----------------------------------------------------------------------

@dataclass
class Site:
    kind: str  # "testbed" | "macos"
    ssh_config: Path
    main: str
    other: str | None
    uid: int
    home: str
    user: str | None = None  # None: the ssh_config's User
    tmp: Path = Path("/tmp")
    _undo: list[tuple[str, str]] = field(default_factory=list)  # (host, shell command)

    @property
    def hosts(self) -> list[str]:
        return [self.main, *([self.other] if self.other else [])]

    @property
    def agents(self) -> str:
        """~/Library/LaunchAgents: a console login loads it into gui/<uid> (FACTS 1.2)."""
        return f"{self.home}/Library/LaunchAgents"

    @property
    def svcctl_agents(self) -> str:
        """Where svcctl keeps a user/<uid> agent's plist: nothing loads it by itself."""
        return f"{self.home}/Library/Application Support/svcctl/LaunchAgents"

    def ssh_argv(self, host: str, command: str, user: str | None = None) -> list[str]:
        who = user or self.user
        dest = f"{who}@{host}" if who else host
        return ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", dest, command]

    def sh(self, host: str, command: str, *, user: str | None = None, check: bool = True,
           timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.ssh_argv(host, command, user), input=stdin,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {host} {command!r} -> {proc.returncode}: {proc.stderr}")
        return proc

    def put(self, host: str, path: str, text: str) -> None:
        q = quote(path)
        self.sh(host, f"umask 022 && mkdir -p \"$(dirname {q})\" && cat > {q}", stdin=text)

    # -- inventories and services ----------------------------------------------------------
    def inventory(self, services: dict[str, dict[str, Any]], *,
                  hosts: dict[str, dict[str, Any]] | None = None,
                  name: str | Path = "inventory.yaml", ssh_config: Path | None = None,
                  defaults: dict[str, Any] | None = None) -> Path:
        """Write an inventory (JSON is YAML, and quotes any hostile value right).

        `name`: a file in `tmp`, or a path; `hosts`: default, every host of the site in
        user/<uid>; `defaults`: default INVENTORY_DEFAULTS, none if empty."""
        host_map = hosts if hosts is not None else {
            h: {"domain": f"user/{self.uid}", "home": self.home} for h in self.hosts}
        defaults = INVENTORY_DEFAULTS if defaults is None else defaults
        doc = {"ssh_config": str(ssh_config or self.ssh_config),
               **({"defaults": defaults} if defaults else {}),
               "hosts": host_map, "services": services}
        path = self.tmp / name
        path.write_text(json.dumps(doc, indent=2))
        return path

    def service(self, prefix: str = "svc") -> Service:
        """A new service with its program in a directory of its own, <home>/<name>/main.py."""
        return Service(self, f"{prefix}{time.time_ns() % 10**10}", self.tmp, [self.main],
                       own_dir=True)

    def rendered(self, inventory: Path, svc: Service, host: str | None = None) -> bytes:
        """The plist svcctl would upload for `svc` to `host` (default: the main host)."""
        inv = load_inventory(inventory)
        return render_plist(inv.services[svc.name], inv.hosts[host or self.main].domain,
                            inv.templates_dir).data

    # -- effects on hosts, undone by `teardown` --------------------------------------------
    def on_teardown(self, host: str, command: str) -> None:
        self._undo.append((host, command))

    def install_program(self, host: str, svc: Service) -> None:
        self.on_teardown(host, f"rm -rf {quote(svc.dir)}")
        self.put(host, svc.script, SERVICE_PY)

    def install_plist(self, host: str, svc: Service, data: bytes) -> None:
        self.on_teardown(host, f"rm -f {quote(svc.plist)}")
        self.put(host, svc.plist, data.decode())

    def bootstrap(self, host: str, svc: Service, domain: str | None = None,
                  wait_running: bool = True) -> int | None:
        """`launchctl bootstrap` of the installed plist; with `wait_running`, launchd's pid."""
        target = f"{domain or f'user/{self.uid}'}/{svc.label}"
        self.on_teardown(host, f"launchctl bootout {quote(target)}")
        self.sh(host, f"launchctl bootstrap {quote(target.rsplit('/', 1)[0])} "
                f"{quote(svc.plist)}")
        if not wait_running:
            return None
        pid = wait_until(lambda: self.job_field(host, target, "pid"))
        assert pid is not None
        return int(pid)

    def deploy(self, inventory: Path, svc: Service, host: str | None = None) -> int:
        """Program + rendered plist + bootstrap: launchd's pid for the label."""
        h = host or self.main
        self.install_program(h, svc)
        self.install_plist(h, svc, self.rendered(inventory, svc, h))
        pid = self.bootstrap(h, svc)
        assert pid is not None
        return pid

    def start_detached(self, host: str, command: str) -> int:
        """`nohup COMMAND &` in an SSH session that then ends: the pid, reparented to 1."""
        out = self.sh(host, detached(command)).stdout
        pid = int(out.split()[-1])
        self.on_teardown(host, f"kill -9 {pid}")
        wait_until(lambda: self.ppid(host, pid) == 1)
        return pid

    def ppid(self, host: str, pid: int) -> int | None:
        out = self.sh(host, f"ps -o ppid= -p {pid}", check=False).stdout.strip()
        return int(out) if out else None

    def job_field(self, host: str, target: str, key: str) -> str | None:
        """A top-level field of `launchctl print TARGET` (None: not loaded, or no such key)."""
        return print_field(self.sh(host, f"launchctl print {quote(target)}",
                                   check=False).stdout, key)

    def processes(self, host: str) -> dict[int, str]:
        out = self.sh(host, "ps -axww -o pid=,command=").stdout
        rows = (re.match(r"\s*(\d+) (.*)", line) for line in out.splitlines())
        return {int(m.group(1)): m.group(2) for m in rows if m}

    def teardown(self) -> None:
        by_host: dict[str, list[str]] = {}
        for host, command in reversed(self._undo):
            by_host.setdefault(host, []).append(f"{command} >/dev/null 2>&1")
        self._undo.clear()
        for host, commands in by_host.items():
            self.sh(host, "; ".join(commands), check=False)


def testbed_site(hosts: Hosts, tmp: Path) -> Site:
    return Site("testbed", hosts.ssh_config, "tesseract", "backup", 501, HOME, tmp=tmp)


def mac_site(tmp: Path) -> Site | None:
    cfg, host = os.environ.get("SVCCTL_MAC_SSH_CONFIG"), os.environ.get("SVCCTL_MAC_HOST")
    if not cfg or not host:
        return None
    uid = int(os.environ.get("SVCCTL_MAC_UID", "501"))
    user = os.environ.get("SVCCTL_MAC_USER")
    home = os.environ.get("SVCCTL_MAC_HOME") or f"/Users/{user or os.environ.get('USER')}"
    return Site("macos", Path(cfg).expanduser(), host, os.environ.get("SVCCTL_MAC_BACKUP"),
                uid, home, user=user, tmp=tmp)


@pytest.fixture
def kit(hosts: Hosts, tmp_path: Path) -> Iterator[Site]:
    """The testbed as a `Site` whose hand-made effects are undone after the test."""
    site = testbed_site(hosts, tmp_path)
    try:
        yield site
    finally:
        site.teardown()


# -- the services under test -------------------------------------------------------------------

@dataclass
class Service:
    """One uniquely named test service on a site, with its inventory.

    Its program is <home>/<name>.py, or with `own_dir` <home>/<name>/main.py."""

    site: Site
    name: str
    tmp: Path
    hosts: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    own_dir: bool = False

    @property
    def label(self) -> str:
        return f"com.example.{self.name}"

    @property
    def dir(self) -> str:
        """The directory the program is in."""
        return f"{self.site.home}/{self.name}" if self.own_dir else self.site.home

    @property
    def script(self) -> str:
        return f"{self.dir}/main.py" if self.own_dir else f"{self.dir}/{self.name}.py"

    @property
    def plist(self) -> str:
        """Where svcctl installs the plist (user/<uid>); quote it in shell commands."""
        return f"{self.site.svcctl_agents}/{self.label}.plist"

    @property
    def fenced_dir(self) -> str:
        return f"{self.site.home}/Library/Application Support/svcctl/fenced"

    @property
    def qplist(self) -> str:
        return quote(self.plist)

    @property
    def autoload_plist(self) -> str:
        """~/Library/LaunchAgents/<label>.plist, where people put plists by hand."""
        return f"{self.site.agents}/{self.label}.plist"

    @property
    def target(self) -> str:
        return f"user/{self.site.uid}/{self.label}"

    @property
    def inventory(self) -> Path:
        return self.tmp / "inventory.yaml"

    def entry(self, hosts: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        """The service's inventory entry (default hosts: its own)."""
        return {"label": self.label, "hosts": self.hosts if hosts is None else hosts,
                "program": ["/usr/bin/python3", self.script], **extra}

    def write_inventory(self, version: str = "v1", mode: str = "run", **extra: Any) -> Path:
        svc = self.entry(**{"program": ["/usr/bin/python3", self.script, version, mode],
                            "keep_alive": True, "stay_up": 1.5, "exit_timeout": 2,
                            "stdout_path": f"{self.site.home}/{self.name}.log",
                            **self.settings, **extra})
        return self.site.inventory({self.name: svc}, name=self.inventory, defaults={})

    # -- svcctl, as a user runs it ---------------------------------------------------
    def argv(self, *args: str) -> list[str]:
        return svcctl_argv(*args, "-i", str(self.inventory))

    def svcctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return svcctl(*args, "-i", str(self.inventory), timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                stdin=subprocess.DEVNULL)

    def json(self, *args: str) -> tuple[int, dict[str, Any]]:
        proc = self.svcctl(*args, "--json")
        assert proc.stdout.strip(), proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    # -- the host's truth, read without svcctl --------------------------------------
    def pids(self, host: str | None = None) -> list[int]:
        """pids whose argv[1] is the service script (as the sampler counts them)."""
        # as root on the testbed: a Mac's ps hides other users' arguments (FACTS 5.2), and
        # strays started with sudo must count too
        out = self.site.sh(host or self.site.main, "ps -axo pid=,command=",
                           user="root" if self.site.kind == "testbed" else None).stdout
        return sorted(int(p[0]) for p in (x.split() for x in out.splitlines())
                      if len(p) > 2 and p[2] == self.script and "python" in p[1].lower())

    def versions(self, host: str | None = None) -> list[str]:
        out = self.site.sh(host or self.site.main, "ps -axo command=").stdout
        return sorted(x.split()[2] for x in out.splitlines()
                      if len(x.split()) > 3 and x.split()[1] == self.script)

    def launchd_pid(self, host: str | None = None) -> int | None:
        out = self.site.sh(host or self.site.main, f"launchctl print {self.target}",
                           check=False).stdout
        for line in out.splitlines():
            if line.startswith("\tpid = "):
                return int(line.split("=")[1])
        return None

    def loaded(self, host: str | None = None) -> bool:
        return self.site.sh(host or self.site.main, f"launchctl print {self.target}",
                            check=False).returncode == 0

    def start_stray(self, host: str | None = None, version: str = "v1",
                    user: str | None = None) -> int:
        """A copy started by hand and left running (seed incident 1)."""
        cmd = detached(f"/usr/bin/python3 {self.script} {version} run")
        return int(self.site.sh(host or self.site.main, cmd, user=user).stdout.strip())

    def bootstrap_by_hand(self, host: str | None = None, version: str = "v1",
                          path: str | None = None) -> None:
        """What a person or a CI script does without svcctl: plist + bootstrap + kickstart.

        `path`: where the plist goes (default: where svcctl would put it)."""
        import plistlib

        h = host or self.site.main
        plist = plistlib.dumps({
            "Label": self.label, "KeepAlive": True,
            "ProgramArguments": ["/usr/bin/python3", self.script, version, "run"],
            "LimitLoadToSessionType": ["Aqua", "Background", "LoginWindow", "StandardIO",
                                       "System"]}).decode()
        self.site.put(h, path or self.plist, plist)
        self.site.sh(h, f"launchctl bootstrap user/{self.site.uid} {quote(path or self.plist)} && "
                     f"launchctl kickstart {self.target}")

    def lock_file(self, host: str | None = None) -> str | None:
        r = self.site.sh(host or self.site.main,
                         f"cat /tmp/svcctl-deploy/{self.name}.lock", check=False)
        return r.stdout if r.returncode == 0 else None

    def cleanup(self) -> None:
        # on the testbed as root, in one call per host: strays may belong to root
        user = "root" if self.site.kind == "testbed" else None
        for h in self.site.hosts:
            self.site.sh(h, f"launchctl bootout {self.target}; "
                         f"launchctl bootout gui/{self.site.uid}/{self.label}; "
                         f"pkill -KILL -f {quote(self.script)}; "
                         f"rm -f {self.qplist} {self.qplist}.previous "
                         f"{quote(self.autoload_plist)} {quote(self.autoload_plist)}.previous "
                         f"{quote(self.fenced_dir)}/{self.label}.* "
                         f"/tmp/svcctl-deploy/{self.name}.lock", user=user, check=False)


# -- watching a service --------------------------------------------------------------------------

class Sampler:
    """Samples the host's process table every few ms for the whole `with` block."""

    def __init__(self, svc: Service, host: str | None = None) -> None:
        self.svc = svc
        self.host = host or svc.site.main
        self.result: dict[str, Any] = {}

    def __enter__(self) -> Sampler:
        site = self.svc.site
        if site.kind == "testbed":
            # from the real machine, through /proc: a Mac's has none, and the hosts' ps goes
            # through the emulator (tens of ms a scan); the instrument must stay at ms
            state = json.loads((site.ssh_config.parent / "state.json").read_text())
            pidns = state["hosts"][self.host]["pidns"]
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SAMPLER_PY], env={**os.environ, "SAMPLER_PIDNS": pidns},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        else:
            site.put(self.host, f"{site.home}/.svcctl-sampler.py", SAMPLER_PY)
            self.proc = subprocess.Popen(
                site.ssh_argv(self.host, f"/usr/bin/python3 {site.home}/.svcctl-sampler.py"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None
        self.proc.stdin.write(self.svc.script + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout is not None
        # the `with` body starts only once the first scan is done, however loaded the host
        first = self.proc.stdout.readline()
        if first != "sampling\n":  # it exited: its stderr says why
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"the sampler did not start: {first!r} {err}")
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)
        out, err = self.proc.communicate("", timeout=30)
        assert out.strip(), f"the sampler printed nothing: {err}"
        self.result = json.loads(out)

    @property
    def max(self) -> int:
        return int(self.result["max"])

    @property
    def pids(self) -> set[int]:
        return set(self.result["pids"])

    def check(self, at_least: int = 100) -> None:
        """Never two at once, and enough samples that the check means something."""
        assert self.result["samples"] >= at_least, self.result
        assert self.max <= 1, f"two instances at once: {self.result['events']}"


def wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> list[str]:
    """Read the CLI's stdout until a line contains `needle` (the live step lines)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never printed: {''.join(lines)}")
