"""Every command's --help exits 0 and carries an example (issue #6)."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from svcctl.cli.main import app
from tests.service_kit import svcctl


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and group, found from the app itself so new commands are covered."""
    out: list[tuple[str, ...]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        out.append(path)
        # typer vendors its own click, so a group is recognised by its `commands`
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "svcctl")
def test_help_exits_0_and_shows_an_example(path: tuple[str, ...]) -> None:
    proc = svcctl(*path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: ")
    assert "Example" in proc.stdout, f"`svcctl {' '.join(path)} --help` has no example"
