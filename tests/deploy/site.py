"""Where deploy/adopt scenarios run: simulated macOS hosts, or a real Mac (marker `macos`).

A `Site` is reached only through the `ssh` client and svcctl's own CLI, so the same
scenario body runs unchanged against the testbed and against a real Mac's launchd:

    SVCCTL_MAC_SSH_CONFIG=~/.ssh/config SVCCTL_MAC_HOST=mymac \\
    SVCCTL_MAC_BACKUP=othermac pytest -m macos tests/deploy

(`SVCCTL_MAC_UID`, default 501, and `SVCCTL_MAC_HOME`, default /Users/<user>, describe
the login user whose `user/<uid>` domain the tests use; root access is never needed.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from svcctl.host.quote import quote
from tests.testbed.jobs import detached

ROOT = Path(__file__).resolve().parents[2]

# v1/v2 print their version; modes: run, ignore-term, never-dies (ignores TERM; paired
# with ExitTimeOut 0, launchd never SIGKILLs it, FACTS 4), crash (exits 1 at once),
# serve-PORT (HTTP on 127.0.0.1:PORT: 200 for /ok, 500 for anything else).
SERVICE_PY = r'''
import os, signal, sys, time
version = sys.argv[1] if len(sys.argv) > 1 else "v1"
mode = sys.argv[2] if len(sys.argv) > 2 else "run"
if mode == "crash":
    sys.exit(1)
if mode in ("ignore-term", "never-dies"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open("/tmp/ignoring-term.%d" % os.getpid(), "w").close()  # a Mac's ps has no sigignore
if mode.startswith("serve-"):
    import http.server, threading
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", int(mode[6:])), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("started", version, os.getpid(), flush=True)
while True:
    time.sleep(0.5)
'''

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
def scan():
    out = []
    if pidns:  # a testbed host, seen from the real machine: its pid namespace only
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{d}/ns/pid") != pidns:
                    continue
                with open(f"/proc/{d}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
                if len(argv) > 1 and argv[1].decode(errors="replace") == script:
                    with open(f"/proc/{d}/status") as fh:
                        nspid = next(x for x in fh if x.startswith("NSpid:")).split()[-1]
                    out.append(int(nspid))
            except (OSError, StopIteration):
                continue
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
    cleanups: list[Any] = field(default_factory=list)

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


@dataclass
class Service:
    """One uniquely named test service on a site, with its inventory."""

    site: Site
    name: str
    tmp: Path
    hosts: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"com.example.{self.name}"

    @property
    def script(self) -> str:
        return f"{self.site.home}/{self.name}.py"

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

    def write_inventory(self, version: str = "v1", mode: str = "run", **extra: Any) -> Path:
        site = self.site
        hosts = {h: {"domain": f"user/{site.uid}", "home": site.home}
                 for h in [site.main, *([site.other] if site.other else [])]}
        svc = {"label": self.label, "hosts": self.hosts,
               "program": ["/usr/bin/python3", self.script, version, mode],
               "keep_alive": True, "stay_up": 1.5, "exit_timeout": 2,
               "stdout_path": f"{site.home}/{self.name}.log", **self.settings, **extra}
        doc = {"ssh_config": str(site.ssh_config), "hosts": hosts,
               "services": {self.name: svc}}
        self.inventory.write_text(yaml.safe_dump(doc))
        return self.inventory

    # -- svcctl, as a user runs it ---------------------------------------------------
    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "svcctl.cli.main", *args, "-i", str(self.inventory)]

    def svcctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)

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
        for h in [self.site.main, *([self.site.other] if self.site.other else [])]:
            self.site.sh(h, f"launchctl bootout {self.target}; "
                         f"launchctl bootout gui/{self.site.uid}/{self.label}; "
                         f"pkill -KILL -f {quote(self.script)}; "
                         f"rm -f {self.qplist} {self.qplist}.previous "
                         f"{quote(self.autoload_plist)} {quote(self.autoload_plist)}.previous "
                         f"{quote(self.fenced_dir)}/{self.label}.* "
                         f"/tmp/svcctl-deploy/{self.name}.lock", user=user, check=False)


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


def testbed_site(hosts: Any, tmp: Path) -> Site:
    return Site("testbed", hosts.ssh_config, "tesseract", "backup", 501, "/Users/ops", tmp=tmp)


def mac_site(tmp: Path) -> Site | None:
    cfg, host = os.environ.get("SVCCTL_MAC_SSH_CONFIG"), os.environ.get("SVCCTL_MAC_HOST")
    if not cfg or not host:
        return None
    uid = int(os.environ.get("SVCCTL_MAC_UID", "501"))
    user = os.environ.get("SVCCTL_MAC_USER")
    home = os.environ.get("SVCCTL_MAC_HOME") or f"/Users/{user or os.environ.get('USER')}"
    return Site("macos", Path(cfg).expanduser(), host, os.environ.get("SVCCTL_MAC_BACKUP"),
                uid, home, user=user, tmp=tmp)


def interrupt(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    proc.send_signal(sig)


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


def iter_lines(text: str) -> Iterator[str]:
    yield from (x for x in text.splitlines() if x.strip())
