"""The shell scripts svcctl runs on a host, kept as files, each owned by one typed wrapper.

Every `NAME.sh` in this package runs as `sh -c <text> sh ARG...`: the text is the program
and holds no value; values follow it as positional parameters, and the transport quotes
that argv once for the login shell, POSIX sh or zsh (svcctl.host.quote). On the Mac,
/bin/sh is bash 3.2 in POSIX mode (FACTS 5.4), so a script uses POSIX sh and BSD tools
only. CI checks each file with shellcheck twice, `-s sh` (POSIX) and `-s bash`; shellcheck
has no bash 3.2 mode, so the second pass catches what bash would read otherwise, and
keeping to POSIX (the first pass) is what keeps a script inside bash 3.2.

A wrapper module here declares each script it runs with `Script(name, __name__)` and maps
its exit codes or output tokens to an Enum in one table; a test checks that every file is
used by exactly one wrapper. A line `. ./other.sh` is replaced by that file's text when a
script is loaded (shellcheck follows it with `-x`), so scripts share functions without
the host reading any file. Comment lines and blank lines are not sent, but for
`# shellcheck disable=` directives: the text sent is the text checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"\. \./([a-z0-9_]+\.sh)")
_OWNERS: dict[str, str] = {}  # script -> the module that declared it


def _source(name: str) -> list[str]:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8").splitlines()


@cache
def _lines(name: str) -> tuple[str, ...]:
    """The script's lines to send, includes inlined; comment and blank lines dropped, but
    for shellcheck's directives, so that the text sent is the text checked."""
    out: list[str] = []
    for line in _source(name):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#")
                            and not stripped.startswith("# shellcheck disable=")):
            continue
        included = _INCLUDE.fullmatch(stripped)
        out.extend(_lines(included.group(1)) if included else (line,))
    return tuple(out)


def text(name: str) -> str:
    """What `sh -c` gets for the script `name`."""
    return "\n".join(_lines(name)) + "\n"


def includes(name: str) -> tuple[str, ...]:
    """The files `name` pulls in with `. ./other.sh`, directly or through another."""
    found = [m.group(1) for m in map(_INCLUDE.fullmatch, map(str.strip, _source(name))) if m]
    return tuple(dict.fromkeys(x for f in found for x in (f, *includes(f))))


def owners() -> dict[str, str]:
    """Each declared script and the wrapper module that runs it."""
    return dict(_OWNERS)


@dataclass(frozen=True)
class Script:
    """One `.sh` file of this package, run with its arguments as positional parameters."""

    name: str
    owner: str  # the wrapper module's __name__

    def __post_init__(self) -> None:
        if _OWNERS.setdefault(self.name, self.owner) != self.owner:
            raise RuntimeError(f"{self.name} is run by {_OWNERS[self.name]} already: "
                               f"one wrapper per script")

    @property
    def text(self) -> str:
        return text(self.name)

    def argv(self, *args: str) -> list[str]:
        return ["sh", "-c", self.text, "sh", *args]
