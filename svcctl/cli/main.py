"""`svcctl` entry point: builds the typer app and maps errors to exit codes.

Heavy modules (paramiko, jinja2; svcctl_testbed and psutil, the `testbed` extra) are
imported inside commands, never at start-up, so `svcctl --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from svcctl import __version__
from svcctl.cli import adopt as adopt_cli
from svcctl.cli import audit as audit_cli
from svcctl.cli import demo as demo_cli
from svcctl.cli import deploy as deploy_cli
from svcctl.cli import drift as drift_cli
from svcctl.cli import fence as fence_cli
from svcctl.cli import guard as guard_cli
from svcctl.cli import lifecycle as lifecycle_cli
from svcctl.cli import testbed as testbed_cli
from svcctl.errors import ExitCode, SvcctlError

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 findings or refused (unsafe to proceed); 2 bad input; "
    "3 failed (did not converge, rolled back, or interrupted); 4 another deploy holds the "
    "lock; "
    "75 (svcctl guard) another instance holds the service's lock."
)

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
app.add_typer(testbed_cli.app, name="testbed")
audit_cli.register(app)
demo_cli.register(app)
drift_cli.register(app)
deploy_cli.register(app)
adopt_cli.register(app)
fence_cli.register(app)
lifecycle_cli.register(app)
guard_cli.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svcctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    if debug:
        os.environ["SVCCTL_DEBUG"] = "1"


def main() -> None:
    """Console-script entry: typer handles usage errors (exit 2) and exits itself; any
    SvcctlError becomes one line on stderr and its documented exit code."""
    try:
        app()
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
