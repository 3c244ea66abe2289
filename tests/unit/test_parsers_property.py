"""Parsers never raise anything but ParseError, whatever text they are given."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.errors import ParseError
from svcctl.launchd import (
    parse_list,
    parse_list_label,
    parse_print,
    parse_print_disabled,
    parse_print_domain,
    parse_service_line,
)
from svcctl.procs import parse_ps


def parse_list_for_label(text: str) -> object:
    return parse_list(text, "a.b")  # tolerant of rows that cannot be a.b's


def parse_print_domain_for_label(text: str) -> object:
    return parse_print_domain(text, "a.b")


PARSERS: list[Callable[[str], object]] = [
    parse_list,
    parse_list_for_label,
    parse_list_label,
    parse_print,
    parse_print_disabled,
    parse_print_domain,
    parse_print_domain_for_label,
    parse_service_line,
    parse_ps,
]
# text built from the pieces launchctl and ps output is made of, so garbage gets deep
TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "(",
        ")",
        ";",
        " = ",
        " => ",
        '"',
        "\t",
        "\n",
        " ",
        "-",
        "0",
        "42",
        "-15",
        "PID\tStatus\tLabel",
        "gui/501/a.b = {",
        "system",
        "pid",
        "state",
        "arguments = {",
        "disabled services = {",
        "services = {",
        "true",
        "false",
        "enabled",
        "Mon Jun 16 14:23:09 2025",
        "Mon Jun 16 14:23:09 2025     ",
        "    1     0     0 root         1 ",
        "(Python)",
        "Xyz Jun 31 99:99:99 2025",
        "a.b",
        "\u2028",
        "\r",
        "99999999999999999999999",
    ]
)
GARBAGE = st.one_of(st.text(max_size=300), st.lists(TOKENS, max_size=80).map("".join))


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=300, deadline=None)
@given(text=GARBAGE)
def test_only_parse_errors(parser: Callable[[str], object], text: str) -> None:
    with contextlib.suppress(ParseError):
        parser(text)


def test_deep_nesting_is_a_parse_error_not_a_recursion_error() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_list_label('{"a" = ' * 5000)


# Lock files live in directories every local user can write to: whatever they hold,
# reading them gives a record or None, never an exception (a crash would let any user
# turn every audit and deploy into an internal error).
LOCK_TOKENS = st.sampled_from(["{", "}", "[", "]", ",", ":", '"pid"', '"expires"',
                               '"started"', "1e999", "NaN", "-1", "0", "2147483648", "null",
                               '"x"', "1.5", "true"])
LOCK_GARBAGE = st.one_of(st.binary(max_size=200),
                         st.lists(LOCK_TOKENS, max_size=60).map(lambda t: "".join(t).encode()))


@settings(max_examples=400, deadline=None)
@given(data=LOCK_GARBAGE)
def test_lock_parsers_never_raise(data: bytes) -> None:
    from svcctl.guard import parse_record
    from svcctl.ops.lock import parse_lock

    parse_record(data)
    parse_lock(data.decode("utf-8", "replace"))
