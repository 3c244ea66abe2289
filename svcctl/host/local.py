"""The local machine as a Host (subprocess; never a shell)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from svcctl.errors import CommandTimeoutError, HostError
from svcctl.host.base import DEFAULT_TIMEOUT, Host, Result


class LocalHost(Host):
    def __init__(self, name: str = "localhost") -> None:
        self.name = name

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
            stdin: bytes | None = None) -> Result:
        args = tuple(argv)
        try:
            proc = subprocess.run(
                args, input=stdin, capture_output=True, timeout=timeout,
                stdin=None if stdin is not None else subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeoutError(
                f"{self.name}: `{' '.join(args)}` did not finish within {timeout:g} s"
            ) from exc
        except OSError as exc:
            # as a shell would report it: 127 not found, 126 not executable
            rc = 127 if isinstance(exc, FileNotFoundError) else 126
            return Result(self.name, args, rc, "", f"{args[0]}: {exc.strerror}\n")
        return Result(self.name, args, proc.returncode,
                      proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))

    def read_file(self, path: str) -> bytes | None:
        try:
            return Path(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HostError(f"{self.name}: cannot read {path}: {exc.strerror}") from exc

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        target = Path(path)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, mode)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise HostError(f"{self.name}: cannot write {path}: {exc.strerror}") from exc
