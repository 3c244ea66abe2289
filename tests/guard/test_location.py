"""Where the lock lives: one path per service for every user, and refusing unsafe ones."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from svcctl.guard import (
    DEFAULT_DIR,
    ENV_DIR,
    AlreadyRunning,
    BadGuardName,
    GuardError,
    acquire,
    check_dir,
    lock_path,
)
from tests.guard.support import OTHER_GID, OTHER_UID, Agent, can_switch_user

needs_root = pytest.mark.skipif(not can_switch_user(), reason="needs root to act as uid 501")


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_one_default_path_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DIR, raising=False)
    assert DEFAULT_DIR == "/tmp/svcctl-guard"  # not $TMPDIR: per user on macOS
    assert lock_path("com.example.shiva") == "/tmp/svcctl-guard/com.example.shiva.lock"
    monkeypatch.setenv(ENV_DIR, "/srv/locks")
    assert lock_path("shiva") == "/srv/locks/shiva.lock"
    assert lock_path("shiva", "/elsewhere") == "/elsewhere/shiva.lock"


@pytest.mark.parametrize("name", ["", "a/b", "..", "../x", "a..b", ".hidden", "x" * 200, "a b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(BadGuardName) as exc:
        lock_path(name)
    assert exc.value.exit_code == 2


def test_directory_and_file_are_shared_whatever_the_umask(lock_dir: str, umask_077: None) -> None:
    fresh = os.path.join(lock_dir, "fresh")
    with acquire("shiva", lock_dir=fresh) as guard:
        assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o1777
        assert stat.S_IMODE(os.stat(guard.path).st_mode) == 0o666


def test_check_dir() -> None:
    assert check_dir(0o41777, 0, 501) is None
    assert check_dir(0o40755, 501, 501) is None
    assert check_dir(0o40700, 0, 0) is None
    assert "sticky" in (check_dir(0o40777, 0, 0) or "")
    assert "sticky" in (check_dir(0o40775, 0, 0) or "")
    assert "owned by uid 502" in (check_dir(0o41777, 502, 501) or "")


def test_a_world_writable_directory_without_sticky_bit_is_refused(lock_dir: str) -> None:
    unsafe = os.path.join(lock_dir, "unsafe")
    os.mkdir(unsafe)
    os.chmod(unsafe, 0o777)
    with pytest.raises(GuardError, match="without the sticky bit") as exc:
        acquire("shiva", lock_dir=unsafe)
    assert exc.value.exit_code == 3


@needs_root
def test_a_private_directory_of_another_user_is_refused(lock_dir: str) -> None:
    theirs = os.path.join(lock_dir, "theirs")
    os.mkdir(theirs, 0o755)
    os.chown(theirs, OTHER_UID, OTHER_GID)
    with pytest.raises(GuardError, match="owned by uid 501"):
        acquire("shiva", lock_dir=theirs)


@needs_root
def test_root_takes_over_a_shared_directory_a_user_made_first(lock_dir: str) -> None:
    shared = os.path.join(lock_dir, "shared")
    user = Agent("hold", shared, "shiva", uid=OTHER_UID)  # 501 creates it, and the file
    try:
        user.report()
        assert os.stat(shared).st_uid == OTHER_UID
        acquire("other", lock_dir=shared).release()  # root neither refuses nor waits
        assert os.stat(shared).st_uid == 0
        assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
        with pytest.raises(AlreadyRunning):  # and 501's lock is untouched
            acquire("shiva", lock_dir=shared)
        other = Agent("hold", shared, "other", uid=OTHER_UID)  # 501 can still use it
        assert other.report()["pid"] == other.pid
        other.kill()
    finally:
        user.kill()


@needs_root
def test_root_and_uid_501_share_a_file_whoever_created_it(lock_dir: str) -> None:
    # An existing file is opened without O_CREAT, which fs.protected_regular would refuse
    # to root for a uid-501 file in a sticky directory.
    for creator, second in ((OTHER_UID, None), (None, OTHER_UID)):
        name = f"made-by-{creator}"
        first = Agent("hold", lock_dir, name, uid=creator)
        first.report()
        assert first.finish() == 0
        first.kill()
        taker = Agent("hold", lock_dir, name, uid=second)
        try:
            assert taker.report()["pid"] == taker.pid
        finally:
            taker.kill()


def test_a_symlink_at_the_lock_path_is_refused(lock_dir: str) -> None:
    target = os.path.join(lock_dir, "precious")
    with open(target, "w") as f:
        f.write("keep me")
    os.symlink(target, lock_path("shiva", lock_dir))
    with pytest.raises(GuardError):
        acquire("shiva", lock_dir=lock_dir)
    with open(target) as f:
        assert f.read() == "keep me"


def test_a_hard_link_at_the_lock_path_is_refused(lock_dir: str) -> None:
    target = os.path.join(lock_dir, "precious")
    with open(target, "w") as f:
        f.write("keep me")
    os.chmod(target, 0o666)
    os.link(target, lock_path("shiva", lock_dir))
    with pytest.raises(GuardError, match="one link"):
        acquire("shiva", lock_dir=lock_dir)
    with open(target) as f:
        assert f.read() == "keep me"
