"""Real macOS output captured by people outside the project: ../shared/launchd/captures.

CI keeps a read-only copy of shared/ beside the clone, so the captures sit at
`<repo>/../shared/launchd/captures` (their sources are in SOURCES.md there). A missing
capture fails the test: a skipped parser test would prove nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "launchd" / "captures"


def capture(name: str) -> str:
    """The text of one capture, e.g. `ps/macos26_5_2_ps_eo_pid_ppid_lstart_comm.txt`."""
    path = CAPTURES / name
    if not path.is_file():
        pytest.fail(f"capture {name} not found under {CAPTURES}: shared/ must sit beside "
                    "the clone")
    return path.read_text(encoding="utf-8")


def capture_names() -> set[str]:
    """Every capture file, as `kind/file.txt`."""
    if not CAPTURES.is_dir():
        pytest.fail(f"{CAPTURES} not found: shared/ must sit beside the clone")
    return {str(p.relative_to(CAPTURES)) for p in CAPTURES.glob("*/*") if p.is_file()}
