#!/usr/bin/python3 -Es
"""`launchctl` for simulated macOS hosts: forwards argv to the launchd emulator.

Self-contained (stdlib only, no package imports): installed as /bin/launchctl (userland.py).
Sends one JSON line, prints the reply's `out`/`err` byte-exact, exits with its `rc`.
It runs for every launchctl call on a host, so it stays lean: the C-level `_socket`
instead of `socket`, a hand-written JSON request and the emulator's length-prefixed
reply instead of the json module (about half the start-up cost).
"""

from __future__ import annotations

import _socket
import os
import sys

DEFAULT_SOCKET = "/run/testbed/launchd.sock"


def _quote(text: str) -> str:
    """A JSON string; argv may hold lone surrogates (undecodable bytes), kept as escapes."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _request() -> bytes:
    argv = ",".join(_quote(a) for a in sys.argv[1:])
    tty = "true" if _isatty() else "false"
    line = f'{{"argv": [{argv}], "cwd": {_quote(_cwd())}, "tty": {tty}, "raw": true}}\n'
    return line.encode("utf-8")


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


def _exchange(path: str, payload: bytes) -> tuple[int, bytes, bytes]:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.sendall(payload)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    head, sep, body = data.partition(b"\n")
    fields = head.split()
    if not sep or len(fields) != 3 or not all(f.isdigit() for f in fields):
        raise ValueError("malformed reply from launchd")
    rc, n_out, n_err = (int(f) for f in fields)
    if len(body) != n_out + n_err:
        raise ValueError("truncated reply from launchd")
    return rc, body[:n_out], body[n_out:]


def _write(stream: object, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if data and buffer is not None:
        buffer.write(data)
        buffer.flush()


def main() -> int:
    path = os.environ.get("SVCCTL_LAUNCHD_SOCKET", DEFAULT_SOCKET)
    try:
        rc, out, err = _exchange(path, _request())
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sys.stderr.write(f"launchctl: cannot reach launchd at {path}: {reason}\n")
        return 1
    _write(sys.stdout, out)
    _write(sys.stderr, err)
    return rc if 0 <= rc <= 255 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
