"""The single-threaded event loop: unix socket, self-pipe for signals, timer heap."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import socket
import struct
import time
from collections.abc import Callable
from types import FrameType

from .dispatch import handle_admin, handle_launchctl, handle_ps
from .loading import boot
from .manager import Manager
from .request import Reply, Request
from .timers import Timers

log = logging.getLogger("launchd")

MAX_REQUEST = 1 << 20


def _noop(signo: int, frame: FrameType | None) -> None:
    """A Python-level handler so the C handler writes to the wakeup fd."""


class Server:
    def __init__(self, mgr: Manager, timers: Timers) -> None:
        self.mgr = mgr
        self.timers = timers
        self.sel = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self.buffers: dict[socket.socket, bytes] = {}
        self.done = False
        self._wake_r = -1

    # ---- setup ---------------------------------------------------------------
    def _install_signals(self) -> None:
        # PID 1 ignores any signal it has no handler for (task brief); install them all.
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_r = rfd
        signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _noop)
        signal.signal(signal.SIGTERM, _noop)
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        self.sel.register(rfd, selectors.EVENT_READ, self._on_signal)

    def _listen(self) -> None:
        path = self.mgr.cfg.socket_path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o666)  # noqa: S103 every uid may talk to launchd (DESIGN.md)
        sock.listen(64)
        sock.setblocking(False)
        self.listener = sock
        self.sel.register(sock, selectors.EVENT_READ, self._on_accept)

    def run(self) -> int:
        ready = self.mgr.cfg.root / "ready"
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        self._install_signals()
        self._listen()
        boot(self.mgr)
        self.mgr.reap()  # anything that died before the handlers were in place
        ready.write_text(f"{os.getpid()}\n")
        log.info("ready")
        while not self.done:
            timeout = self.timers.next_timeout()
            for key, _ in self.sel.select(timeout):
                self._guarded(key.data, key.fileobj)
            self._guarded(lambda _: self.timers.run_due(), None)
        log.info("exiting")
        self._sweep()
        return 0

    @staticmethod
    def _sweep(timeout: float = 5.0) -> None:
        """Leave no process and no zombie: the jobs are gone, but sessions, strays and
        orphans may remain. As the namespace's init, SIGKILL them all and reap them here,
        rather than leave zombies to the real machine's init, which may reap them late."""
        if os.getpid() != 1:
            return  # the dev harness runs the emulator without a PID namespace of its own
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # from a namespace's init: everyone but itself
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.01)

    @staticmethod
    def _guarded(callback: Callable[[object], None], arg: object) -> None:
        """PID 1 must survive any bug: log it and keep serving (task brief: no traceback)."""
        try:
            callback(arg)
        except Exception:
            log.exception("internal error in the event loop")

    # ---- signals -------------------------------------------------------------
    def _on_signal(self, _fd: object) -> None:
        try:
            data = os.read(self._wake_r, 512)
        except BlockingIOError:
            return
        self.mgr.reap()  # whatever woke us, reaping is cheap and idempotent
        if int(signal.SIGTERM) in data and not self.mgr.shutting_down:
            log.info("SIGTERM: stopping every job")
            self._close_listener()
            self.mgr.shutdown(self._finish)

    def _finish(self) -> None:
        self.done = True

    def _close_listener(self) -> None:
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None

    # ---- connections ---------------------------------------------------------
    def _on_accept(self, sock: object) -> None:
        assert isinstance(sock, socket.socket)
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self.buffers[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, self._on_readable)

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()

    def _on_readable(self, conn: object) -> None:
        assert isinstance(conn, socket.socket)
        try:
            chunk = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        data = self.buffers.get(conn, b"") + chunk
        if b"\n" not in data and chunk and len(data) < MAX_REQUEST:
            self.buffers[conn] = data
            return
        self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        if not data.strip():
            conn.close()
            return
        self._serve(conn, data.split(b"\n", 1)[0])

    def _serve(self, conn: socket.socket, line: bytes) -> None:
        pid, uid, _gid = struct.unpack("3i", conn.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            self._send(conn, Reply(rc=1, err="launchd: malformed request\n"))
            return
        if "admin" in message:
            self._send(conn, handle_admin(self.mgr, uid, message))
            return
        if message.get("ps") is True:  # the ps/pgrep shim (DESIGN.md)
            self._send_bytes(conn, (json.dumps(handle_ps(self.mgr, uid, pid, message)) + "\n")
                             .encode("utf-8", "surrogateescape"))
            return
        argv = message.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            self._send(conn, Reply(rc=1, err="launchd: malformed request\n"))
            return
        cwd = message.get("cwd")
        request = Request(
            argv=argv,
            cwd=cwd if isinstance(cwd, str) and cwd.startswith("/") else "/",
            tty=message.get("tty") is True,
            uid=uid,
            pid=pid,
        )
        reply = handle_launchctl(self.mgr, request)
        raw = message.get("raw") is True
        job = reply.wait_for
        if job is not None:
            # `bootout --wait`: the reply is deferred until the job is removed (FACTS 2.2)
            reply.wait_for = None
            job.waiters.append(lambda: self._send(conn, reply, raw))
            return
        self._send(conn, reply, raw)

    @staticmethod
    def _send(conn: socket.socket, reply: Reply, raw: bool = False) -> None:
        if raw:
            # the client's lean form: `rc len(out) len(err)\n` then the bytes, so the
            # launchctl client needs no json module (it runs for every launchctl call)
            out = reply.out.encode("utf-8", "surrogateescape")
            err = reply.err.encode("utf-8", "surrogateescape")
            payload = b"%d %d %d\n" % (reply.rc, len(out), len(err)) + out + err
        else:
            text = json.dumps({"rc": reply.rc, "out": reply.out, "err": reply.err}) + "\n"
            payload = text.encode()
        Server._send_bytes(conn, payload)

    @staticmethod
    def _send_bytes(conn: socket.socket, payload: bytes) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(5.0)
            conn.sendall(payload)
        except OSError as exc:
            log.warning("could not send a reply: %s", exc)
        finally:
            conn.close()
