"""Pure helpers of the emulator, importable without root."""

from __future__ import annotations

import signal

import pytest

from svcctl_testbed.emulator.codes import LaunchctlError
from svcctl_testbed.emulator.jobs import decode_status, throttle_delay, wants_respawn
from svcctl_testbed.emulator.plists import JobSpec, KeepAlive
from svcctl_testbed.emulator.targets import parse_target
from svcctl_testbed.emulator.verbs import parse_signal


def test_parse_target() -> None:
    assert parse_target("system", "u").domain_text == "system"
    target = parse_target("gui/501/com.x.y", "u")
    assert (target.kind, target.handle, target.name) == ("gui", 501, "com.x.y")
    assert parse_target("user/0", "u").name is None
    for bad in ("", "gui", "gui/", "gui/x/y", "nope/1/x"):
        with pytest.raises(LaunchctlError) as info:
            parse_target(bad, "usage")
        assert info.value.rc == 64


def test_decode_status_raw_vs_decoded() -> None:
    assert decode_status(75 << 8) == 75
    assert decode_status(signal.SIGTERM) == -15
    assert decode_status(0) == 0


def test_parse_signal() -> None:
    assert parse_signal("TERM") == parse_signal("sigterm") == parse_signal("15") == 15
    assert parse_signal("-KILL") == 9
    assert parse_signal("BOGUS") is None and parse_signal("999") is None


def test_throttle_is_measured_from_the_previous_spawn() -> None:
    assert throttle_delay(None, 10, 100.0) == 0.0
    assert throttle_delay(95.0, 10, 100.0) == 5.0
    assert throttle_delay(80.0, 10, 100.0) == 0.0
    assert throttle_delay(99.0, 0, 100.0) == 0.0


def test_keepalive_conditions_are_ored() -> None:
    def spec(ka: KeepAlive) -> JobSpec:
        return JobSpec(label="x", path="/x.plist", arguments=("/bin/true",), keep_alive=ka)

    def never(_: str) -> bool:
        return False

    assert wants_respawn(spec(KeepAlive(always=True)), 0, False, never, never)
    assert not wants_respawn(spec(KeepAlive()), 256, False, never, never)
    fail = spec(KeepAlive(successful_exit=False))
    assert wants_respawn(fail, 256, False, never, never)
    assert wants_respawn(fail, signal.SIGTERM, False, never, never)
    assert not wants_respawn(fail, 0, False, never, never)
    crashed = spec(KeepAlive(crashed=True))
    assert wants_respawn(crashed, signal.SIGSEGV, True, never, never)
    assert not wants_respawn(crashed, signal.SIGTERM, False, never, never)
    path = spec(KeepAlive(path_state=(("/flag", True),)))
    assert wants_respawn(path, 0, False, lambda p: p == "/flag", never)
    assert not wants_respawn(path, 0, False, never, never)
