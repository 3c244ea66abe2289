"""Fixtures for the guard tests: a private, shared (1777) lock directory per test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture
def lock_dir() -> Iterator[str]:
    """A lock directory like /tmp/svcctl-guard, private to this test; uid 501 can use it."""
    path = tempfile.mkdtemp(prefix="svcctl-guard-test-", dir="/tmp")
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
