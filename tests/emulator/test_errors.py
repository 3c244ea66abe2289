"""Error paths: FACTS texts and exit codes, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest
from jobs_fixtures import SLEEP
from launchd_harness import OPS_UID, PYTHON, Emulator, write_plist

pytestmark = pytest.mark.testbed


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text


def test_unknown_subcommand_and_usage(emu: Emulator) -> None:
    res = emu.launchctl("frobnicate", "x")
    assert (res.rc, res.out, res.err) == (1, "", "Unrecognized subcommand: frobnicate\n")
    res = emu.launchctl("bootstrap")
    assert res.rc == 64 and res.err.startswith("Usage: launchctl bootstrap")
    res = emu.launchctl("print", "nonsense/501/x")
    assert res.rc == 64
    assert res.err.startswith("Unrecognized target specifier. <service-target> takes a form of "
                              "<domain-target>/<service-id>.\n")
    res = emu.launchctl("kickstart", "gui/abc/x")
    assert res.rc == 64
    res = emu.launchctl("kickstart", "-z", "system/x")
    assert res.rc == 64
    _no_traceback(emu.log_text)


def test_malformed_plists(emu: Emulator) -> None:
    broken = emu.work / "broken.plist"
    broken.write_text("<plist><dict><key>Label</key>")
    no_label = write_plist(emu.work / "nolabel.plist", "x", SLEEP)
    no_label.write_bytes(no_label.read_bytes().replace(b"<key>Label</key>", b"<key>L</key>"))
    no_prog = write_plist(emu.work / "noprog.plist", "com.test.noprog")
    res = emu.launchctl("bootstrap", "system", str(broken))
    assert res.rc == 109 and res.err.endswith("Bootstrap failed: 109: Invalid property list\n")
    res = emu.launchctl("bootstrap", "system", str(no_label))
    assert res.rc == 110
    assert res.err.endswith("Bootstrap failed: 110: Invalid or missing service identifier\n")
    res = emu.launchctl("bootstrap", "system", str(no_prog))
    assert res.rc == 111
    assert res.err.endswith("Bootstrap failed: 111: Invalid or missing Program/ProgramArguments\n")
    os.chown(broken, OPS_UID, -1)
    res = emu.launchctl("bootstrap", "user/501", str(broken), uid=OPS_UID)
    assert (res.rc, res.err) == (5, "Bootstrap failed: 5: Input/output error\n"
                                    "Try re-running the command as root for richer errors.\n")
    res = emu.launchctl("bootstrap", "system", str(emu.work / "missing.plist"))
    assert res.rc == 5
    _no_traceback(res.err, emu.log_text)


def test_simple_verbs(emu: Emulator) -> None:
    assert emu.launchctl("error", "113").out == "113: Could not find specified service\n"
    assert emu.launchctl("error", "37").out == "37: Operation already in progress\n"
    assert emu.launchctl("managerpid", uid=OPS_UID).out == "1\n"
    assert emu.launchctl("manageruid", uid=OPS_UID).out == "501\n"
    assert emu.launchctl("managername", uid=OPS_UID).out == "Background\n"
    res = emu.launchctl("help")
    assert res.rc == 0 and "bootstrap" in res.out
    res = emu.launchctl("start", "com.test.nope")
    assert (res.rc, res.err) == (113, "")


def test_bad_requests_do_not_hurt_the_emulator(emu: Emulator) -> None:
    for payload in (b"not json\n", b"[1,2]\n", b'{"argv": "x"}\n', b"\n"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(emu.socket_path))
            sock.sendall(payload)
            data = sock.recv(65536)
        if data:
            assert json.loads(data)["rc"] == 1
    # admin requests need uid 0
    proc = subprocess.run(
        [PYTHON, "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
         "s.sendall(b'{\"admin\": \"ping\"}\\n'); print(s.recv(999).decode())",
         str(emu.socket_path)], user=OPS_UID, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["rc"] == 1
    assert emu.admin({"admin": "ping"}) == {"rc": 0, "out": "pong\n", "err": ""}
    assert emu.launchctl("managerpid").out == "1\n"


def test_client_without_emulator_prints_one_line(emu: Emulator) -> None:
    client = emu.lib / "emulator" / "client.py"
    proc = subprocess.run(
        [PYTHON, str(client), "list"], capture_output=True, text=True, check=False,
        env={"SVCCTL_LAUNCHD_SOCKET": str(emu.work / "nowhere.sock")},
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("launchctl: ")
    _no_traceback(proc.stderr)
