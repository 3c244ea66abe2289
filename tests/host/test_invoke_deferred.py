"""svcctl.host defers `invoke` (paramiko imports it for ssh_config `Match exec` only): the
deferral must save its import and must never change what paramiko does with a config.

Each check runs in a fresh interpreter, because the deferral acts at import time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_ssh_host_does_not_import_invoke() -> None:
    out = _python("import sys, svcctl.host.ssh\n"
                  "print('invoke.context' in sys.modules, 'unittest.mock' in sys.modules)")
    assert out == "False False", out


def test_a_match_exec_config_still_runs_its_command_through_invoke(tmp_path: Path) -> None:
    """`Match exec` is evaluated by paramiko through invoke.run: true matches, false does
    not, exactly as without the deferral."""
    config = tmp_path / "ssh_config"
    config.write_text(f'Match exec "test -e {tmp_path}/flag"\n  Port 2200\n'
                      "Host foo\n  HostName 10.1.2.3\n  User bob\n")
    code = (f"from pathlib import Path\n"
            f"from svcctl.host.ssh import SSHTarget, resolve\n"
            f"r = resolve(SSHTarget('foo', ssh_config=Path({str(config)!r})))\n"
            f"print(r.hostname, r.port, r.user)")
    assert _python(code) == "10.1.2.3 22 bob"
    (tmp_path / "flag").touch()
    assert _python(code) == "10.1.2.3 2200 bob"
