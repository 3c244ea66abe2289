"""The deploy lock's shared directory must be one svcctl may trust (real sh, real files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from svcctl.scripts.lock import ACQUIRE

AS_501 = ["setpriv", "--reuid=501", "--regid=20", "--clear-groups"]


def _acquire(directory: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    lock = directory / "svc.lock"
    return subprocess.run([*(prefix or []), "sh", "-c", ACQUIRE.text, "sh", str(directory),
                           str(lock), f"{directory}/.tmp.XXXXXXXXXX", '{"record": 1}'],
                          capture_output=True, text=True, timeout=30)


def test_a_fresh_directory_is_created_sticky_and_the_lock_taken(tmp_path: Path) -> None:
    d = tmp_path / "locks"
    proc = _acquire(d)
    assert proc.returncode == 0, proc.stderr
    assert oct(d.stat().st_mode & 0o7777) == "0o1777"
    assert (d / "svc.lock").read_text() == '{"record": 1}'
    again = _acquire(d)
    assert (again.returncode, again.stdout) == (3, '{"record": 1}')  # held: the record


def test_a_symlinked_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o1777)
    (tmp_path / "locks").symlink_to(real)
    proc = _acquire(tmp_path / "locks")
    assert proc.returncode == 71 and "is a symbolic link" in proc.stderr
    assert list(real.iterdir()) == []


def test_the_directory_is_made_with_mkdir_m_and_never_chmod_ed_by_path(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    (tmp_path / "locks").symlink_to(target)  # planted before the first lock after boot
    assert _acquire(tmp_path / "locks").returncode == 71
    assert oct(target.stat().st_mode & 0o7777) == "0o755"  # was made 1777 (issue 10 §2)


def test_a_lock_file_that_is_a_symlink_is_refused_naming_its_owner(tmp_path: Path) -> None:
    d = tmp_path / "locks"
    d.mkdir(mode=0o1777)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (d / "svc.lock").symlink_to(victim)
    proc = _acquire(d)
    assert proc.returncode == 72 and "not a plain file (owner root)" in proc.stderr
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in d.iterdir()) == ["svc.lock"]  # no temp file left


def test_a_directory_of_another_user_is_refused_but_root_takes_it_over() -> None:
    base = Path(tempfile.mkdtemp(prefix="svcctl-lockdir-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        d = base / "locks"
        d.mkdir()
        os.chown(d, 502, 20)
        os.chmod(d, 0o1777)
        proc = _acquire(d, AS_501)  # uid 501 must not trust uid 502's directory
        assert proc.returncode == 71 and "owned by uid 502" in proc.stderr
        assert not (d / "svc.lock").exists()
        assert _acquire(d).returncode == 0  # root: chown to root, then lock as usual
        assert d.stat().st_uid == 0 and oct(d.stat().st_mode & 0o7777) == "0o1777"
    finally:
        shutil.rmtree(base)


def test_a_root_directory_others_may_write_without_sticky_is_refused() -> None:
    base = Path(tempfile.mkdtemp(prefix="svcctl-lockdir-", dir="/tmp"))  # uid 501 can reach it
    os.chmod(base, 0o755)
    d = base / "locks"
    d.mkdir()
    os.chmod(d, 0o777)  # root's, world-writable, not sticky: uid 501 cannot fix it
    proc = _acquire(d, AS_501)
    try:
        assert proc.returncode == 71 and "not sticky" in proc.stderr
        os.chmod(d, 0o1777)
        assert _acquire(d, AS_501).returncode == 0
    finally:
        shutil.rmtree(base)
