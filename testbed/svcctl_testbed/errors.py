"""The testbed's errors, apart from the product's own tree (svcctl/errors.py).

They subclass `SvcctlError`, the base every svcctl error shares, so that
`svcctl testbed` and `svcctl demo` report them as the rest of the CLI does: one line
on stderr and the exit code each carries (svcctl/cli/main.py). svcctl itself never
imports them (.importlinter).
"""

from __future__ import annotations

from svcctl.errors import ExitCode, SvcctlError


class TestbedError(SvcctlError):
    """The simulated macOS hosts could not be started, stopped or inspected: exit 3."""

    exit_code = ExitCode.FAILED


class TestbedUsageError(TestbedError):
    """A bad host name or path, or the caller is not root: exit 2."""

    exit_code = ExitCode.BAD_INPUT
