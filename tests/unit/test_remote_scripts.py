"""The remote scripts (svcctl/scripts/*.sh): each used by one wrapper, each clean in shellcheck.

shellcheck runs twice per script: `-s sh` (POSIX: the Mac's /bin/sh is bash 3.2 in POSIX
mode, FACTS 5.4) and `-s bash`. shellcheck has no bash 3.2 mode; keeping to POSIX is what
keeps a script inside bash 3.2, and the bash pass catches what bash reads differently.
Both the files (following `. ./x.sh` with -x) and the exact texts sent are checked.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

import svcctl.scripts
from svcctl.scripts import Script, includes, owners
from svcctl.scripts.shell import not_a_mac

HERE = Path(svcctl.scripts.__file__).parent
FILES = sorted(p.name for p in HERE.glob("*.sh"))
MODES = ("sh", "bash")


def _wrappers() -> list[str]:
    names = [f"svcctl.scripts.{m.name}" for m in pkgutil.iter_modules([str(HERE)])]
    for name in names:
        importlib.import_module(name)
    return names


def _shellcheck() -> str:
    found = shutil.which("shellcheck")
    assert found, "shellcheck is missing: install Debian's `shellcheck` (scripts/setup does)"
    return found


def test_every_script_is_used_by_exactly_one_wrapper() -> None:
    modules = _wrappers()
    used: dict[str, set[str]] = defaultdict(set)
    for name, owner in owners().items():
        assert owner in modules, (name, owner)
        for f in (name, *includes(name)):
            used[f].add(owner)
    assert FILES, HERE
    assert sorted(used) == FILES  # no file unused, none declared that is not there
    shared = {f: sorted(o) for f, o in used.items() if len(o) != 1}
    assert shared == {}


def test_a_script_declared_by_a_second_wrapper_is_refused() -> None:
    _wrappers()
    name = FILES[0]
    with pytest.raises(RuntimeError, match="one wrapper per script"):
        Script(name, "tests.somewhere_else")
    assert owners()[name] != "tests.somewhere_else"


@pytest.mark.parametrize("mode", MODES)
def test_shellcheck_passes_every_file(mode: str) -> None:
    proc = subprocess.run([_shellcheck(), "-x", "-s", mode, *(str(HERE / f) for f in FILES)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("mode", MODES)
def test_shellcheck_passes_every_text_as_sent(mode: str, tmp_path: Path) -> None:
    """The loaded text (includes inlined, comments dropped) is what a host runs."""
    _wrappers()
    paths = []
    for name in owners():
        path = tmp_path / name
        path.write_text(svcctl.scripts.text(name))
        paths.append(str(path))
    proc = subprocess.run([_shellcheck(), "-s", mode, *paths],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_sent_text_has_its_includes_inlined_and_no_comment() -> None:
    from svcctl.scripts.lock import RELEASE

    text = RELEASE.text
    assert ". ./" not in text
    comments = [x for x in text.splitlines() if x.lstrip().startswith("#")]
    assert comments and all(x.lstrip().startswith("# shellcheck disable=") for x in comments)
    assert text.index("regular() {") < text.index("until mkdir") < text.index("exit 5")
    # and it runs: a lock file that is not there is "gone" (rc 5), a dir that is not, 71
    proc = subprocess.run(RELEASE.argv("/nonexistent-dir", "/x/.b", "/x/l", "rec"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 71 and "/nonexistent-dir is not a directory" in proc.stderr


def test_exit_127_alone_means_not_a_mac() -> None:
    found = not_a_mac("tesseract", 127)
    assert found is not None
    assert found.detail == "launchctl not found on tesseract: it is not a macOS host"
    assert found.refusal == "tesseract: launchctl not found: it is not a macOS host"
    assert "which machine `tesseract` reaches" in found.hint
    assert [rc for rc in (0, 1, 3, 112, 113, 126, 128) if not_a_mac("h", rc)] == []


def test_the_ps_probe_prints_the_marks_its_parser_splits_on() -> None:
    """ps_probe.sh's parts are split by svcctl.procs.parse_probe on two marks: the script
    must print exactly those, each as a line of its own."""
    from svcctl.procs.ps import CWD_MARK, REAL_MARK
    from svcctl.scripts.probe import PS_PROBE

    for mark in (CWD_MARK, REAL_MARK):
        assert f"printf '%s\\n' '{mark}'" in PS_PROBE.text, mark
