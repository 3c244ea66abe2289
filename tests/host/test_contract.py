"""One contract, two transports: the same tests against LocalHost and SSHHost.

The SSH side talks to a real sshd on a simulated host, through paramiko, with
host keys verified against the testbed's known_hosts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcctl.errors import CommandTimeoutError, HostKeyError, HostUnreachableError
from svcctl.host.base import CommandFailedError, Host
from svcctl.host.local import LocalHost
from svcctl.host.quote import join
from svcctl.host.ssh import SSHHost, SSHTarget
from tests.conftest import Hosts

HOSTILE = [
    "plain",
    "$(touch /tmp/svcctl-pwned)",
    "`id`",
    "a; rm -rf /tmp/nothing",
    "it's \"quoted\"",
    "new\nline",
    "tab\there",
    "ünïcødé ✓",
    "&& || | > < *",
    "",
    "-n",
]


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Host, str]]:
    """(host, a scratch directory on it)."""
    if request.param == "local":
        yield LocalHost(), str(tmp_path)
        return
    hosts: Hosts = request.getfixturevalue("hosts")
    h = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=hosts.ssh_config))
    scratch = f"/tmp/contract-{time.time_ns()}"
    h.check(["mkdir", scratch])
    try:
        yield h, scratch
    finally:
        h.run(["rm", "-rf", scratch])
        h.close()


def test_argv_reaches_the_program_exactly(host: tuple[Host, str]) -> None:
    h, _ = host
    result = h.run(["printf", "%s\\0", *HOSTILE])
    assert result.rc == 0
    assert result.stdout.split("\0")[:-1] == HOSTILE
    assert h.run(["test", "-e", "/tmp/svcctl-pwned"]).rc == 1


def test_exit_code_and_streams_are_kept_apart(host: tuple[Host, str]) -> None:
    h, _ = host
    result = h.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    with pytest.raises(CommandFailedError, match="exited 7: err"):
        h.check(["sh", "-c", "echo err >&2; exit 7"])


def test_missing_program_is_127(host: tuple[Host, str]) -> None:
    h, _ = host
    assert h.run(["/nonexistent/program-x"]).rc == 127


def test_stdin_is_delivered(host: tuple[Host, str]) -> None:
    h, _ = host
    assert h.run(["cat"], stdin=b"hello\x00world").stdout == "hello\x00world"


def test_timeout_is_typed(host: tuple[Host, str]) -> None:
    h, _ = host
    start = time.monotonic()
    with pytest.raises(CommandTimeoutError, match=r"did not finish within 0\.5 s"):
        h.run(["sleep", "10"], timeout=0.5)
    assert time.monotonic() - start < 5


def test_files_are_written_atomically_with_mode(host: tuple[Host, str]) -> None:
    h, scratch = host
    path = f"{scratch}/a file; with $(spaces).plist"
    assert h.read_file(path) is None
    h.write_file(path, b"<plist>\xe2\x9c\x93</plist>", mode=0o640)
    assert h.read_file(path) == b"<plist>\xe2\x9c\x93</plist>"
    h.write_file(path, b"v2")
    assert h.read_file(path) == b"v2"
    # `ls -l` reads the mode on BSD and GNU alike (a Mac's stat has no -c: FACTS 5.4)
    assert h.check(["ls", "-l", path]).stdout.startswith("-rw-r--r--")
    leftovers = h.check(["ls", "-A", scratch]).stdout.split("\n")
    assert [x for x in leftovers if x] == ["a file; with $(spaces).plist"]


# -- SSH only: host keys, reachability, ssh_config -------------------------------------


def _target(hosts: Hosts, **kw: object) -> SSHTarget:
    return SSHTarget("tesseract", ssh_config=hosts.ssh_config, **kw)  # type: ignore[arg-type]


def _known_line(hosts: Hosts) -> str:
    rec = hosts.tb.record("tesseract")
    lines = hosts.tb.layout.known_hosts.read_text().splitlines()
    (line,) = [x for x in lines if x.startswith(f"[{rec.address}]:{rec.port} ")]
    return line


def _config_with_known_hosts(hosts: Hosts, tmp_path: Path, known: Path) -> Path:
    text = hosts.ssh_config.read_text().replace(str(hosts.tb.layout.known_hosts), str(known))
    cfg = tmp_path / "ssh_config"
    cfg.write_text(text)
    return cfg


def test_unknown_host_key_is_refused_with_a_remedy(hosts: Hosts, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    cfg = _config_with_known_hosts(hosts, tmp_path, known)
    with pytest.raises(HostKeyError) as err:
        SSHHost("tesseract", SSHTarget("tesseract", ssh_config=cfg)).run(["true"])
    assert "is not in" in err.value.one_line()
    assert "--accept-new-host-key" in err.value.one_line()
    assert not known.exists()


def test_accept_new_host_key_trusts_on_first_use_only(hosts: Hosts, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    cfg = _config_with_known_hosts(hosts, tmp_path, known)
    h = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=cfg, accept_new_host_key=True))
    assert h.run(["true"]).rc == 0
    h.close()
    saved = known.read_text().split()
    assert saved[1:] == _known_line(hosts).split()[1:]
    # now known: a plain connection (no opt-in) works
    assert SSHHost("tesseract", SSHTarget("tesseract", ssh_config=cfg)).run(["true"]).rc == 0


def test_changed_host_key_is_refused_even_with_accept_new(hosts: Hosts, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    entry = _known_line(hosts).split()[0]
    known = tmp_path / "known_hosts"
    known.write_text(f"{entry} {key.with_suffix('.pub').read_text().split()[0]} "
                     f"{key.with_suffix('.pub').read_text().split()[1]}\n")
    cfg = _config_with_known_hosts(hosts, tmp_path, known)
    for accept in (False, True):
        h = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=cfg, accept_new_host_key=accept))
        with pytest.raises(HostKeyError, match="CHANGED"):
            h.run(["true"])


def test_unreachable_host_is_a_typed_error(tmp_path: Path) -> None:
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host nowhere\n  HostName 127.77.0.0\n  Port 1\n  User ops\n")
    start = time.monotonic()
    with pytest.raises(HostUnreachableError, match=r"cannot connect to ops@127\.77\.0\.0:1"):
        SSHHost("nowhere", SSHTarget("nowhere", ssh_config=cfg, connect_timeout=3)).run(["true"])
    assert time.monotonic() - start < 10


def test_bad_ssh_config_port_and_broken_known_hosts_are_typed_errors(tmp_path: Path) -> None:
    # typed, so audit reports that one host unreachable instead of crashing the whole run
    broken = tmp_path / "known_hosts"
    broken.write_text("[127.77.0.0]:1 ssh-ed25519 !!!notbase64\n")
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host badport\n  HostName 127.77.0.0\n  Port twenty-two\n"
                   f"Host badkeys\n  HostName 127.77.0.0\n  Port 1\n"
                   f"  UserKnownHostsFile {broken}\n"
                   f"Host dirkeys\n  HostName 127.77.0.0\n  Port 1\n"
                   f"  UserKnownHostsFile {tmp_path}\n")
    with pytest.raises(HostUnreachableError, match="bad Port 'twenty-two'"):
        SSHHost("badport", SSHTarget("badport", ssh_config=cfg)).run(["true"])
    for alias in ("badkeys", "dirkeys"):
        with pytest.raises(HostKeyError, match="cannot read known_hosts"):
            SSHHost(alias, SSHTarget(alias, ssh_config=cfg, connect_timeout=3)).run(["true"])


def test_ssh_config_user_and_override(hosts: Hosts) -> None:
    assert SSHHost("t", _target(hosts)).check(["id", "-u"]).stdout.strip() == "501"
    as_root = SSHHost("t", _target(hosts, user="root"))
    assert as_root.check(["id", "-u"]).stdout.strip() == "0"


def test_remote_command_sees_exact_argv_not_a_shell(hosts: Hosts) -> None:
    h = SSHHost("t", _target(hosts))
    value = "x'; touch /tmp/injected; echo '"
    out = h.check(["sh", "-c", 'printf "%s" "$1"', "sh", value]).stdout
    assert out == value
    assert h.run(["test", "-e", "/tmp/injected"]).rc == 1
    assert join(["a b"]) == "'a b'"


def test_proxy_jump_through_another_host(hosts: Hosts, tmp_path: Path) -> None:
    """ProxyJump (one hop): reach tesseract through backup's sshd."""
    rec = hosts.tb.record("tesseract")
    base = hosts.ssh_config.read_text()
    identity = hosts.tb.layout.identity
    cfg = tmp_path / "ssh_config"
    cfg.write_text(base + f"""
Host tess-via-backup
  HostName {rec.address}
  Port {rec.port}
  User ops
  IdentityFile {identity}
  UserKnownHostsFile {hosts.tb.layout.known_hosts}
  ProxyJump backup
""")
    h = SSHHost("tess-via-backup", SSHTarget("tess-via-backup", ssh_config=cfg))
    try:
        # the same host as a direct connection: its own sshd_config (its address), its own /tmp
        direct = SSHHost("t", _target(hosts)).check(["cat", "/run/testbed/sshd_config"])
        assert h.check(["cat", "/run/testbed/sshd_config"]).stdout == direct.stdout
        marker = f"/tmp/jump-{time.time_ns()}"
        h.check(["touch", marker])
        assert SSHHost("t", _target(hosts)).run(["test", "-e", marker]).rc == 0
        assert hosts.ssh("backup", ["test", "-e", marker], check=False).returncode == 1
    finally:
        h.close()
    # and the jump really is taken: through a dead jump host there is no way in
    cfg.write_text(cfg.read_text().replace("ProxyJump backup", "ProxyJump nowhere") +
                   "\nHost nowhere\n  HostName 127.77.0.0\n  Port 1\n")
    with pytest.raises(HostUnreachableError, match=r"via nowhere"):
        SSHHost("tess-via-backup", SSHTarget("tess-via-backup", ssh_config=cfg)).run(["true"])


# -- feed: stdin streamed from chunks (a release's tar stream, issue 13) ---------------


def test_feed_streams_every_chunk_in_order(host: tuple[Host, str]) -> None:
    import hashlib

    h, _ = host
    chunks = [bytes([i]) * (300_000 + i) for i in range(12)]  # ~3.6 MB: past SSH's window
    r = h.feed(["shasum", "-a", "256"], iter(chunks), timeout=60)
    assert r.rc == 0, r.stderr
    assert r.stdout.split()[0] == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_feed_stops_sending_when_the_command_stops_reading(host: tuple[Host, str]) -> None:
    h, _ = host
    sent = []

    def endless() -> Iterator[bytes]:
        for i in range(2000):  # 2 GB if it were all sent
            sent.append(i)
            yield b"x" * 1_000_000

    start = time.monotonic()
    r = h.feed(["sh", "-c", "head -c 10 >/dev/null; echo stopped; echo why >&2; exit 5"],
               endless(), timeout=60)
    assert (r.rc, r.stdout, r.stderr) == (5, "stopped\n", "why\n")
    assert len(sent) < 100
    assert time.monotonic() - start < 30


def test_feed_cuts_stdin_when_the_chunks_fail(host: tuple[Host, str]) -> None:
    h, scratch = host

    def failing() -> Iterator[bytes]:
        yield b"half"
        raise ValueError("the source broke")

    with pytest.raises(ValueError, match="the source broke"):
        h.feed(["sh", "-c", f"cat > {scratch}/got; echo done > {scratch}/end"], failing())
    # the command saw end of file (or its session end), never more than was sent; ended
    # before its shell had opened `got` (a busy machine), it left no file at all
    deadline = time.monotonic() + 10
    while h.read_file(f"{scratch}/end") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert h.read_file(f"{scratch}/got") in (None, b"", b"half")
    assert h.run(["true"]).rc == 0  # the connection still serves


def test_feed_timeout_is_typed(host: tuple[Host, str]) -> None:
    h, _ = host
    start = time.monotonic()
    with pytest.raises(CommandTimeoutError, match=r"did not finish within 0\.5 s"):
        h.feed(["sleep", "10"], iter([b"x"]), timeout=0.5)
    assert time.monotonic() - start < 5


def test_a_kept_connection_wakes_once_a_second_and_closes_at_once(hosts: Hosts) -> None:
    """paramiko's transport thread wakes on its socket timeout (0.1 s by default) only to
    see whether it was closed: svcctl's waits 1 s, and close() still does not wait."""
    h = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=hosts.ssh_config))
    assert h.run(["true"]).rc == 0
    transport = h._connect().get_transport()
    assert transport is not None and transport.sock.gettimeout() == 1.0  # type: ignore[union-attr]
    t0 = time.monotonic()
    h.close()
    assert time.monotonic() - t0 < 0.5
