"""`svcctl testbed`: simulated macOS hosts for tests, demos and trying svcctl out.

The hosts live in `svcctl_testbed`, a package apart from the product, whose extra
dependencies come with `pip install 'svcctl[testbed]'`. This module and cli/demo.py are
the only places svcctl imports it (.importlinter), lazily and through `testbed_extra`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from svcctl.errors import BadInputError

if TYPE_CHECKING:
    from svcctl_testbed.control import Testbed

INSTALL_EXTRA = "pip install 'svcctl[testbed]'"
# the package itself and what the extra adds to svcctl's own dependencies (pyproject.toml)
_EXTRA_MODULES = frozenset({"svcctl_testbed", "psutil"})


@contextlib.contextmanager
def testbed_extra(command: str) -> Iterator[None]:
    """Around the imports of `svcctl_testbed`: if it or its extra is missing, say what to
    install in one line (exit 2) instead of a traceback."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _EXTRA_MODULES:
            raise
        raise BadInputError(
            f"{command} needs the simulated hosts: {INSTALL_EXTRA} (cannot import {missing})"
        ) from None

app = typer.Typer(
    help=(
        "Simulated macOS hosts: a launchd emulator as PID 1 in its own namespaces, sshd, "
        "a `launchctl` command and a uid-501 user `ops`. Needs root (Linux namespaces) "
        f"and the testbed extra ({INSTALL_EXTRA}).\n\n"
        "Example: svcctl testbed up tesseract backup && "
        "ssh -F ~/.cache/svcctl/testbed/ssh_config tesseract launchctl print user/501"
    ),
    no_args_is_help=True,
)

DirOption = typer.Option(
    None, "--dir", help="Where hosts keep their files [default: ~/.cache/svcctl/testbed]."
)


def _testbed(directory: Path | None) -> Testbed:
    with testbed_extra("svcctl testbed"):
        from svcctl_testbed.control import Testbed
        from svcctl_testbed.layout import default_dir

    return Testbed(directory or default_dir())


@app.command()
def up(
    names: list[str] = typer.Argument(None, help="Host names [default: tesseract]."),
    directory: Path | None = DirOption,
    console: bool = typer.Option(
        False, "--console", help="Log ops in at the console, so that gui/501 exists."
    ),
) -> None:
    """Start hosts (a second `up` is a no-op) and write DIR/ssh_config.

    Example: svcctl testbed up tesseract backup --dir .testbed
    """
    with testbed_extra("svcctl testbed"):
        from svcctl_testbed.layout import DEFAULT_HOST

    tb = _testbed(directory)
    for rec, started in tb.up(names or [DEFAULT_HOST], console=console):
        verb = "started" if started else "already running"
        gui = ", console session (gui/501)" if rec.console else ""
        typer.echo(f"{rec.name}: {verb} at {rec.address}:{rec.port}{gui}")
    cfg = tb.layout.ssh_config
    first = (names or [DEFAULT_HOST])[0]
    typer.echo(f"log in:   ssh -F {cfg} {first}        (as ops, uid 501)")
    typer.echo(f"as root:  ssh -F {cfg} root@{first}")


@app.command()
def down(
    names: list[str] = typer.Argument(None, help="Host names [default: all]."),
    directory: Path | None = DirOption,
) -> None:
    """Stop hosts: no process, mount or namespace is left behind.

    Example: svcctl testbed down --dir .testbed
    """
    stopped = _testbed(directory).down(names or None)
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def status(directory: Path | None = DirOption) -> None:
    """Show each host, its address and whether its sshd answers.

    Example: svcctl testbed status
    """
    rows = _testbed(directory).status()
    if not rows:
        typer.echo("no testbed hosts")
        return
    for row in rows:
        rec = row.record
        state = "running" if row.running else "stopped"
        ssh = "ssh ok" if row.ssh else "ssh down"
        gui = " console" if rec.console else ""
        typer.echo(f"{rec.name}\t{rec.address}:{rec.port}\t{state}\t{ssh}{gui}")
    if not all(r.running and r.ssh for r in rows):
        raise typer.Exit(1)


@app.command()
def console(
    name: str = typer.Argument(..., help="Host name."),
    state: str = typer.Argument(..., help="on | off"),
    directory: Path | None = DirOption,
) -> None:
    """Log ops in at the console (gui/501 exists) or out (gui/501 is torn down).

    Example: svcctl testbed console tesseract on
    """
    if state not in ("on", "off"):
        raise typer.BadParameter("state must be 'on' or 'off'")
    _testbed(directory).set_console(name, state == "on")
    typer.echo(f"{name}: console session {state}")
