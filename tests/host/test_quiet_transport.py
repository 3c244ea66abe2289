"""A connection reset under a kept SSH connection prints nothing of paramiko's own.

paramiko's transport thread logs `Socket exception: Connection reset by peer (104)` at
ERROR when the host goes away; with no logging configured, Python's last-resort handler
wrote that bare line to svcctl's stderr (`svcctl watch` with a host going down: a line
that is not svcctl's, found by test_watch_hosts). svcctl reports the failure itself, as a
HostError, when the connection is next used.

Real sshd on a simulated host, reached through a loopback relay that the test resets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from svcctl.host.ssh import SSHTarget, resolve
from tests.conftest import Hosts

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import select, socket, struct, sys, threading, time
from pathlib import Path
from svcctl.errors import HostError
from svcctl.host.ssh import SSHHost, SSHTarget

address, port, config = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
relay = socket.socket()
relay.bind(("127.0.0.1", 0))
relay.listen(1)
reset, was_reset = threading.Event(), threading.Event()

def serve():
    # one thread owns both sockets: a close while another thread sits in recv() on the
    # socket would be put off until that recv returns, and the reset never sent
    c, _ = relay.accept()
    up = socket.create_connection((address, port))
    other = {c: up, up: c}
    while not reset.is_set():
        ready, _, _ = select.select([c, up], [], [], 0.05)
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            other[sock].sendall(data)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # RST: the host went away under the kept connection
    up.close()
    was_reset.set()

threading.Thread(target=serve, daemon=True).start()
config.write_text(config.read_text().replace("PORT", str(relay.getsockname()[1])))
host = SSHHost("relayed", SSHTarget("relayed", ssh_config=config, accept_new_host_key=True))
assert host.run(["echo", "up"]).stdout == "up\n"
reset.set()
assert was_reset.wait(10), "the relay did not reset"
transport = host._client.get_transport()
deadline = time.monotonic() + 10
while transport.is_active() and time.monotonic() < deadline:
    time.sleep(0.05)
assert not transport.is_active(), "the reset was not seen"
try:
    host.run(["true"])
except HostError as exc:
    print("svcctl:", exc.one_line())
'''


def test_a_reset_connection_leaves_no_paramiko_line_on_stderr(hosts: Hosts,
                                                              tmp_path: Path) -> None:
    r = resolve(SSHTarget("tesseract", ssh_config=hosts.ssh_config))
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host relayed\n  HostName 127.0.0.1\n  Port PORT\n  User ops\n"
        f"  IdentityFile {hosts.tb.layout.identity}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, r.hostname, str(r.port), str(config)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("svcctl: relayed:"), proc.stdout  # svcctl said it
    assert proc.stderr == "", proc.stderr  # and nothing else did
