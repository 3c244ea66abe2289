"""`svcctl` entry point: builds the typer app and maps errors to exit codes.

Heavy modules (paramiko, jinja2; svcctl_testbed and psutil, the `testbed` extra) are
imported inside commands, never at start-up, so `svcctl --help` stays fast. A run of one
command (`svcctl audit ...`) imports and registers that command's module only; anything
else (`svcctl --help`, a mistyped command, shell completion) gets every command. The
module attribute `app` is the whole app, built when first read.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from importlib import import_module

import typer

from svcctl import __version__
from svcctl.cli import coercion
from svcctl.errors import ExitCode, SvcctlError

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 findings or refused (unsafe to proceed); 2 bad input; "
    "3 failed (did not converge, rolled back, or interrupted); 4 another deploy holds the "
    "lock; "
    "75 (svcctl guard) another instance holds the service's lock."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svcctl {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    if debug:
        os.environ["SVCCTL_DEBUG"] = "1"


# command -> the svcctl.cli module that defines it, in `svcctl --help`'s order; `testbed`
# is a group of its own (cli/testbed.py's `app`), listed after the commands
COMMANDS: dict[str, str] = {
    "audit": "audit", "demo": "demo", "render": "drift", "diff": "drift",
    "deploy": "deploy", "restart": "deploy", "rollback": "deploy", "adopt": "adopt",
    "fence": "fence",
    "stop": "lifecycle", "start": "lifecycle", "status": "lifecycle", "logs": "lifecycle",
    "guard": "guard", "releases": "releases", "watch": "watch", "testbed": "testbed",
}


def build_app(commands: Sequence[str] | None = None) -> typer.Typer:
    """The app with these commands (by name), or with every command."""
    coercion.install()  # no pydantic for plain values: ~150 ms a command (cli/coercion.py)
    modules = dict.fromkeys(COMMANDS[c] for c in (commands or COMMANDS))
    app = typer.Typer(
        name="svcctl",
        help=(
            "Deploy, audit and repair launchd services on macOS hosts, so that exactly one "
            "instance of each service runs: launchd's own.\n\n" + EXIT_CODES_HELP + "\n\n"
            "Example: svcctl audit --host tesseract   (svcctl demo shows the whole story)"
        ),
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    for name in modules:
        module = import_module(f"svcctl.cli.{name}")
        if name == "testbed":
            app.add_typer(module.app, name="testbed")
        else:
            module.register(app)
    app.callback()(_root)
    return app


def _invoked(argv: Sequence[str], environ: dict[str, str]) -> list[str] | None:
    """The one command `argv` runs, if it names one; None when every command is needed:
    help, a word that is no command (click suggests the near ones), shell completion."""
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in environ):
        return None
    word = next((a for a in argv if not a.startswith("-")), None)  # root options are flags
    return [word] if word in COMMANDS else None


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        app = globals()["app"] = build_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry: typer handles usage errors (exit 2) and exits itself; any
    SvcctlError becomes one line on stderr and its documented exit code."""
    try:
        _run()
    finally:
        # The interpreter's last collection walks every object the run made (paramiko,
        # typer, the report): 35-50 ms of a one-host audit's ~650 (issue 12). Frozen
        # objects are left to the process's end instead; atexit handlers, finalizers and
        # thread joins run as before.
        gc.freeze()


def _run() -> None:
    try:
        build_app(_invoked(sys.argv[1:], dict(os.environ)))()
    except SvcctlError as exc:
        if os.environ.get("SVCCTL_DEBUG"):
            raise
        from svcctl.guard import printable  # host text may carry terminal escapes

        sys.stderr.write(f"svcctl: error: {printable(exc.one_line())}\n")
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.stderr.write("svcctl: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SVCCTL_DEBUG"):
            raise
        sys.stderr.write(
            f"svcctl: internal error: {type(exc).__name__}: {exc} (rerun with --debug)\n"
        )
        sys.exit(int(ExitCode.FAILED))


if __name__ == "__main__":
    main()
