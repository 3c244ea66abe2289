"""The deploy lock's lease check, on the local machine's real files (no testbed)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from svcctl.errors import LockHeldError
from svcctl.host.local import LocalHost
from svcctl.ops.lock import LOCK_DIR, DeployLock, LockLostError, new_record


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


def _contender(service: str, barrier: Any, results: Any) -> None:
    lock = DeployLock(LocalHost(), service)
    barrier.wait()
    try:
        got = lock.acquire(ttl=60, wait=1.0)
    except LockHeldError:
        results.put(None)
        return
    results.put(got.record.text())


def test_deployers_racing_for_an_expired_lock_leave_exactly_one_holder() -> None:
    """Six deployers find the same expired record at the same moment, ten times over.
    Exactly one may come away holding the lock, and its record must be the one in the
    file. (The takeover this replaced let a second one believe it held the lock in
    about one race in four: its record had been displaced.)"""
    ctx = multiprocessing.get_context("fork")
    for trial in range(10):
        service = f"race-{os.getpid()}-{time.time_ns()}"
        lock = DeployLock(LocalHost(), service)
        Path(LOCK_DIR).mkdir(mode=0o1777, exist_ok=True)
        Path(lock.path).write_text(new_record(service, -10).text())  # expired 10 s ago
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_contender, args=(service, barrier, results))
                 for _ in range(6)]
        try:
            for p in procs:
                p.start()
            outcomes = [results.get(timeout=60) for _ in procs]
            holders = [o for o in outcomes if o is not None]
            assert len(holders) == 1, f"trial {trial}: {len(holders)} holders"
            assert Path(lock.path).read_text() == holders[0]
            assert not Path(lock.breaker).exists()  # every takeover let go of the breaker
        finally:
            for p in procs:
                p.join(timeout=30)
            Path(lock.path).unlink(missing_ok=True)


def test_a_garbage_lock_file_is_taken_over(tmp_path: Path) -> None:
    lock = DeployLock(LocalHost(), f"garbage-{os.getpid()}-{time.time_ns()}")
    Path(LOCK_DIR).mkdir(mode=0o1777, exist_ok=True)
    Path(lock.path).write_text("not json at all\n\n")  # any local user can write this
    try:
        got = lock.acquire(ttl=60, wait=0)
        assert got.took_over is not None and got.took_over.who.startswith("unknown")
        assert Path(lock.path).read_text() == got.record.text()
        assert lock.release() == "released"
    finally:
        Path(lock.path).unlink(missing_ok=True)


def test_a_breaker_left_by_a_killed_takeover_is_cleared_after_a_minute() -> None:
    lock = DeployLock(LocalHost(), f"breaker-{os.getpid()}-{time.time_ns()}")
    Path(LOCK_DIR).mkdir(mode=0o1777, exist_ok=True)
    expired = new_record(lock.service, -10)
    Path(lock.path).write_text(expired.text())
    breaker = Path(lock.breaker)
    breaker.mkdir()
    try:
        # a fresh breaker is someone's takeover in progress: wait, then give up
        with pytest.raises(LockHeldError):
            lock.acquire(ttl=60, wait=0)
        assert Path(lock.path).read_text() == expired.text()  # untouched
        # two minutes old: its owner was killed mid-script (SIGKILL skips the trap)
        old = time.time() - 120
        os.utime(breaker, (old, old))
        got = lock.acquire(ttl=60, wait=0)
        assert got.took_over == expired
        assert not breaker.exists()
        assert lock.release() == "released"
    finally:
        Path(lock.path).unlink(missing_ok=True)
        if breaker.exists():
            breaker.rmdir()


def test_ensure_held_renews_the_lease_so_a_working_deploy_keeps_its_lock() -> None:
    lock = DeployLock(LocalHost(), f"renew-{os.getpid()}-{time.time_ns()}")
    first = lock.acquire(ttl=1, wait=0).record
    rival = DeployLock(LocalHost(), lock.service)
    try:
        time.sleep(1.2)  # the lease ran out while this deploy was still working
        lock.ensure_held()  # nobody took it: still ours, and renewed
        renewed = lock.held
        assert renewed is not None and renewed.token == first.token
        assert renewed.expires > first.expires and not renewed.expired(time.time())
        assert Path(lock.path).read_text() == renewed.text()
        with pytest.raises(LockHeldError):  # a live lease again: no takeover
            rival.acquire(ttl=60, wait=0)
        assert lock.release() == "released"
        assert not Path(lock.path).exists()
    finally:
        Path(lock.path).unlink(missing_ok=True)


def test_a_deploy_that_stopped_renewing_loses_its_lock_to_the_next() -> None:
    lock = DeployLock(LocalHost(), f"stale-{os.getpid()}-{time.time_ns()}")
    lock.acquire(ttl=1, wait=0)
    rival = DeployLock(LocalHost(), lock.service)
    try:
        time.sleep(1.2)  # no ensure_held meanwhile: a hung or killed deployer
        got = rival.acquire(ttl=60, wait=0)
        assert got.took_over is not None and not got.broken
        with pytest.raises(LockLostError, match=r"now held by"):
            lock.ensure_held()  # renewing must not steal it back
        assert Path(lock.path).read_text() == got.record.text()
        assert rival.release() == "released"
    finally:
        Path(lock.path).unlink(missing_ok=True)
