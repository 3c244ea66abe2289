"""One remote invocation for many commands: build, run in a real `sh`, split back exactly."""

from __future__ import annotations

import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.errors import ParseError
from svcctl.launchd import build_batch, split_batch

# argv strings cannot hold NUL; everything else goes, including marker look-alikes
TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=200)


def run(script_argv: list[str]) -> str:
    out = subprocess.run(script_argv, capture_output=True, check=False, timeout=30)
    return out.stdout.decode("utf-8", "surrogateescape")


def test_round_trip_real_shell() -> None:
    batch = build_batch(
        [
            ["printf", "%s", "no newline"],
            ["sh", "-c", "echo out; echo err >&2; exit 3"],
            ["printf", ""],
            ["/nonexistent/launchctl", "list"],
        ]
    )
    results = split_batch(batch, "motd banner from a login shell\n" + run(batch.argv))
    assert [(r.rc, r.stdout) for r in results[:3]] == [(0, "no newline"), (3, "out\n"), (0, "")]
    assert results[1].stderr == "err\n"
    assert results[3].rc == 127


def test_marker_never_appears_in_the_script() -> None:
    # ps lists this script's command line; it must not contain a whole marker (unforgeable)
    batch = build_batch([["ps", "-axww", "-o", "command="]])
    assert batch.marker not in batch.script
    output = run(batch.argv)
    [result] = split_batch(batch, output)
    assert result.rc == 0
    assert batch.nonce[:8] in result.stdout  # the script itself was listed by ps...
    assert batch.marker not in result.stdout  # ...without ever showing the marker


def test_command_output_with_marker_lookalikes_stays_in_its_section() -> None:
    fake = "\nsvcctl-0000000000000000:O:0:0\nx"
    batch = build_batch([["printf", "%s", fake], ["true"]])
    [a, b] = split_batch(batch, run(batch.argv))
    assert (a.rc, a.stdout, b.rc) == (0, fake, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, st.integers(0, 255)), min_size=1, max_size=4))
def test_round_trip_arbitrary_outputs(cases: list[tuple[str, str, int]]) -> None:
    commands = [
        ["sh", "-c", 'printf %s "$1"; printf %s "$2" >&2; exit "$3"', "sh", o, e, str(rc)]
        for o, e, rc in cases
    ]
    batch = build_batch(commands)
    results = split_batch(batch, run(batch.argv))
    expected = [(rc, o, e) for o, e, rc in cases]
    got = [(r.rc, r.stdout, r.stderr) for r in results]
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, st.integers(0, 255)), min_size=1, max_size=4), TEXT)
def test_split_synthetic_output_with_marker_lookalikes(
    cases: list[tuple[str, str, int]], junk: str
) -> None:
    batch = build_batch([["true"]] * len(cases), nonce="ab" * 16)
    m = batch.marker
    fake = f"\nsvcctl-{'cd' * 16}:B:0:0\n"
    out = junk
    for i, (o, e, rc) in enumerate(cases):
        out += f"\n{m}:B:{i}:0\n{o}{fake}\n{m}:O:{i}:{rc}\n{e}\n{m}:E:{i}:0\n"
    got = [(r.rc, r.stdout, r.stderr) for r in split_batch(batch, out)]
    assert got == [(rc, o + fake, e) for o, e, rc in cases]


def test_truncated_output_is_a_parse_error() -> None:
    batch = build_batch([["true"], ["true"]])
    output = run(batch.argv)
    with pytest.raises(ParseError, match="1 of 2"):
        split_batch(batch, output[: output.rindex(batch.marker + ":B:1")])


def test_bad_nonce_and_empty_command() -> None:
    with pytest.raises(ValueError):
        build_batch([["true"]], nonce="short")
    with pytest.raises(ValueError):
        build_batch([[]])


def test_the_output_goes_out_in_one_write_at_the_end() -> None:
    """Each fence's printf, streamed, would be an SSH packet of its own: the script holds
    the output back until every command has run (a reader sees nothing before then)."""
    batch = build_batch([["printf", "first"], ["sleep", "1"], ["printf", "last"]])
    proc = subprocess.Popen(batch.argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    t0 = time.monotonic()
    head = proc.stdout.read(1)
    waited = time.monotonic() - t0
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    assert waited >= 0.9, f"output began after {waited:.2f} s, before the commands ended"
    results = split_batch(batch, (head + rest).decode())
    assert [r.stdout for r in results] == ["first", "", "last"]


def test_with_no_space_for_the_buffer_the_commands_run_again_and_stream() -> None:
    """A full disk (here: $TMPDIR on a 4 KiB tmpfs, in a mount namespace of its own) must
    not cost the audit: a buffer that could not be written whole is never sent; the
    commands, all reads, run again and stream."""
    big = "x" * 20000
    batch = build_batch([["printf", "%s", big], ["sh", "-c", "echo err >&2; exit 4"]])
    script = ("d=$(mktemp -d) && mount -t tmpfs -o size=4k svcctl-test \"$d\" && "
              'TMPDIR="$d" "$@"; r=$?; umount "$d"; rmdir "$d"; exit $r')
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *batch.argv],
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    a, b = split_batch(batch, proc.stdout.decode())
    assert (a.rc, a.stdout) == (0, big) and (b.rc, b.stderr) == (4, "err\n")
    assert proc.stdout.decode().count(batch.marker + ":B:0:") == 1  # the full copy only
