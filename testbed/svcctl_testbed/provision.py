"""Lay out one host's private files (HOSTDIR) before its namespaces start.

Everything here writes under HOSTDIR only; the real machine's /etc, /root and
/tmp are read (passwd, group, shadow are copied) but never changed.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

from svcctl_testbed.errors import TestbedError
from svcctl_testbed.layout import (
    OPS_GID,
    OPS_HOME,
    OPS_UID,
    OPS_USER,
    RUN_ROOT,
    SSH_PORT,
    SSHD_LABEL,
    HostDir,
)
from svcctl_testbed.userland import build_userland, emulator_python, find_mac_python

EMULATOR_SRC = Path(__file__).resolve().parent / "emulator"
SSHD = "/usr/sbin/sshd"


def _mkdir(path: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _write(path: Path, data: bytes | str, mode: int, uid: int = 0, gid: int = 0) -> None:
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(raw)
    os.chown(tmp, uid, gid)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _accounts() -> tuple[str, str, str]:
    """passwd, group and shadow for the host: the machine's own plus ops (uid 501)."""

    def without(path: str, keep: Any) -> list[str]:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return []
        return [line for line in lines if line and keep(line.split(":"))]

    passwd = without("/etc/passwd", lambda f: f[0] != OPS_USER and f[2:3] != [str(OPS_UID)])
    # login shells as on a Mac (FACTS 5.4): zsh for users, /bin/sh (bash as sh) for root
    passwd = [":".join([*f[:6], "/bin/sh"]) if f[0] == "root" else line
              for line, f in ((line, line.split(":")) for line in passwd)]
    passwd.append(f"{OPS_USER}:x:{OPS_UID}:{OPS_GID}:Operations:{OPS_HOME}:/bin/zsh")
    group = without("/etc/group", lambda f: f[0] != "staff" and f[2:3] != [str(OPS_GID)])
    group.append(f"staff:x:{OPS_GID}:{OPS_USER}")
    shadow = without("/etc/shadow", lambda f: f[0] != OPS_USER)
    # '*' (not '!') so that sshd without PAM does not treat the account as locked.
    shadow.append(f"{OPS_USER}:*:19000:0:99999:7:::")
    return ("\n".join(passwd) + "\n", "\n".join(group) + "\n", "\n".join(shadow) + "\n")


def _sshd_config(address: str) -> str:
    return "\n".join(
        [
            f"ListenAddress {address}:{SSH_PORT}",
            f"HostKey {RUN_ROOT}/ssh_host_ed25519_key",
            "PidFile none",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "StrictModes yes",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxStartups 200:30:400",
            "MaxSessions 100",
            "LogLevel ERROR",
            # A Mac's interactive and SSH shells carry XPC_SERVICE_NAME=0 (FACTS 3.4); the
            # exec PATH over SSH is _PATH_STDPATH (FACTS 5.4).
            "SetEnv XPC_SERVICE_NAME=0 PATH=/usr/bin:/bin:/usr/sbin:/sbin",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def _sshd_plist() -> bytes:
    job = {
        "Label": SSHD_LABEL,
        "ProgramArguments": [SSHD, "-D", "-e", "-f", f"{RUN_ROOT}/sshd_config"],
        "KeepAlive": True,
        "RunAtLoad": True,
        "ThrottleInterval": 1,
        "StandardErrorPath": f"{RUN_ROOT}/sshd.log",
        # sshd's session children live in their own sessions; a restart of sshd
        # must not take logged-in users' processes down with it.
        "AbandonProcessGroup": True,
    }
    return plistlib.dumps(job)


def ensure_host_key(hostdir: HostDir, name: str) -> str:
    """Create the host key once (it survives down/up, like a real host's); return the public key."""
    key = hostdir.host_key
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{name}", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    return key.with_suffix(".pub").read_text().split()[1]


def provision(hostdir: HostDir, name: str, address: str, client_pubkey: str,
              config: dict[str, Any]) -> str:
    """Create or refresh HOSTDIR; return the host's public key (base64 part)."""
    if not (EMULATOR_SRC / "setup.sh").exists():
        raise TestbedError(f"the launchd emulator is missing from {EMULATOR_SRC}")
    root = hostdir.root
    _mkdir(root, 0o755)
    for sub in ("sys", "sys/boot", "sys/overrides", "run", "Library",
                "Library/LaunchDaemons", "Library/LaunchAgents", "Users", "bin", "etc"):
        _mkdir(root / sub, 0o755)
    _mkdir(root / "tmp", 0o1777)
    _mkdir(root / "root", 0o700)
    _mkdir(root / "root" / ".ssh", 0o700)
    home = root / "Users" / OPS_USER
    for sub in ("", ".ssh", "Library", "Library/LaunchAgents", "Library/Logs"):
        _mkdir(home / sub if sub else home, 0o700 if sub == ".ssh" else 0o755, OPS_UID, OPS_GID)

    passwd, group, shadow = _accounts()
    _write(root / "etc" / "passwd", passwd, 0o644)
    _write(root / "etc" / "group", group, 0o644)
    _write(root / "etc" / "shadow", shadow, 0o640)

    keyline = f"ssh-ed25519 {client_pubkey} svcctl-testbed\n"
    _write(root / "root" / ".ssh" / "authorized_keys", keyline, 0o600)
    _write(home / ".ssh" / "authorized_keys", keyline, 0o600, OPS_UID, OPS_GID)

    # The emulator and the launchctl client run on the system interpreter as
    # root and as uid 501: copy them where both can read them.
    lib = hostdir.lib / "emulator"
    if lib.exists():
        shutil.rmtree(lib)
    shutil.copytree(EMULATOR_SRC, lib, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # compiled once here: ps runs as any user, who could not write the bytecode cache
    subprocess.run([emulator_python(), "-m", "compileall", "-q", str(lib)], check=True,
                   capture_output=True)
    for path in [hostdir.lib, *hostdir.lib.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    # the layer setup.sh lays over /usr: macOS's userland, /bin/launchctl among it
    config = dict(config)
    clt = bool(config.pop("command_line_tools", True))  # a userland quirk, not launchd's
    build_userland(root, emulator_python(), find_mac_python(), command_line_tools=clt)
    _mkdir(root / "Library" / "Developer" / "CommandLineTools" / "usr", 0o755)
    _write(root / "etc" / "zshenv", "", 0o644)  # a Mac has no /etc/zshenv; Debian's sets PATH

    _write(hostdir.sys / "sshd_config", _sshd_config(address), 0o644)
    _write(hostdir.sys / "boot" / f"{SSHD_LABEL}.plist", _sshd_plist(), 0o644)
    _write(hostdir.config, json.dumps(config, indent=2, sort_keys=True) + "\n", 0o644)
    hostdir.ready.unlink(missing_ok=True)
    return ensure_host_key(hostdir, name)
