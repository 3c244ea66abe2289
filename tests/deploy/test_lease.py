"""The deploy lock's lease check, on the local machine's real files (no testbed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from svcctl.host.local import LocalHost
from svcctl.ops.lock import DeployLock, LockLostError, new_record


def test_ensure_held_passes_while_ours_and_names_the_new_holder_when_lost() -> None:
    lock = DeployLock(LocalHost(), f"lease-test-{os.getpid()}-{time.time_ns()}")
    lock.acquire(ttl=60, wait=0)
    try:
        lock.ensure_held()  # ours: nothing happens
        theirs = new_record(lock.service, 60)
        Path(lock.path).write_text(theirs.text())
        with pytest.raises(LockLostError, match=r"lost the deploy lock .*\(now held by"):
            lock.ensure_held()
        assert lock.release() == "no longer ours (taken over after expiry)"
        assert Path(lock.path).read_text() == theirs.text()  # theirs is left in place
    finally:
        Path(lock.path).unlink(missing_ok=True)
