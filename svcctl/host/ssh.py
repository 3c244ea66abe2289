"""A remote host over SSH (paramiko): ssh_config, verified host keys, timeouts.

Commands are argv lists quoted once, here, with svcctl.host.quote.join (STYLE.md 5): no
inventory value ever reaches a remote shell unquoted, and the quoting holds for the login
shell sshd runs it through, zsh on a Mac as well as sh (FACTS 5.4). Host keys are checked
against known_hosts; an unknown key is refused unless the caller opted in to
trust-on-first-use, and a changed key is always refused.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import secrets
import select
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from svcctl.errors import CommandTimeoutError, HostError, HostKeyError, HostUnreachableError
from svcctl.host.base import DEFAULT_TIMEOUT, Host, Result
from svcctl.host.quote import join

# paramiko logs what its transport thread meets (`Socket exception: Connection reset by
# peer`) and configures no handler: Python's last resort then printed it, bare, on
# svcctl's stderr. svcctl reports a lost connection itself, as a HostError, on next use.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SSHTarget:
    """How to reach a host: an ssh_config alias plus optional overrides."""

    alias: str
    ssh_config: Path | None = None
    user: str | None = None
    accept_new_host_key: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    hostname: str | None = None  # overrides ssh_config's HostName
    port: int | None = None  # overrides ssh_config's Port


@dataclass(frozen=True)
class _Resolved:
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    known_hosts: tuple[str, ...]
    proxy_jump: str | None
    connect_timeout: float  # ssh_config's ConnectTimeout, else the target's


def resolve(target: SSHTarget) -> _Resolved:
    """Apply ssh_config (HostName, Port, User, IdentityFile, UserKnownHostsFile, ProxyJump,
    ConnectTimeout)."""
    cfg: dict[str, Any] = {}
    if target.ssh_config is not None:
        try:
            cfg = dict(paramiko.SSHConfig.from_path(str(target.ssh_config)).lookup(target.alias))
        except OSError as exc:
            raise HostUnreachableError(
                f"{target.alias}: cannot read ssh_config {target.ssh_config}: {exc.strerror}"
            ) from exc
    user = target.user or cfg.get("user") or os.environ.get("USER") or "root"
    known = cfg.get("userknownhostsfile")
    known_files = tuple(os.path.expanduser(k) for k in known.split()) if known else (
        os.path.expanduser("~/.ssh/known_hosts"),)
    jump = cfg.get("proxyjump")
    try:
        port = target.port or int(cfg.get("port", 22))
    except ValueError:
        raise HostUnreachableError(
            f"{target.alias}: bad Port {cfg.get('port')!r} in ssh_config {target.ssh_config}"
        ) from None
    return _Resolved(
        connect_timeout=_connect_timeout(target, cfg.get("connecttimeout")),
        hostname=target.hostname or str(cfg.get("hostname", target.alias)),
        port=port,
        user=str(user),
        identity_files=tuple(os.path.expanduser(p) for p in cfg.get("identityfile", [])),
        known_hosts=known_files,
        proxy_jump=None if jump in (None, "none") else str(jump),
    )


_TIME_PART = re.compile(r"([0-9]+)([smhdw]?)", re.IGNORECASE)
_TIME_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _connect_timeout(target: SSHTarget, value: str | None) -> float:
    """ssh_config(5) ConnectTimeout, in OpenSSH's time format (`30`, `1m30`, `2S`, as
    `ssh -G` reads them): for the TCP connect, the banner, and here also authentication
    and opening a session (svcctl's one connection timeout). `0` and `none`, OpenSSH's "no
    timeout", keep svcctl's own: a host that never answers must not hold svcctl forever."""
    if value is None or value.lower() == "none":
        return target.connect_timeout
    parts = _TIME_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise HostUnreachableError(f"{target.alias}: bad ConnectTimeout {value!r} in ssh_config "
                                   f"{target.ssh_config} (seconds, or a time such as 1m30)")
    seconds = sum(int(n) * _TIME_UNIT[u.lower()] for n, u in parts)
    return float(seconds) if seconds else target.connect_timeout


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """--accept-new-host-key: remember an unknown key; a changed key still fails."""

    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        Path(self.known_hosts).parent.mkdir(parents=True, exist_ok=True)
        with open(self.known_hosts, "a") as fh:
            fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class SSHHost(Host):
    def __init__(self, name: str, target: SSHTarget) -> None:
        self.name = name
        self.target = target
        self._client: paramiko.SSHClient | None = None
        self._jump: paramiko.SSHClient | None = None
        self._timeout = target.connect_timeout  # ssh_config's ConnectTimeout, once resolved

    # -- connection ----------------------------------------------------------------
    def _connect(self) -> paramiko.SSHClient:
        if self._client is not None:
            return self._client
        r = resolve(self.target)
        client = paramiko.SSHClient()
        for path in r.known_hosts:
            if os.path.exists(path):
                try:
                    client.load_host_keys(path)
                except (OSError, paramiko.SSHException, paramiko.hostkeys.InvalidHostKey,
                        ValueError) as exc:  # unreadable, or a corrupt line: fail closed
                    raise HostKeyError(f"{self.name}: cannot read known_hosts {path}: {exc}",
                                       hint="fix or remove the broken line") from exc
        if self.target.accept_new_host_key:
            client.set_missing_host_key_policy(_TrustOnFirstUse(r.known_hosts[0]))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self._timeout = r.connect_timeout
        sock = self._jump_channel(r) if r.proxy_jump else None
        where = f"{r.user}@{r.hostname}:{r.port}"
        try:
            client.connect(
                r.hostname, port=r.port, username=r.user,
                key_filename=list(r.identity_files) or None,  # type: ignore[arg-type]  # paramiko takes a list too
                timeout=r.connect_timeout, banner_timeout=r.connect_timeout,
                auth_timeout=r.connect_timeout, sock=sock,
                allow_agent=bool(os.environ.get("SSH_AUTH_SOCK")), look_for_keys=True,
                transport_factory=_transport,
            )
        except paramiko.BadHostKeyException as exc:
            raise HostKeyError(
                f"{self.name}: the host key of {r.hostname}:{r.port} CHANGED "
                f"(got {exc.key.get_name()} {exc.key.get_fingerprint().hex()})",
                hint="if the host was really reinstalled, remove the old key with "
                f"`ssh-keygen -R '[{r.hostname}]:{r.port}' -f {r.known_hosts[0]}` and verify "
                "the new one",
            ) from exc
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise HostKeyError(
                    f"{self.name}: the host key of {r.hostname}:{r.port} is not in "
                    f"{' or '.join(r.known_hosts)}",
                    hint="verify it and add it (ssh-keyscan -p PORT HOST >> known_hosts), or "
                    "pass --accept-new-host-key to trust it on first use",
                ) from exc
            raise HostUnreachableError(f"{self.name}: ssh to {where} failed: {exc}") from exc
        except (OSError, EOFError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise HostUnreachableError(
                f"{self.name}: cannot connect to {where}: {reason or type(exc).__name__}"
            ) from exc
        self._client = client
        return client

    def _jump_channel(self, r: _Resolved) -> paramiko.Channel:
        assert r.proxy_jump is not None
        hop = r.proxy_jump.split(",")[0]
        user, _, rest = hop.rpartition("@")
        alias, _, port = rest.partition(":")
        jump_target = SSHTarget(alias, self.target.ssh_config, user or None,
                                self.target.accept_new_host_key, self.target.connect_timeout,
                                port=int(port) if port else None)
        jump = SSHHost(f"{self.name} (via {alias})", jump_target)
        client = jump._connect()
        transport = client.get_transport()
        if transport is None:
            raise HostUnreachableError(f"{self.name}: jump host {alias} has no transport")
        self._jump = client
        try:
            return transport.open_channel("direct-tcpip", (r.hostname, r.port),
                                          ("127.0.0.1", 0))
        except (paramiko.SSHException, OSError) as exc:
            raise HostUnreachableError(f"{self.name}: jump via {alias} failed: {exc}") from exc

    def open(self) -> None:
        self._connect()

    def close(self) -> None:
        for client in (self._client, self._jump):
            if client is not None:
                client.close()
        self._client = self._jump = None

    # -- commands ------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
            stdin: bytes | None = None) -> Result:
        return self._exec(tuple(argv), None if stdin is None else (stdin,), timeout)

    def feed(self, argv: Sequence[str], chunks: Iterable[bytes], *,
             timeout: float = DEFAULT_TIMEOUT) -> Result:
        return self._exec(tuple(argv), chunks, timeout)

    def _exec(self, args: tuple[str, ...], chunks: Iterable[bytes] | None,
              timeout: float) -> Result:
        command = join(args)
        deadline = (time.monotonic() + timeout, timeout)
        client = self._connect()
        transport = client.get_transport()
        if transport is None or not transport.is_active():
            self.close()
            raise HostUnreachableError(f"{self.name}: the SSH connection was lost")
        try:
            chan = transport.open_session(timeout=self._timeout)
            chan.exec_command(command)
            got_out, got_err = bytearray(), bytearray()
            if chunks is not None:
                self._send(chan, chunks, args, deadline, got_out, got_err)
            if not chan.closed:
                chan.shutdown_write()
            out, err = self._drain(chan, args, deadline, got_out, got_err)
            rc = chan.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise HostUnreachableError(f"{self.name}: SSH failed while running "
                                       f"`{command}`: {exc}") from exc
        # -1: the channel closed without an exit status (the remote side was killed)
        return Result(self.name, args, 255 if rc == -1 else rc,
                      out.decode(errors="replace"), err.decode(errors="replace"))

    def _send(self, chan: paramiko.Channel, chunks: Iterable[bytes], args: tuple[str, ...],
              deadline: tuple[float, float], out: bytearray, err: bytearray) -> None:
        """Send the chunks, reading output meanwhile (a command that writes while it reads
        must not block on a full window); stop when the command stops reading."""
        chan.settimeout(0.2)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    if chan.exit_status_ready() or chan.closed:
                        return  # it exited: the rest is not wanted
                    self._check_deadline(chan, args, deadline)
                    try:
                        view = view[chan.send(bytes(view[:32768])):]
                    except TimeoutError:
                        pass  # no window yet: the command is busy, or gone (checked above)
                    except OSError:
                        if chan.closed:
                            return
                        raise
                    _take(chan, out, err)
        except BaseException:
            chan.close()  # stdin cut off: the command reads end of file, or loses its session
            raise
        finally:
            chan.settimeout(None)

    def _check_deadline(self, chan: paramiko.Channel, args: tuple[str, ...],
                        deadline: tuple[float, float]) -> float:
        """Seconds left before `deadline` (when, the timeout given); past it, typed."""
        remaining = deadline[0] - time.monotonic()
        if remaining <= 0:
            chan.close()
            raise CommandTimeoutError(f"{self.name}: `{join(args)}` did not finish within "
                                      f"{deadline[1]:g} s")
        return remaining

    def _drain(self, chan: paramiko.Channel, args: tuple[str, ...], deadline: tuple[float, float],
               out: bytearray, err: bytearray) -> tuple[bytes, bytes]:
        while True:
            remaining = self._check_deadline(chan, args, deadline)
            # the channel's fileno is readable on stdout data, stderr data or close
            select.select([chan], [], [], min(remaining, 1.0))
            _take(chan, out, err)
            if chan.exit_status_ready() and (chan.eof_received or chan.closed) and \
                    not chan.recv_ready() and not chan.recv_stderr_ready():
                return bytes(out), bytes(err)

    # -- files -----------------------------------------------------------------------
    def read_file(self, path: str) -> bytes | None:
        try:
            with self._connect().open_sftp() as sftp, sftp.open(path, "rb") as fh:
                data: bytes = fh.read()
                return data
        except FileNotFoundError:
            return None
        except (paramiko.SSHException, OSError) as exc:
            raise HostError(f"{self.name}: cannot read {path}: {exc}") from exc

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        tmp = posixpath.join(posixpath.dirname(path),
                             f".{posixpath.basename(path)}.{secrets.token_hex(4)}")
        try:
            with self._connect().open_sftp() as sftp:
                with sftp.open(tmp, "wb") as fh:
                    fh.write(data)
                sftp.chmod(tmp, mode)
                try:
                    sftp.posix_rename(tmp, path)
                except (OSError, paramiko.SSHException):
                    sftp.remove(tmp)
                    raise
        except (paramiko.SSHException, OSError) as exc:
            raise HostError(f"{self.name}: cannot write {path}: {exc}") from exc


class _Transport(paramiko.Transport):
    """paramiko's transport thread wakes on its socket's timeout only to see whether the
    transport was closed; `close()` never waits for that (stop_thread returns once the
    packetizer is closed). paramiko's 0.1 s cost a connection kept open ten wake-ups a
    second: `svcctl watch` over 10 hosts spent 0.75% of a core on nothing but that."""

    _active_check_timeout = 1.0


def _transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    """SSHClient's `transport_factory` (paramiko >= 2.12): a `_Transport`, given the
    arguments SSHClient passes, whichever they are in this paramiko."""
    return _Transport(sock, **kwargs)


def _take(chan: paramiko.Channel, out: bytearray, err: bytearray) -> None:
    while chan.recv_ready():
        out += chan.recv(65536)
    while chan.recv_stderr_ready():
        err += chan.recv_stderr(65536)
