"""`svcctl demo`: the whole story on simulated hosts, for someone with no Mac at hand."""

from __future__ import annotations

from pathlib import Path

import typer

from svcctl.cli.testbed import testbed_extra


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        keep: bool = typer.Option(False, "--keep", help="Leave the hosts running afterwards."),
        directory: Path | None = typer.Option(
            None, "--dir", help="Working directory [default: ~/.cache/svcctl/demo]."),
    ) -> None:
        """Reproduce the March 29 incident on simulated hosts and repair it, narrated.

        Brings up two simulated Macs, deploys the example bot `shiva`, starts a copy by
        hand over SSH (the incident), then shows audit catching it, deploy refusing,
        adopt removing the stray, deploy succeeding and a clean audit. Each step is the
        exact command you would type, with its output. Needs root (namespaces) and
        the testbed extra (pip install 'svcctl[testbed]').
        Exit 0 when every step behaved as narrated, 1 otherwise.

        Example: svcctl demo --keep
        """
        with testbed_extra("svcctl demo"):
            from svcctl_testbed.demo.run import run_demo
            from svcctl_testbed.layout import default_dir

        workdir = directory or default_dir().parent / "demo"
        ok = run_demo(workdir.resolve(), keep, typer.echo)
        raise typer.Exit(0 if ok else 1)
