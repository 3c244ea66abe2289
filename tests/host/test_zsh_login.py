"""Over real SSH to a simulated host whose `ops` login shell is zsh, as on a Mac (FACTS 5.4).

sshd hands SSHHost's command line to the login shell; zsh reads `=word` as a command lookup.
The test first proves the shell on the other end is zsh, then sends hostile argv through
SSHHost and the batch, and shows the old shlex quoting failing there.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.launchd import build_batch, split_batch
from tests.conftest import Hosts
from tests.unit.test_quote import HAZARDS, WORD

pytestmark = pytest.mark.testbed


@pytest.fixture(scope="module")
def ops(hosts: Hosts) -> Iterator[SSHHost]:
    """SSHHost to tesseract as `ops`, after proving that its login shell is zsh."""
    # sshd runs this raw text through the login shell; only zsh sets ZSH_VERSION (a Mac too)
    probe = hosts.ssh("tesseract", 'printf %s "$ZSH_VERSION"', user="ops")
    assert probe.stdout, "the ops login shell on tesseract is not zsh (ZSH_VERSION is empty)"
    h = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=hosts.ssh_config, user="ops"))
    try:
        yield h
    finally:
        h.close()


def echoed(h: SSHHost, words: list[str]) -> list[str]:
    result = h.run(["printf", "%s\\0", *words])
    assert (result.rc, result.stderr) == (0, ""), result
    return result.stdout.split("\0")[:-1]


def test_every_hazard_reaches_the_program_through_zsh(ops: SSHHost) -> None:
    assert echoed(ops, HAZARDS) == HAZARDS


@settings(max_examples=60, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=6))
def test_hostile_argv_round_trips_through_zsh(ops: SSHHost, words: list[str]) -> None:
    assert echoed(ops, words) == words


def test_a_batch_round_trips_through_zsh(ops: SSHHost) -> None:
    batch = build_batch([["printf", "%s", "=ok"], ["printf", "%s\\0", *HAZARDS]])
    first, second = split_batch(batch, ops.run(batch.argv).stdout)
    assert (first.rc, first.stdout) == (0, "=ok")
    assert (second.rc, second.stdout.split("\0")[:-1]) == (0, HAZARDS)


def test_the_old_shlex_quoting_fails_on_the_zsh_host(hosts: Hosts, ops: SSHHost) -> None:
    # what SSHHost sent before: shlex.join leaves `=ok` bare, zsh looks up a command `ok`
    old = hosts.ssh("tesseract", shlex.join(["printf", "%s", "=ok"]), check=False)
    assert old.returncode != 0
    assert "ok not found" in old.stderr
    assert ops.check(["printf", "%s", "=ok"]).stdout == "=ok"


def test_every_hazard_reaches_the_program_as_root_through_sh(hosts: Hosts) -> None:
    # root's login shell on a Mac is /bin/sh, bash in POSIX mode (FACTS 5.4): same quoting
    probe = hosts.ssh("tesseract", 'printf %s "$ZSH_VERSION"', user="root")
    assert probe.stdout == ""
    root = SSHHost("tesseract", SSHTarget("tesseract", ssh_config=hosts.ssh_config, user="root"))
    try:
        assert echoed(root, HAZARDS) == HAZARDS
    finally:
        root.close()
