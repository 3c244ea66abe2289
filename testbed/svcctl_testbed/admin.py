"""The one client of the emulator's admin requests (DESIGN.md): a JSON line over its socket.

Root only (the socket is root's). `Testbed.admin` speaks to a running host through it,
and so does the tests' bare emulator harness (tests/emulator/launchd_harness.py).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from svcctl_testbed.errors import TestbedError


def admin_request(path: Path, request: dict[str, Any], timeout: float = 10.0,
                  who: str = "") -> dict[str, Any]:
    """Send one admin request to the emulator listening on `path` and return its reply;
    errors name `who` (e.g. `host tesseract`), else the socket."""
    who = who or f"emulator at {path}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise TestbedError(f"{who}: emulator not answering: {exc}") from exc
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise TestbedError(f"{who}: bad admin reply {data[:200]!r}") from exc
    return reply
