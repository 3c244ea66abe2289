"""`svcctl guard NAME [--lock-dir DIR] -- PROGRAM ARGS...`: the wrapper, as a subcommand.

All the work is `svcctl.guard.main`, the same code `python3 -m svcctl.guard` runs on a
host: take NAME's lock, exec PROGRAM holding it. Exit codes: 75 another instance holds
the lock, 127 PROGRAM not found, 126 not executable, 2 usage, 3 lock unusable.
"""

from __future__ import annotations

import typer

from svcctl import guard


def register(app: typer.Typer) -> None:
    """Add the `guard` command to `app`."""

    @app.command(
        "guard",
        context_settings={"ignore_unknown_options": True},
        help=(
            "Run PROGRAM holding service NAME's singleton lock, so that at most one "
            "instance runs on this host. Exit 75 (EX_TEMPFAIL) with one line naming the "
            "holder if another instance holds it; 127 if PROGRAM is not found.\n\n"
            "Example: svcctl guard shiva -- /usr/bin/python3 /Users/ops/shiva/main.py"
        ),
    )
    def guard_command(
        name: str = typer.Argument(..., help="Service name: one lock per name per host."),
        program: list[str] = typer.Argument(
            ..., help="PROGRAM [ARGS...], after --.", metavar="-- PROGRAM [ARGS...]"
        ),
        lock_dir: str | None = typer.Option(
            None,
            "--lock-dir",
            help=f"Lock directory (default ${guard.ENV_DIR} or {guard.DEFAULT_DIR}).",
        ),
    ) -> None:
        argv = [name, *(["--lock-dir", lock_dir] if lock_dir else []), "--", *program]
        raise typer.Exit(guard.main(argv, prog="svcctl guard"))
