"""setup.sh: the DESIGN.md bind mounts, then the emulator as PID 1 of a full namespace."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from launchd_harness import OPS_GID, OPS_UID, PACKAGE, write_plist

from tests.wait import wait_until

pytestmark = pytest.mark.testbed


def _hostdir() -> Path:
    # setup.sh pins HOSTDIR before it binds over /tmp or /root (DESIGN.md).
    base = Path(tempfile.mkdtemp(prefix="svcctl-host-", dir="/var/tmp"))
    for sub in ("sys/boot", "run", "Users/ops", "Library/LaunchDaemons", "Library/LaunchAgents",
                "tmp", "root", "bin", "etc"):
        (base / sub).mkdir(parents=True)
    os.chmod(base / "tmp", 0o1777)
    os.chown(base / "Users/ops", OPS_UID, OPS_GID)
    shutil.copytree(PACKAGE, base / "sys/lib/emulator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE / "client.py", base / "bin/launchctl")
    for name in ("passwd", "group", "shadow"):
        shutil.copy(f"/etc/{name}", base / "etc" / name)
    with (base / "etc/passwd").open("a") as fh:
        fh.write(f"ops:x:{OPS_UID}:{OPS_GID}:ops:/Users/ops:/bin/sh\n")
    return base


def test_setup_script_mounts_and_boots() -> None:
    assert os.geteuid() == 0, "the testbed needs root (PID and mount namespaces)"
    for mount_point in ("/Users", "/Library"):
        Path(mount_point).mkdir(exist_ok=True)  # as `svcctl testbed up` makes them
    base = _hostdir()
    # a boot daemon and a LaunchDaemon that report what they see through the bound /tmp
    write_plist(base / "sys/boot/com.test.boot.plist", "com.test.boot",
                ["/bin/sh", "-c", "ls /Users > /tmp/users"], RunAtLoad=True)
    write_plist(base / "Library/LaunchDaemons/com.test.ops.plist", "com.test.ops",
                ["/bin/sh", "-c", "id -un > /tmp/whoami; pwd >> /tmp/whoami"],
                RunAtLoad=True, UserName="ops", WorkingDirectory="/Users/ops")
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "--mount-proc",
         "--kill-child", "/bin/sh", str(base / "sys/lib/emulator/setup.sh"), str(base)],
        stdin=subprocess.DEVNULL,
    )
    pid1 = 0
    try:
        wait_until(lambda: proc.poll() is None and (base / "sys/ready").exists(), timeout=10)
        pid1 = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        wait_until(lambda: (base / "tmp/whoami").exists() and (base / "tmp/users").exists())
        assert (base / "tmp/users").read_text() == "ops\n"
        wait_until(lambda: (base / "tmp/whoami").read_text() == "ops\n/Users/ops\n")
        # the installed client, default socket path, from inside the namespace, as ops
        res = subprocess.run(
            ["nsenter", "-t", str(pid1), "-p", "-m", "--", "setpriv", "--reuid", str(OPS_UID),
             "--regid", str(OPS_GID), "--clear-groups", "/usr/local/bin/launchctl",
             "print", "system/com.test.ops"],
            capture_output=True, text=True, timeout=10, check=False, env={"PATH": "/usr/bin:/bin"},
        )
        assert res.returncode == 0, res
        assert "\tusername = ops\n" in res.stdout
        assert "\tlast exit code = 0\n" in res.stdout
        assert Path("/etc/passwd").read_text().count(":501:") == 0  # the host is untouched
    finally:
        if pid1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid1, signal.SIGTERM)
        try:
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(base, ignore_errors=True)
