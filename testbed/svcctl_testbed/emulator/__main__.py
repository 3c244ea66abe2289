"""Entry point: `python3 -E -s -m emulator --root /run/testbed` (DESIGN.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import load_config
from .manager import Manager
from .server import Server
from .timers import Timers

log = logging.getLogger("launchd")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emulator", description="launchd emulator (PID 1)")
    parser.add_argument("--root", type=Path, default=Path("/run/testbed"))
    parser.add_argument("--passwd", type=Path, default=Path("/etc/passwd"),
                        help="dev: passwd file for uid lookups")
    parser.add_argument("--group", type=Path, default=Path("/etc/group"),
                        help="dev: group file for gid lookups")
    parser.add_argument("--library", type=Path, default=Path("/Library"),
                        help="dev: directory holding LaunchDaemons/ and LaunchAgents/")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root: Path = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=str(root / "launchd.log"),
        level=getattr(logging, args.log_level),
        format="%(asctime)s launchd[%(process)d] %(levelname)s %(message)s",
    )
    cfg = load_config(root, args.passwd, args.group, args.library)
    log.info("starting: root=%s config=%s", root, cfg)
    timers = Timers()
    try:
        return Server(Manager(cfg, timers), timers).run()
    except Exception:
        log.exception("fatal error")
        return 1


if __name__ == "__main__":
    sys.exit(main())
