"""`svcctl render` for a service with a `release:` (issue 13): the plist names the concrete
release, `<root>/releases/<id>`, never `current`; the id is --release or the source's own
(git commit, or a .tar.gz's sha256), and a source that cannot give one is one line, exit 2."""

from __future__ import annotations

import hashlib
import plistlib
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from svcctl.inventory import load_inventory
from svcctl.model import Domain
from svcctl.render import render_plist
from tests.service_kit import svcctl

ROOT = "/Users/ops/shiva"


def _inventory(tmp_path: Path, source: str = "build/") -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "hosts:\n"
        "  tesseract: {domain: user/501, home: /Users/ops}\n"
        "services:\n"
        "  shiva:\n"
        "    label: com.example.shiva\n"
        "    hosts: [tesseract]\n"
        "    program: ['{{ release }}/run.sh', --paper]\n"
        "    runs: [/usr/bin/python3, '{{ release }}/main.py']\n"
        "    working_directory: '{{ release }}'\n"
        "    environment: {SHIVA_STATE: '{{ release }}/state', MODE: paper}\n"
        "    stdout_path: '{{ release }}/logs/out.log'\n"
        "    release:\n"
        f"      root: {ROOT}\n"
        f"      source: {source}\n"
        "      shared: [state, logs]\n"
        "  plain:\n"
        "    label: com.example.plain\n"
        "    hosts: [tesseract]\n"
        "    program: [/bin/sleep, '60']\n"
        "    working_directory: /tmp\n")
    return inv


def _git(where: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(where), "-c", "user.name=t", "-c",
                           "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _build(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    build.mkdir()
    (build / "run.sh").write_text("#!/bin/sh\nexec /usr/bin/python3 main.py\n")
    (build / "main.py").write_text("print('shiva')\n")
    _git(build, "init", "-q")
    _git(build, "add", ".")
    _git(build, "commit", "-q", "-m", "one")
    return build


def _render(inv: Path, *args: str) -> dict[str, Any]:
    proc = svcctl("render", "shiva", "-i", str(inv), *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    job: dict[str, Any] = plistlib.loads(proc.stdout.encode())
    return job


def _fails(inv: Path, *args: str, service: str = "shiva") -> str:
    proc = svcctl("render", service, "-i", str(inv), *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line, = proc.stderr.splitlines()
    assert line.startswith("svcctl: error: "), line
    return line


def test_the_plist_names_the_release_given(tmp_path: Path) -> None:
    assert not (tmp_path / "build").exists()  # a given id needs no source
    job = _render(_inventory(tmp_path), "--release", "v1.2.3")
    rel = f"{ROOT}/releases/v1.2.3"
    assert job["ProgramArguments"] == [f"{rel}/run.sh", "--paper"]
    assert job["WorkingDirectory"] == rel
    assert job["EnvironmentVariables"] == {"SHIVA_STATE": f"{rel}/state", "MODE": "paper"}
    assert job["StandardOutPath"] == f"{rel}/logs/out.log"
    assert "current" not in str(job) and "{{" not in str(job)


def test_the_default_id_is_the_sources(tmp_path: Path) -> None:
    build = _build(tmp_path)
    inv = _inventory(tmp_path)
    commit = _git(build, "rev-parse", "--short", "HEAD")
    assert _render(inv)["ProgramArguments"][0] == f"{ROOT}/releases/{commit}/run.sh"
    (build / "main.py").write_text("print('changed')\n")
    assert _render(inv)["WorkingDirectory"] == f"{ROOT}/releases/{commit}-dirty"
    # an artifact: its sha256, shortened to 12
    artifact = tmp_path / "shiva.tar.gz"
    with tarfile.open(artifact, "w:gz") as tf:
        tf.add(build / "run.sh", arcname="run.sh")
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()[:12]
    job = _render(_inventory(tmp_path, source="shiva.tar.gz"))
    assert job["ProgramArguments"][0] == f"{ROOT}/releases/{digest}/run.sh"


def test_bad_sources_and_ids_are_one_line_exit_2(tmp_path: Path) -> None:
    inv = _inventory(tmp_path)  # build/ does not exist
    assert "build" in _fails(inv)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "main.py").write_text("x\n")
    assert "git" in _fails(inv)  # not a work tree: the id must be given
    assert "bad release id '../x'" in _fails(inv, "--release", "../x")
    assert "'plain' has no release" in _fails(inv, "--release", "v1", service="plain")


def test_a_service_without_release_renders_as_before(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    proc = svcctl("render", "plain", "-i", str(inv.path))
    assert proc.returncode == 0, proc.stderr
    plain = inv.services["plain"]
    assert proc.stdout.encode() == render_plist(plain, Domain.parse("user/501"),
                                                inv.templates_dir, home="/Users/ops").data
    job = plistlib.loads(proc.stdout.encode())
    assert job["ProgramArguments"] == ["/bin/sleep", "60"]
    assert job["WorkingDirectory"] == "/tmp"
