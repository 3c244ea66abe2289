"""Where a testbed keeps its files, on the real machine and inside each host."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from svcctl_testbed.errors import TestbedUsageError

# Inside a host (DESIGN.md): the emulator's root and the login user, as on a Mac.
RUN_ROOT = "/run/testbed"
OPS_USER = "ops"
OPS_UID = 501
OPS_GID = 20  # "staff", a Mac user's primary group
OPS_HOME = "/Users/ops"
SSH_PORT = 2022
SSHD_LABEL = "com.openssh.sshd"
DEFAULT_HOST = "tesseract"

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def default_dir() -> Path:
    """DIR: $SVCCTL_TESTBED_DIR, else the user's cache directory."""
    explicit = os.environ.get("SVCCTL_TESTBED_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "svcctl" / "testbed"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise TestbedUsageError(
            f"invalid testbed host name {name!r}: use lower-case letters, digits and '-', "
            "starting with a letter (at most 31 characters)"
        )
    return name


@dataclass(frozen=True)
class HostDir:
    """HOSTDIR: one host's files on the real machine, bind-mounted into the host."""

    root: Path

    @property
    def sys(self) -> Path:  # -> /run/testbed
        return self.root / "sys"

    @property
    def lib(self) -> Path:
        return self.sys / "lib"

    @property
    def socket(self) -> Path:
        return self.sys / "launchd.sock"

    @property
    def ready(self) -> Path:
        return self.sys / "ready"

    @property
    def log(self) -> Path:
        return self.sys / "launchd.log"

    @property
    def console_log(self) -> Path:
        """What unshare and the setup script print (outside the host)."""
        return self.root / "console.log"

    @property
    def config(self) -> Path:
        return self.sys / "emulator.json"

    @property
    def host_key(self) -> Path:
        return self.sys / "ssh_host_ed25519_key"

    def path_in_host(self, absolute: str) -> Path:
        """The real-machine path behind an absolute path inside the host."""
        mapping = {
            "/run/testbed": self.sys,
            "/Users": self.root / "Users",
            "/Library": self.root / "Library",
            "/tmp": self.root / "tmp",
            "/root": self.root / "root",
            "/usr/local/bin": self.root / "bin",
            "/run": self.root / "run",
        }
        for prefix, real in mapping.items():
            if absolute == prefix or absolute.startswith(prefix + "/"):
                return real / absolute[len(prefix) :].lstrip("/")
        raise TestbedUsageError(f"{absolute} is not private to a testbed host")


@dataclass(frozen=True)
class Layout:
    """DIR: the files `svcctl testbed up` writes for users and tests."""

    root: Path

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def identity(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def host(self, name: str) -> HostDir:
        return HostDir(self.root / "hosts" / check_name(name))
