"""Fixtures for the launchd emulator suite: real emulators in real PID namespaces."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from launchd_harness import Emulator, emulator_session

# Quick defaults for tests; individual tests override per key.
FAST = {"throttle_interval": 1, "exit_timeout": 2}


def _require_testbed() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.fail("the emulator tests need root, unshare and nsenter (as the testbed does)")


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """`emulator_factory(**config)` starts an emulator; all are stopped at teardown."""
    _require_testbed()
    with contextlib.ExitStack() as stack:

        def make(**config: Any) -> Emulator:
            return stack.enter_context(emulator_session({**FAST, **config}))

        yield make


@pytest.fixture
def emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory()
