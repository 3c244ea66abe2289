"""svcctl's fast parameter coercion (svcctl/cli/coercion.py) gives what typer's own gives.

Every parameter of every command, every sample value: the lazy runtime parameter and
typer's own (pydantic) one must return equal values of the same type, or raise the same
error with the same message. And a command given plain values never imports pydantic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import typer.main
from typer._click import Context

from svcctl.cli import coercion
from svcctl.cli.main import build_app

ROOT = Path(__file__).resolve().parents[2]

SAMPLES: list[Any] = [
    None, "", "x", "shiva", "a b", "-", "0", "7", "08", "32", "-1", "256", "257", "1000",
    " 5", "5 ", "3.5", "0.1", "5.", ".5", "2.50", "1e3", "inf", "nan", "1_000", "٣", "30s",
    "true", "no", "json", "TEXT", 0, 7, 300, -3, 2.5, 0.0, 5.0, 900.0, -1.5,
    float("nan"), True, (), ("a", "b"), ["c"], ("1", "2"), (1, 2),
]


def _params() -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        for p in getattr(cmd, "params", []):
            if isinstance(p, typer.core._TyperParameter):
                out.append((f"{path} {p.name}", cmd, p))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(build_app()), "svcctl")
    return out


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[Any, ...]:
    try:
        got = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # the outcome compared is the error itself
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return ("error", type(exc), message)
    return ("value", type(got), got)


def test_the_installed_typer_is_one_the_fast_path_was_checked_against() -> None:
    # a typer upgrade fails here first: re-run this file's comparison, then add its version
    assert coercion.verified(), f"typer {typer.__version__} is not in coercion.VERIFIED"
    assert coercion.install()
    assert getattr(typer.core.build_runtime_param, "svcctl_lazy", False)


def test_every_parameter_coerces_as_typer_does(tmp_path: Path) -> None:
    assert coercion.install()
    lazy = typer.core.build_runtime_param
    real = lazy.original  # type: ignore[attr-defined]
    unreadable_dir = tmp_path / "dir"
    unreadable_dir.mkdir()
    a_file = tmp_path / "inventory.yaml"
    a_file.write_text("hosts: {}\n")
    paths = [str(a_file), str(unreadable_dir), str(tmp_path / "missing.yaml")]
    params = _params()
    assert len(params) > 50, "the walk found too few parameters"
    served: set[tuple[str, str]] = set()
    for where, cmd, param in params:
        ctx = Context(cmd)
        descriptor = param.type_descriptor
        for value in [*SAMPLES, *paths, param.default]:
            fast = lazy(descriptor)
            want = _outcome(real(descriptor), value, param, ctx)
            got = _outcome(fast, value, param, ctx)
            assert got == want, f"{where} given {value!r}: fast {got}, typer {want}"
            if not fast._real:  # answered without building typer's own
                served.add((where, repr(value)))
    # the fast path is really used: a plain value of each fast type builds no adapter
    plain = {str: "shiva", list[str]: ("a", "b"), int: "7", float: "2.50", Path: str(a_file)}
    expected = {(where, repr(plain[p.type_descriptor.annotation])) for where, _, p in params
                if p.type_descriptor.annotation in plain and not p.type_descriptor.is_choice
                and p.type_descriptor.parameter_info.parser is None}
    assert len(expected) > 40
    assert expected <= served, sorted(expected - served)[:5]


def test_a_command_with_plain_values_never_imports_pydantic(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from svcctl.cli.main import main\n"
        "sys.argv = ['svcctl', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "print('pydantic' in sys.modules)\n"
    )
    argv = [sys.executable, "-c", probe, "audit", "-i", str(tmp_path / "none.yaml"),
            "--host", "h1", "-H", "h2", "--service", "s", "--concurrency", "3", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env,
                          check=False, timeout=60)
    # every option was coerced, then the missing inventory stopped it (exit 2)
    assert proc.stdout.splitlines() == ["exit 2", "False"], proc.stdout + proc.stderr
    assert "none.yaml" in proc.stderr


@pytest.mark.parametrize("value", ["0", "257", "x", "1.5"])
def test_a_bad_value_gets_typers_own_message(value: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "audit", "--concurrency",
                           value], capture_output=True, text=True, cwd=ROOT, check=False,
                          timeout=60)
    assert proc.returncode == 2
    assert "Invalid value for '--concurrency'" in proc.stderr


def test_no_default_needs_typers_own_coercion() -> None:
    # a command run with its defaults never builds a pydantic adapter (nor imports it)
    assert coercion.install()
    lazy = typer.core.build_runtime_param
    slow = []
    for where, cmd, param in _params():
        descriptor = param.type_descriptor
        if descriptor.annotation is bool and isinstance(param.default, bool):
            continue  # typer itself skips coercing a flag's bool
        fast = lazy(descriptor)
        fast.coerce(param.default, param=param, ctx=Context(cmd))
        if fast._real:
            slow.append(f"{where}={param.default!r}")
    assert not slow
