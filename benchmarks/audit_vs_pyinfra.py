"""`svcctl audit` against pyinfra 3 running the same batched probe on the same testbed hosts.

Run (as root; it starts its own simulated hosts in a temporary DIR and stops them):
    .venv/bin/python benchmarks/audit_vs_pyinfra.py --pyinfra BENCHVENV/bin/pyinfra \
        [--hosts 10] [--services 3] [--repeat 7]

pyinfra comes from the `bench` extra, in a virtualenv of its own: pyinfra 3 pins
paramiko < 5, and svcctl's own environment must keep the paramiko it is tested with.
    python3 -m venv BENCHVENV && BENCHVENV/bin/pip install -e '.[bench]'
Without --pyinfra, `pyinfra` is looked for beside this Python, then on PATH.

What each side does, as a user sees it (a fresh process each time, wall clock):
  - svcctl: `svcctl audit --json` (with `--host H` for one host): read the inventory and
    ssh_config, connect over SSH (paramiko), run ONE batched probe per host, parse and
    assess it, print the report;
  - pyinfra: `pyinfra -y INVENTORY deploy.py` (with `--limit H` for one host): read its
    inventory, connect over SSH (paramiko), run one `server.shell` operation per host whose
    command is the command line svcctl sends (the same `sh -c` batch of
    `svcctl.launchd.build_batch`, quoted by `svcctl.host.quote.join`), behind pyinfra's own
    `sh -c` wrapper, which `exec`s it, and print its summary. Same key, known_hosts, user,
    port.
So pyinfra does strictly less with the output (it parses and judges nothing): the ratio
svcctl/pyinfra is what svcctl's client costs above the bare transport, start-up included.
The two run in turn, round by round (A B A B ...), at 1 host and at all hosts; with
--against DIR, svcctl from that checkout runs in the same rounds (before/after a change).
Target (issue 12): median wall ratio svcctl/pyinfra <= 0.6 at both sizes; exits 1 if
missed. Also printed, the ratio of client CPU (user + sys of the local processes): the
client's cost without the hosts' share, the steadier figure on a busy machine. The hosts'
share (sshd, the probe's commands) is the same for both sides and bounds the wall ratio
from below: see what `ssh HOST PROBE` alone takes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# the sibling benchmark's set-up: hosts, services, fresh-process timing
from audit_scaling import ROOT, Timing, audit, deploy, measure, write_inventory

from svcctl.host.quote import join
from svcctl.inventory import load_inventory
from svcctl.launchd import build_batch
from svcctl.ops.audit import plan_probe, relevant_services
from svcctl_testbed.control import Testbed

TARGET = 0.6
NONCE = "0123456789abcdef0123456789abcdef"  # svcctl draws one per run; the shape is the same

DEPLOY = '''\
"""One operation: the probe command svcctl sends to this host, run as it is."""
from pyinfra import host
from pyinfra.operations import server

# pyinfra runs it as `sh -c '<command>'`; `exec` makes that sh become svcctl's `sh -c`
server.shell(name="svcctl audit probe", commands=["exec " + host.data.svcctl_probe])
'''

INVENTORY = '''\
"""The testbed's hosts, their SSH settings and probe commands, from hosts.json."""
import json
from pathlib import Path

hosts = list(json.loads((Path(__file__).parent / "hosts.json").read_text()).items())
'''


def probe_commands(inventory: Path) -> dict[str, str]:
    """Host -> the exact command line `svcctl audit` sends it (one batch, all services)."""
    inv = load_inventory(inventory)
    services = relevant_services(inv, None)
    return {name: join(build_batch(plan_probe(spec, services).commands, NONCE).argv)
            for name, spec in inv.hosts.items()}


def write_pyinfra(directory: Path, tb: Testbed, inventory: Path) -> tuple[Path, Path]:
    """pyinfra's inventory and deploy, with the SSH settings the testbed gives svcctl."""
    lay = tb.layout
    data = {}
    for name, command in probe_commands(inventory).items():
        rec = tb.record(name)
        data[name] = {
            "ssh_hostname": rec.address, "ssh_port": rec.port, "ssh_user": "ops",
            "ssh_key": str(lay.identity), "ssh_known_hosts_file": str(lay.known_hosts),
            "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
            "ssh_look_for_keys": False, "svcctl_probe": command,
        }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.json").write_text(json.dumps(data, indent=2))
    (directory / "inventory.py").write_text(INVENTORY)
    (directory / "deploy.py").write_text(DEPLOY)
    return directory / "inventory.py", directory / "deploy.py"


def find_pyinfra(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "pyinfra"
    found = str(beside) if beside.exists() else shutil.which("pyinfra")
    if found is None:
        raise SystemExit("pyinfra not found: install the `bench` extra in a venv of its own "
                         "and pass --pyinfra VENV/bin/pyinfra (see this file's docstring)")
    return found


def pyinfra(exe: str, inventory: Path, deploy: Path, *args: str) -> None:
    """One pyinfra run, which must succeed on every host it targets (its results table)."""
    proc = subprocess.run([exe, "-y", str(inventory), str(deploy), *args],
                          capture_output=True, text=True, timeout=120, cwd=deploy.parent,
                          check=False)
    out = proc.stdout + proc.stderr
    table = re.search(r"svcctl audit probe +(\d+) +(\d+) +- ", out)
    if proc.returncode != 0 or table is None or table.group(1) != table.group(2):
        raise RuntimeError(f"pyinfra {' '.join(args)} failed (exit {proc.returncode}): "
                           f"{out[-3000:]}")


def rounds(fns: dict[str, Callable[[], None]], repeat: int) -> dict[str, Timing]:
    """Each of `fns` once per round, in turn (A B C A B C ...), `repeat` rounds."""
    out = {name: Timing() for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            one = measure(fn, 1)
            out[name].wall += one.wall
            out[name].client_cpu += one.client_cpu
            out[name].machine_cpu += one.machine_cpu
    return out


def report(label: str, timings: dict[str, Timing]) -> float:
    """Each svcctl's median ratio to pyinfra, round by round; returns this tree's."""
    # what the hosts spend (sshd, the probe's commands) is the same whichever client asks;
    # on a machine whose cores the hosts share, it bounds every client's wall time
    hosts_cpu = statistics.median(m - c for t in timings.values()
                                  for m, c in zip(t.machine_cpu, t.client_cpu, strict=True))
    theirs = timings.pop("pyinfra")
    for name, ours in timings.items():
        print(ours.line(f"{name}, {label}"))
    print(theirs.line(f"pyinfra probe, {label}"))
    medians = {}
    for name, ours in timings.items():
        ratios = [a / b for a, b in zip(ours.wall, theirs.wall, strict=True)]
        cpu = [a / b for a, b in zip(ours.client_cpu, theirs.client_cpu, strict=True)]
        medians[name] = statistics.median(ratios)
        print(f"    {name}/pyinfra: wall median {medians[name]:.2f} "
              f"[{' '.join(f'{r:.2f}' for r in ratios)}], client cpu median "
              f"{statistics.median(cpu):.2f} (target: wall <= {TARGET})")
    cores = os.cpu_count() or 1
    print(f"    the hosts' own CPU (machine - client), median {hosts_cpu * 1000:.0f} ms: over "
          f"{cores} cores no client finishes under {hosts_cpu / cores * 1000:.0f} ms, "
          f"{hosts_cpu / cores / statistics.median(theirs.wall):.2f}x pyinfra's median wall")
    return medians["svcctl audit"]


def compile_bytecode(*trees: Path) -> None:
    """svcctl's bytecode, as an installed svcctl has it (pip and pipx compile it when they
    install; pyinfra's was). An editable checkout run under PYTHONDONTWRITEBYTECODE would
    compile ~40 modules from source on every run instead."""
    for tree in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "svcctl")],
                       check=True, stdout=subprocess.DEVNULL)


def run(directory: Path, exe: str, n_hosts: int, n_services: int, repeat: int,
        against: Path | None = None) -> int:
    tb = Testbed(directory / "testbed")
    hosts = [f"bench{i:02d}" for i in range(n_hosts)]
    try:
        t0 = time.perf_counter()
        tb.up(hosts)
        inventory = directory / "inventory.yaml"
        write_inventory(inventory, tb.layout.ssh_config, hosts, n_services)
        deploy(tb, inventory, hosts, n_services)
        py_inv, py_deploy = write_pyinfra(directory / "pyinfra", tb, inventory)
        print(f"set-up: {n_hosts} hosts x {n_services} services bootstrapped "
              f"in {time.perf_counter() - t0:.1f} s; pyinfra: {exe}")

        def sides(*only: str) -> dict[str, Callable[[], None]]:
            limit = ("--limit", only[0]) if only else ()
            host = ("--host", only[0]) if only else ()
            fns = {"svcctl audit": lambda: audit(inventory, *host)}
            if against is not None:
                fns[f"svcctl audit ({against.name})"] = \
                    lambda: audit(inventory, *host, tree=against)
            fns["pyinfra"] = lambda: pyinfra(exe, py_inv, py_deploy, *limit)
            return fns

        compile_bytecode(ROOT, *([against] if against is not None else []))
        for fn in sides().values():  # warm-ups: page cache, bytecode, sshd's first fork
            fn()
        one = rounds(sides(hosts[0]), repeat)
        every = rounds(sides(), repeat)
    finally:
        tb.down()

    print(f"machine: {os.cpu_count()} CPUs, shared by the clients and all {n_hosts} "
          f"simulated hosts; {repeat} rounds each; tree {ROOT}")
    r1 = report("1 host", one)
    rn = report(f"{n_hosts} hosts", every)
    missed = [f"{r:.2f}x at {what}" for r, what in ((r1, "1 host"), (rn, f"{n_hosts} hosts"))
              if r > TARGET]
    print("FAIL: " + "; ".join(missed) if missed else "PASS")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pyinfra", metavar="EXE", help="the pyinfra 3 command to compare")
    parser.add_argument("--against", metavar="DIR", type=Path,
                        help="also time svcctl from this checkout (e.g. a git worktree of "
                        "the previous commit), in the same rounds")
    args = parser.parse_args()
    exe = find_pyinfra(args.pyinfra)
    directory = Path(tempfile.mkdtemp(prefix="svcctl-bench-"))
    try:
        return run(directory, exe, args.hosts, args.services, args.repeat,
                   args.against.resolve() if args.against else None)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
