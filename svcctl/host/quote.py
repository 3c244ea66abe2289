"""Shell quoting that every remote shell reads literally: POSIX sh (bash --posix, dash) and zsh.

sshd hands each command to the user's login shell, which on macOS is zsh since 10.15
(root's is /bin/sh, bash in POSIX mode) (FACTS 5.4). `shlex.quote` targets POSIX sh only
and leaves `=ok` bare, which zsh's EQUALS option (on by default) reads as a command lookup:
"zsh: ok not found". So the rule here is stricter than shlex's: a word made only of a
small safe set, which holds neither `=` nor `~`, stays bare; anything else is
single-quoted, an embedded `'` written as `'\\''`. Inside single quotes no character
is special in either shell (zsh's RC_QUOTES is off by default), so the shell gives back
the same string.

The safe set leaves out `=` (zsh EQUALS at word start, an assignment as a command word),
`~` (tilde expansion), `%` (`%1` names a job in zsh), `#`, `^`, `!`, globs, braces,
whitespace and anything non-ASCII. Words are literal in argument position; a command
word is a program name, so shell keywords there are the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BARE = re.compile(r"[A-Za-z0-9_@+,./:-]+")


def quote(word: str) -> str:
    """One word, read back literally by sh and zsh. A NUL cannot be in an argv: ValueError."""
    if "\0" in word:
        raise ValueError(f"a command word cannot hold a NUL byte: {word!r}")
    if _BARE.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def join(argv: Iterable[str]) -> str:
    """An argv as one command line for a remote shell: each word quoted by `quote`."""
    return " ".join(quote(word) for word in argv)
