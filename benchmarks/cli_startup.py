"""How fast `svcctl --help` answers, and that start-up stays free of heavy imports.

Run: .venv/bin/python benchmarks/cli_startup.py [--runs 20]
Targets: median wall time of `svcctl --help` <= 200 ms; importing svcctl.cli.main loads
none of paramiko, jinja2, psutil, yaml (they are imported inside the commands that use
them). Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 200.0
HEAVY = ("paramiko", "jinja2", "psutil", "yaml")
ROOT = Path(__file__).resolve().parents[1]


def svcctl_argv() -> list[str]:
    script = Path(sys.executable).parent / "svcctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "svcctl.cli.main"]


def time_help(runs: int) -> list[float]:
    argv = [*svcctl_argv(), "--help"]
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)  # warm the page cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def heavy_imports() -> list[str]:
    code = (
        "import json, sys\n"
        "import svcctl.cli.main\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT)
    loaded: list[str] = json.loads(proc.stdout)
    return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    times = time_help(args.runs)
    median = statistics.median(times)
    loaded = heavy_imports()
    print(f"svcctl --help over {args.runs} runs: median {median:.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}); target <= {TARGET_MS:.0f} ms")
    print(f"import svcctl.cli.main loads heavy modules: {', '.join(loaded) or 'none'} "
          f"(checked: {', '.join(HEAVY)})")
    missed = []
    if median > TARGET_MS:
        missed.append(f"--help median {median:.0f} ms > {TARGET_MS:.0f} ms")
    if loaded:
        missed.append(f"start-up imports {', '.join(loaded)}")
    print("FAIL: " + "; ".join(missed) if missed else "PASS")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
