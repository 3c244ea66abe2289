#!/usr/bin/python3 -Es
"""`launchctl` for simulated macOS hosts: forwards argv to the launchd emulator.

Self-contained (stdlib only, no package imports): installed as /usr/local/bin/launchctl.
Sends one JSON line, prints the reply's `out`/`err` byte-exact, exits with its `rc`.
"""

from __future__ import annotations

import json
import os
import socket
import sys

DEFAULT_SOCKET = "/run/testbed/launchd.sock"


def _request() -> bytes:
    message = {"argv": sys.argv[1:], "cwd": _cwd(), "tty": _isatty()}
    return (json.dumps(message) + "\n").encode()


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "/"


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _exchange(path: str, payload: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    reply = json.loads(b"".join(chunks))
    if not isinstance(reply, dict):
        raise ValueError("reply is not an object")
    return reply


def _write(stream: object, text: object) -> None:
    if isinstance(text, str) and text:
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(text.encode("utf-8", "surrogateescape"))
            buffer.flush()


def main() -> int:
    path = os.environ.get("SVCCTL_LAUNCHD_SOCKET", DEFAULT_SOCKET)
    try:
        reply = _exchange(path, _request())
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sys.stderr.write(f"launchctl: cannot reach launchd at {path}: {reason}\n")
        return 1
    _write(sys.stdout, reply.get("out"))
    _write(sys.stderr, reply.get("err"))
    rc = reply.get("rc")
    return rc if isinstance(rc, int) and 0 <= rc <= 255 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
