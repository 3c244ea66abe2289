"""Without the testbed extra, `svcctl testbed` and `svcctl demo` say what to install (issue 12).

svcctl_testbed and psutil come with `pip install 'svcctl[testbed]'`. The CLI runs in a
real interpreter in which one of them cannot be imported: `sys.modules[name] = None` is
how Python marks a module unimportable, so the next `import` of it raises the same
ModuleNotFoundError as when it is not installed. Everything else is the real svcctl.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

INSTALL = "pip install 'svcctl[testbed]'"
COMMANDS = [("testbed", "status"), ("testbed", "up", "tesseract"), ("testbed", "down"),
            ("testbed", "console", "tesseract", "on"), ("demo",)]


def _svcctl_without(module: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    block = f"sys.modules[{module!r}] = None; " if module else ""
    code = f"import sys; {block}sys.argv[0] = 'svcctl'; from svcctl.cli.main import main; main()"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("missing", ["svcctl_testbed", "psutil"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_missing_extra_is_one_line_saying_what_to_install(
    missing: str, command: tuple[str, ...], tmp_path: Path
) -> None:
    proc = _svcctl_without(missing, *command, "--dir", str(tmp_path / "tb"))
    name = "svcctl demo" if command[0] == "demo" else "svcctl testbed"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"svcctl: error: {name} needs the simulated hosts: {INSTALL} "
                           f"(cannot import {missing})\n")
    assert proc.stdout == ""
    assert not (tmp_path / "tb").exists()  # it stopped before doing anything


def test_with_the_extra_the_same_command_runs(tmp_path: Path) -> None:
    """The control: nothing blocked, `testbed status` reads the (empty) testbed."""
    proc = _svcctl_without(None, "testbed", "status", "--dir", str(tmp_path / "tb"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "no testbed hosts\n", "")


def test_help_works_without_the_extra_and_names_it() -> None:
    proc = _svcctl_without("svcctl_testbed", "testbed", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "svcctl[testbed]" in proc.stdout
