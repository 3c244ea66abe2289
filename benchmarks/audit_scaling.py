"""Does `svcctl audit` scale with hosts, and beat the runbook's `ssh ... pgrep` loop?

Run (as root; it starts its own simulated hosts in a temporary DIR and stops them):
    .venv/bin/python benchmarks/audit_scaling.py [--hosts 10] [--services 3] [--repeat 5]

Measures, as a user sees it (a fresh `svcctl` process each time, wall clock):
  (a) `svcctl audit` over 1 host vs over all hosts: ratio target <= 1.5x;
  (b) `svcctl audit` over all hosts x services vs the seed runbook's way of looking, one
      `ssh -F cfg HOST pgrep -lf PATTERN` per host and service, run one after another:
      svcctl must be >= 5x faster.
  (c) with --against REV: `svcctl audit` over all hosts from this tree and from REV (a git
      worktree), alternately on the same hosts, as a ratio pair by pair: a change must
      leave audit no slower than before (median ratio <= 1.10, issue 10).
Every audit must come back all-ok (exit 0), or the timing would measure a failure.
Prints medians and ratios; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from svcctl.inventory import load_inventory
from svcctl.render import plist_path_for, render_plist
from svcctl_testbed.control import Testbed

ROOT = Path(__file__).resolve().parents[1]
HOME = "/Users/ops"
SCALING_TARGET = 1.5
SPEEDUP_TARGET = 5.0
AGAINST_TARGET = 1.10
SERVICE_PY = "import time\nwhile True:\n    time.sleep(1)\n"


def svcctl_argv() -> list[str]:
    script = Path(sys.executable).parent / "svcctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "svcctl.cli.main"]


def write_inventory(path: Path, ssh_config: Path, hosts: list[str], services: int) -> None:
    doc = {
        "ssh_config": str(ssh_config),
        "defaults": {"keep_alive": True},
        "hosts": {h: {"domain": "user/501", "home": HOME} for h in hosts},
        "services": {
            f"bench{i}": {"label": f"com.example.bench{i}", "hosts": hosts,
                          "program": ["/usr/bin/python3", f"{HOME}/bench{i}/main.py"]}
            for i in range(services)
        },
    }
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML


def install_script(inventory: Path, host: str) -> str:
    """One shell script that installs and bootstraps every service on `host`."""
    inv = load_inventory(inventory)
    spec = inv.hosts[host]
    lines = ["set -e"]
    for svc in inv.services.values():
        plist = str(plist_path_for(svc, spec.domain, spec.home))
        data = render_plist(svc, spec.domain, inv.templates_dir).data.decode()
        lines += [
            f"mkdir -p {shlex.quote(str(Path(plist).parent))}",
            f"mkdir -p {shlex.quote(HOME + '/' + svc.name)}",
            f"cat > {shlex.quote(svc.program[1])} <<'SVCCTL_EOF'\n{SERVICE_PY}SVCCTL_EOF",
            f"cat > {shlex.quote(plist)} <<'SVCCTL_EOF'\n{data}SVCCTL_EOF",
            f"launchctl bootstrap {spec.domain.target} {shlex.quote(plist)}",
        ]
    return "\n".join(lines) + "\n"


def ssh(tb: Testbed, host: str, command: str, stdin: str | None = None) -> str:
    proc = subprocess.run(tb.ssh_argv(host, command), input=stdin, capture_output=True, check=False,
                          text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"ssh {host} {command!r} -> {proc.returncode}: {proc.stderr}")
    return proc.stdout


def audit(inventory: Path, *args: str, tree: Path | None = None) -> None:
    """`svcctl audit`, from this checkout or, with `tree`, from another one."""
    argv = svcctl_argv() if tree is None else [sys.executable, "-m", "svcctl.cli.main"]
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([*argv, "audit", "-i", str(inventory), "--json", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tree or ROOT,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"svcctl audit {' '.join(args)} was not all-ok "
                           f"(exit {proc.returncode}): {proc.stdout[-2000:]}{proc.stderr}")


def runbook_loop(tb: Testbed, hosts: list[str], services: int) -> None:
    """The seed runbook: `pgrep -fa shiva` on each host, by hand, one after another."""
    for host in hosts:
        for i in range(services):
            proc = subprocess.run(
                ["ssh", "-F", str(tb.layout.ssh_config), "-o", "BatchMode=yes", host,
                 "pgrep", "-lf", f"bench{i}/main.py"],
                capture_output=True, text=True, timeout=60, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"pgrep -lf bench{i}/main.py on {host} -> "
                                   f"{proc.returncode}: {proc.stdout}{proc.stderr}")


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)  # the local processes we started
    machine_cpu: list[float] = field(default_factory=list)  # everything, hosts included

    def line(self, what: str) -> str:
        med = statistics.median
        runs = " ".join(f"{t * 1000:.0f}" for t in self.wall)
        return (f"{what:<34} median {med(self.wall) * 1000:6.0f} ms  [{runs}]  "
                f"client cpu {med(self.client_cpu) * 1000:5.0f} ms, "
                f"machine cpu {med(self.machine_cpu) * 1000:5.0f} ms")


def measure(fn: Callable[[], None], repeat: int) -> Timing:
    out = Timing()
    for _ in range(repeat):
        c0, m0, t0 = children_cpu(), machine_busy(), time.perf_counter()
        fn()
        out.wall.append(time.perf_counter() - t0)
        out.client_cpu.append(children_cpu() - c0)
        out.machine_cpu.append(machine_busy() - m0)
    return out


def wait_all_running(tb: Testbed, hosts: list[str], services: int) -> None:
    def one(host: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            out = ssh(tb, host, "launchctl list")
            running = sum(1 for line in out.splitlines()
                          if line.split("\t")[-1].startswith("com.example.bench")
                          and line.split("\t")[0] != "-")
            if running == services:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{host}: {running} of {services} services running")
            time.sleep(0.2)

    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(one, hosts))


def deploy(tb: Testbed, inventory: Path, hosts: list[str], services: int) -> None:
    """Install and bootstrap the inventory's services on `hosts`, one ssh script per host
    in parallel, and wait until every one of them runs."""
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(lambda h: ssh(tb, h, "sh -s", install_script(inventory, h)), hosts))
    wait_all_running(tb, hosts, services)


def against(inventory: Path, tree: Path, repeat: int) -> tuple[Timing, Timing, list[float]]:
    """This tree's audit and `tree`'s, alternately (A B A B ...), and each pair's ratio."""
    ours, theirs = Timing(), Timing()
    for _ in range(repeat):
        a = measure(lambda: audit(inventory), 1)
        b = measure(lambda: audit(inventory, tree=tree), 1)
        for mine, one in ((ours, a), (theirs, b)):
            mine.wall += one.wall
            mine.client_cpu += one.client_cpu
            mine.machine_cpu += one.machine_cpu
    return ours, theirs, [a / b for a, b in zip(ours.wall, theirs.wall, strict=True)]


def run(directory: Path, n_hosts: int, n_services: int, repeat: int,
        rev: str | None = None) -> int:
    tree = None
    if rev is not None:
        tree = directory / "against"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree),
                        rev], check=True)
    tb = Testbed(directory / "testbed")
    hosts = [f"bench{i:02d}" for i in range(n_hosts)]
    try:
        t0 = time.perf_counter()
        tb.up(hosts)
        inventory = directory / "inventory.yaml"
        write_inventory(inventory, tb.layout.ssh_config, hosts, n_services)
        deploy(tb, inventory, hosts, n_services)
        print(f"set-up: {n_hosts} hosts x {n_services} services bootstrapped "
              f"in {time.perf_counter() - t0:.1f} s")

        audit(inventory)  # warm-up: page cache, known_hosts, sshd's first fork
        t1 = measure(lambda: audit(inventory, "--host", hosts[0]), repeat)
        tn = measure(lambda: audit(inventory), repeat)
        tl = measure(lambda: runbook_loop(tb, hosts, n_services), repeat)
        if tree is not None:
            audit(inventory, tree=tree)  # its own warm-up
            ours, theirs, ratios = against(inventory, tree, repeat)
    finally:
        tb.down()
        if tree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)

    one_host, all_hosts = statistics.median(t1.wall), statistics.median(tn.wall)
    loop = statistics.median(tl.wall)
    scaling, speedup = all_hosts / one_host, loop / all_hosts
    print(f"machine: {os.cpu_count()} CPUs, shared by svcctl and all {n_hosts} simulated hosts")
    print("(a) " + t1.line("svcctl audit, 1 host"))
    print("    " + tn.line(f"svcctl audit, {n_hosts} hosts"))
    print(f"    ratio {scaling:.2f}x (target <= {SCALING_TARGET}x)")
    print("(b) " + tl.line(f"runbook loop, {n_hosts * n_services} x ssh pgrep"))
    print(f"    svcctl audit is {speedup:.1f}x faster (target >= {SPEEDUP_TARGET}x)")
    missed = []
    if tree is not None:
        ratio = statistics.median(ratios)
        print("(c) " + ours.line(f"svcctl audit, {n_hosts} hosts, this tree"))
        print("    " + theirs.line(f"svcctl audit, {n_hosts} hosts, {rev}"))
        print(f"    ratio this/{rev}: median {ratio:.2f} "
              f"[{' '.join(f'{r:.2f}' for r in ratios)}] (target <= {AGAINST_TARGET})")
        if ratio > AGAINST_TARGET:
            missed.append(f"{ratio:.2f}x {rev}'s time")
    if scaling > SCALING_TARGET:
        missed.append(f"scaling {scaling:.2f}x > {SCALING_TARGET}x")
    if speedup < SPEEDUP_TARGET:
        missed.append(f"speed-up {speedup:.1f}x < {SPEEDUP_TARGET}x")
    print("FAIL: " + "; ".join(missed) if missed else "PASS")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", metavar="REV",
                        help="also time audit from this git revision, pair by pair")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="svcctl-bench-"))
    try:
        return run(directory, args.hosts, args.services, args.repeat, args.against)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
