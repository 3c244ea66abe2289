"""Is shipping a release as fast as `scp -r`, and is an unchanged release nearly free?

Run (as root; it starts its own simulated host in a temporary DIR and stops it):
    .venv/bin/python benchmarks/release_upload.py [--files 2000] [--mb 50] [--repeat 5]

Measures, in one run, on the same host over real SSH (issue 13):
  (a) uploading a release of FILES files, MB megabytes in all (random bytes: nothing to
      compress), as a deploy would: connect, read the source (manifest: every file's
      sha256), the cheap check, then the tar stream into .incoming-ID, verified by the host
      and renamed; against `scp -r` of the same tree to the same host, alternately (A B A
      B ...), each pair's ratio: target median <= 1.2x;
  (b) the same release again (the id is there with the same checksum): reading the source
      and the check, over the deploy's open connection, in seconds: target <= 0.3 s, what
      it may add to a deploy without releases. Shown with and without the local read.
Prints medians and ratios; exits 1 if a target is missed.

`--once upload|check --dir DIR --host HOST --tree TREE` does one of (a) or (b) in a
process of its own against a testbed already up in DIR, for timing from outside
(/usr/bin/time, hyperfine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from svcctl.host.base import Host
from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.release.source import open_source, record_for, tar_chunks
from svcctl.scripts import release
from svcctl.scripts.release import Stored
from svcctl_testbed.control import Testbed

HOST = "bench"
HOME = "/Users/ops"
UPLOAD_TARGET = 1.2
CHECK_TARGET = 0.3


def make_tree(path: Path, files: int, total: int) -> None:
    """`files` files of random bytes in 40 directories, `total` bytes in all."""
    size = total // files
    for i in range(files):
        d = path / f"pkg{i % 40:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i:05d}.py").write_bytes(os.urandom(size))


def connect(ssh_config: Path, host: str) -> SSHHost:
    h = SSHHost(host, SSHTarget(host, ssh_config=ssh_config))
    h.run(["true"])  # connected and authenticated
    return h


def upload(ssh_config: Path, host: str, tree: Path, root: str, rid: str) -> None:
    """(a) as a deploy does it, from the connection on."""
    with connect(ssh_config, host) as h, open_source(tree) as src:
        record = record_for(src, rid, os.environ).to_json().encode()
        run = release.upload(h, root, rid, src.checksum, tar_chunks(src, record))
    if run.outcome is not Stored.UPLOADED:
        raise RuntimeError(f"upload: {run.outcome.value}: {run.result}")


def check_again(h: Host, tree: Path, root: str, rid: str, read: bool = True) -> None:
    """(b) on the deploy's connection: read the source, ask; nothing is sent."""
    if read:
        with open_source(tree) as src:
            checksum = src.checksum
    else:
        checksum = CHECKSUMS[tree]
    run = release.upload(h, root, rid, checksum, iter(()))
    if run.outcome is not Stored.PRESENT:
        raise RuntimeError(f"check: {run.outcome.value}: {run.result}")


CHECKSUMS: dict[Path, str] = {}


def scp(ssh_config: Path, host: str, tree: Path, dest: str) -> None:
    proc = subprocess.run(["scp", "-F", str(ssh_config), "-o", "BatchMode=yes", "-q", "-r",
                           str(tree), f"{host}:{dest}"],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"scp -> {proc.returncode}: {proc.stderr}")


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def line(what: str, times: list[float]) -> str:
    runs = " ".join(f"{t:.2f}" for t in times)
    return f"{what:<44} median {statistics.median(times):6.3f} s  [{runs}]"


def run(directory: Path, files: int, mb: int, repeat: int) -> int:
    tree = directory / "tree"
    make_tree(tree, files, mb * 1_000_000)
    tb = Testbed(directory / "testbed")
    cfg = tb.layout.ssh_config
    try:
        tb.up([HOST])
        root = f"{HOME}/bench-app"
        ours: list[float] = []
        theirs: list[float] = []

        def clean() -> None:
            with connect(cfg, HOST) as h:
                h.check(["rm", "-rf", root, f"{HOME}/scp-copy"])

        upload(cfg, HOST, tree, root, "warm")  # page cache, known_hosts, sshd's first fork
        scp(cfg, HOST, tree, f"{HOME}/scp-copy")
        for i in range(repeat):
            clean()
            ours.append(timed(partial(upload, cfg, HOST, tree, root, f"r{i}")))
            theirs.append(timed(partial(scp, cfg, HOST, tree, f"{HOME}/scp-copy")))
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        with open_source(tree) as src:
            CHECKSUMS[tree] = src.checksum
        rid = f"r{repeat - 1}"
        with connect(cfg, HOST) as h:
            check_again(h, tree, root, rid)  # warm
            full = [timed(partial(check_again, h, tree, root, rid)) for _ in range(repeat)]
            bare = [timed(partial(check_again, h, tree, root, rid, read=False))
                    for _ in range(repeat)]
    finally:
        tb.down()
    ratio, again = statistics.median(ratios), statistics.median(full)
    print(f"machine: {os.cpu_count()} CPUs, shared with the simulated host; "
          f"tree: {files} files, {mb} MB")
    print("(a) " + line("svcctl upload (connect, read, check, send)", ours))
    print("    " + line("scp -r", theirs))
    print(f"    ratio upload/scp: median {ratio:.2f} [{' '.join(f'{r:.2f}' for r in ratios)}] "
          f"(target <= {UPLOAD_TARGET}x)")
    print("(b) " + line("unchanged release: read the source + check", full))
    print("    " + line("unchanged release: the check alone", bare))
    print(f"    (target <= {CHECK_TARGET} s added to a deploy)")
    missed = []
    if ratio > UPLOAD_TARGET:
        missed.append(f"upload {ratio:.2f}x scp > {UPLOAD_TARGET}x")
    if again > CHECK_TARGET:
        missed.append(f"unchanged release {again:.3f} s > {CHECK_TARGET} s")
    print("FAIL: " + "; ".join(missed) if missed else "PASS")
    return 1 if missed else 0


def once(mode: str, directory: Path, host: str, tree: Path) -> int:
    cfg = Testbed(directory).layout.ssh_config
    root = f"{HOME}/bench-once"
    if mode == "upload":
        upload(cfg, host, tree, root, f"r{time.time_ns()}")  # a new id each time: kept
        return 0
    with connect(cfg, host) as h:
        with open_source(tree) as src:
            r = release.upload(h, root, "same", src.checksum,
                               tar_chunks(src, record_for(src, "same", {}).to_json().encode()))
        if r.outcome not in (Stored.UPLOADED, Stored.PRESENT):
            raise RuntimeError(f"{r.outcome.value}: {r.result}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--once", choices=("upload", "check"))
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--tree", type=Path)
    args = parser.parse_args()
    if args.once:
        if args.dir is None or args.tree is None:
            parser.error("--once needs --dir and --tree")
        return once(args.once, args.dir, args.host, args.tree)
    directory = Path(tempfile.mkdtemp(prefix="svcctl-bench-"))
    try:
        return run(directory, args.files, args.mb, args.repeat)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
