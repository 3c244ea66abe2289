"""The Host contract: run an argv, read and write files. Callers can't tell transports apart.

Like invoke/fabric's Runner/Result: every command returns a Result; failures are
typed by cause (unreachable, host key, timeout) and carry the command and an
output tail. No transport exception escapes `svcctl.host`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

from svcctl.errors import HostError
from svcctl.host.quote import join

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Result:
    host: str
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def tail(self, lines: int = 3) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return " | ".join(text[-lines:])


class CommandFailedError(HostError):
    """A command exited non-zero where success was required."""

    def __init__(self, result: Result) -> None:
        super().__init__(
            f"{result.host}: `{join(result.argv)}` exited {result.rc}: {result.tail()}"
        )
        self.result = result


class Host(ABC):
    """A machine we can run commands on. Use as a context manager to close it."""

    name: str

    @abstractmethod
    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
            stdin: bytes | None = None) -> Result:
        """Run argv (never through a shell unless argv says so) and wait for it."""

    @abstractmethod
    def feed(self, argv: Sequence[str], chunks: Iterable[bytes], *,
             timeout: float = DEFAULT_TIMEOUT) -> Result:
        """Run argv with `chunks` streamed to its stdin as they come, then end of file.

        For data too large to hold twice (a release's tar stream). If the command stops
        reading (it exits, or closes its stdin), the rest is not sent and the Result is
        still the command's own. If `chunks` raises, the command's stdin is cut off (it
        reads end of file, or the connection ends) and the exception propagates.
        """

    @abstractmethod
    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""

    @abstractmethod
    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write atomically: a temp name in the same folder, then rename (STYLE.md 5)."""

    def open(self) -> None:  # noqa: B027 - optional for transports with nothing to open
        """Connect now rather than at first use; raises HostError as that use would."""

    def close(self) -> None:  # noqa: B027 - optional for transports with nothing to close
        """Release the connection, if any."""

    def check(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Result:
        result = self.run(argv, timeout=timeout)
        if not result.ok:
            raise CommandFailedError(result)
        return result

    def __enter__(self) -> Host:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
