"""The error tree. Each error knows its exit code and renders as one line.

The CLI translates any SvcctlError into `svcctl: error: <message>` on stderr and
exits with `exit_code`; nothing else escapes as a traceback (STYLE.md habit 6).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (README, `--help`)."""

    OK = 0
    FINDINGS = 1  # refused, or the audit found something: unsafe to proceed
    BAD_INPUT = 2  # usage, inventory, template or argument errors
    FAILED = 3  # did not converge, or rolled back
    LOCKED = 4  # another deploy holds the host's lock
    TEMPFAIL = 75  # svcctl.guard: another instance holds the service's lock (EX_TEMPFAIL)


class SvcctlError(Exception):
    """Base of every error svcctl raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class BadInputError(SvcctlError):
    """The user gave us something we cannot use: exit 2."""

    exit_code = ExitCode.BAD_INPUT


class InventoryError(BadInputError):
    """inventory.yaml is malformed; the message names file, line and key."""


class RenderError(BadInputError):
    """A template failed to render, or rendered an invalid plist."""


class PrivilegeError(SvcctlError):
    """The operation needs privileges we do not have."""

    exit_code = ExitCode.BAD_INPUT


class HostError(SvcctlError):
    """A host could not be reached or a command on it could not be run."""

    exit_code = ExitCode.FAILED


class HostUnreachableError(HostError):
    """Connecting failed (DNS, refused, timeout, authentication)."""


class HostKeyError(HostError):
    """The host key is unknown or changed; never trusted silently."""


class CommandTimeoutError(HostError):
    """A remote or local command ran past its deadline."""


class ParseError(SvcctlError):
    """Output we read (launchctl, ps) did not have the shape we expect."""

    exit_code = ExitCode.FAILED


class RefusedError(SvcctlError):
    """svcctl refuses to proceed because proceeding would be unsafe: exit 1."""

    exit_code = ExitCode.FINDINGS


class LockHeldError(SvcctlError):
    """Another deploy holds the per-host lock: exit 4."""

    exit_code = ExitCode.LOCKED
