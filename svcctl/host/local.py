"""The local machine as a Host (subprocess; never a shell)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

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
            return self._not_started(args, exc)
        return Result(self.name, args, proc.returncode,
                      proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))

    def _not_started(self, args: tuple[str, ...], exc: OSError) -> Result:
        # as a shell would report it: 127 not found, 126 not executable
        rc = 127 if isinstance(exc, FileNotFoundError) else 126
        return Result(self.name, args, rc, "", f"{args[0]}: {exc.strerror}\n")

    def feed(self, argv: Sequence[str], chunks: Iterable[bytes], *,
             timeout: float = DEFAULT_TIMEOUT) -> Result:
        args = tuple(argv)
        deadline = time.monotonic() + timeout
        try:
            proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            return self._not_started(args, exc)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        got: dict[int, bytes] = {}
        readers = [threading.Thread(target=_read_all, args=(f, got, i), daemon=True)
                   for i, f in enumerate((proc.stdout, proc.stderr))]
        for t in readers:
            t.start()
        try:
            _write_all(proc.stdin, chunks, deadline)
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except (subprocess.TimeoutExpired, TimeoutError) as exc:
            proc.kill()
            proc.wait()
            raise CommandTimeoutError(
                f"{self.name}: `{' '.join(args)}` did not finish within {timeout:g} s"
            ) from exc
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        for t in readers:
            t.join()
        return Result(self.name, args, proc.returncode, got[0].decode(errors="replace"),
                      got[1].decode(errors="replace"))

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


def _read_all(stream: IO[bytes], into: dict[int, bytes], key: int) -> None:
    into[key] = stream.read()
    stream.close()


def _write_all(stdin: IO[bytes], chunks: Iterable[bytes], deadline: float) -> None:
    """Write until the chunks end or the command stops reading (a broken pipe)."""
    try:
        for chunk in chunks:
            if time.monotonic() > deadline:
                raise TimeoutError
            stdin.write(chunk)
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
