"""Run many commands in one remote invocation and split the output back, exactly.

Audit costs one SSH round trip per host: `build_batch` turns argv lists into a single
`sh -c` script, `split_batch` cuts its stdout into (rc, stdout, stderr) per command.

The script holds no command words: they follow it as positional parameters and it runs
`"${1}" "${2}" ...`. So the only shell text with inventory values in it is the argv the
transport quotes once, at the SSH boundary (svcctl.host.quote, STYLE.md 5), for sh and zsh.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from svcctl.errors import ParseError


@dataclass(frozen=True)
class Batch:
    """Several argv lists run by one `sh -c` script, each section fenced by markers.

    The marker is `svcctl-<nonce>`; the script only ever holds its two halves in
    separate, unexported variables, so nothing that prints a command line (ps listing
    this very script) or a child process can forge a full marker.
    """

    commands: tuple[tuple[str, ...], ...]
    nonce: str
    script: str

    @property
    def argv(self) -> list[str]:
        # `sh` is $0; the commands' words are $1, $2, ... in order
        return ["sh", "-c", self.script, "sh", *(word for argv in self.commands for word in argv)]

    @property
    def marker(self) -> str:
        return f"svcctl-{self.nonce}"


class BatchResult(NamedTuple):
    rc: int
    stdout: str
    stderr: str


def build_batch(commands: Sequence[Sequence[str]], nonce: str | None = None) -> Batch:
    nonce = nonce or secrets.token_hex(16)
    if not re.fullmatch(r"[0-9a-f]{16,}", nonce):
        raise ValueError("the batch nonce must be 16 or more lowercase hex digits")
    half = len(nonce) // 2
    out = [
        f"a=svcctl-{nonce[:half]}; b={nonce[half:]}",
        # a template, not bare `mktemp`: BSD and GNU both take it (FACTS 5.4)
        't=$(mktemp "${TMPDIR:-/tmp}/svcctl-batch.XXXXXXXX") || exit 70',
        "o=",
        "trap 'rm -f \"$t\" ${o:+\"$o\"}' EXIT",
        "run() {",
    ]
    position = 1
    for i, argv in enumerate(commands):
        if not argv:
            raise ValueError("empty command in batch")
        words = " ".join(f'"${{{n}}}"' for n in range(position, position + len(argv)))
        position += len(argv)
        out += [
            f'printf \'\\n%s%s:B:{i}:0\\n\' "$a" "$b"',
            f'{words} </dev/null 2>"$t"; r=$?',
            f'printf \'\\n%s%s:O:{i}:%d\\n\' "$a" "$b" "$r"',
            'cat "$t"',
            f'printf \'\\n%s%s:E:{i}:0\\n\' "$a" "$b"',
        ]
    out += [
        "}",
        # the output goes out in one write: each printf of a fence, streamed, would be an
        # SSH packet of its own, woken for and decrypted apart (3x the client's CPU). Only
        # a complete file is sent (it ends with the last fence); if it cannot be written
        # (no space left), the commands, all reads, run again and stream as they print
        'o=$(mktemp "${TMPDIR:-/tmp}/svcctl-batch.XXXXXXXX") || o=',
        'if [ -n "$o" ] && run "$@" >"$o"; then',
        f'  case $(tail -c 64 "$o") in *"$a$b:E:{len(commands) - 1}:0") cat "$o"; exit;; esac',
        "fi",
        'rm -f ${o:+"$o"}; o=',  # the space it took is the streamed run's again
        'run "$@"',
    ]
    return Batch(tuple(tuple(c) for c in commands), nonce, "\n".join(out) + "\n")


def split_batch(batch: Batch, output: str) -> list[BatchResult]:
    """Cut the script's stdout back into (rc, stdout, stderr) per command, exactly."""
    fence = re.compile("\n" + re.escape(batch.marker) + r":([BOE]):(\d+):(\d+)\n")
    marks = list(fence.finditer(output))
    want = [(kind, i) for i in range(len(batch.commands)) for kind in "BOE"]
    got = [(m.group(1), int(m.group(2))) for m in marks]
    if got != want:
        done = sum(1 for kind, _ in got if kind == "E")
        raise ParseError(
            f"batch output is incomplete: {done} of {len(batch.commands)} commands reported"
        )
    results = []
    for i in range(len(batch.commands)):
        b, o, e = marks[3 * i : 3 * i + 3]
        stdout, stderr = output[b.end() : o.start()], output[o.end() : e.start()]
        results.append(BatchResult(int(o.group(3)), stdout, stderr))
    return results
