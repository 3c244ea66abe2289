"""svcctl.host.quote: words that POSIX sh and zsh both read back literally, tried in real shells.

sshd runs each command through the login shell, zsh on a Mac (FACTS 5.4), so every joined
argv is run by `zsh -c`, `bash --posix -c`, `dash -c` and `sh -c` here, and must come back
exactly, byte for byte.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.host.quote import join, quote
from svcctl.launchd import build_batch, split_batch

# The shells a remote command meets: zsh (a Mac user's login shell), bash in POSIX mode
# (/bin/sh and root's shell on a Mac), dash and this machine's sh (Debian's /bin/sh).
SHELLS = {
    "zsh": ["zsh", "-c"],
    "bash-posix": ["bash", "--posix", "-c"],
    "dash": ["dash", "-c"],
    "sh": ["sh", "-c"],
}

# Each hazard named once; every one must round-trip in every shell.
HAZARDS = [
    # zsh EQUALS: `=word` is a command lookup ("zsh: ok not found")
    "=ok", "=", "==", "=ls", "=(ls)", "a=b", "A=1", "a=~", "a=~/x", "x:=y", "foo=(bar)",
    # tilde expansion, in both shells
    "~", "~root", "~/x", "~+", "~-", "a~b", "x:~/y",
    # history expansion (interactive only, still quoted), zsh EXTENDED_GLOB characters
    "!", "!!", "!$", "a!b", "^x", "a^b", "^", "#c", "#", "a#b",
    # globs, braces, ranges
    "*", "?", "[a]", "x*", "**/", "*(.)", "{a,b}", "{1..3}", "a{b,c}d", "{", "}",
    # whitespace, newlines, control characters
    "", " ", "x y", "\t", "\n", "a\nb", "\r", "\x01", "\x7f", "\u00a0", "\u2028",
    # quotes and backslashes
    "'", "''", "a'b", "'a'", "\\", "\\'", '"', '"\'"', "$'x'",
    # expansions and operators
    "$HOME", "${x}", "$(id)", "`id`", "$((1+1))", ";", "&", "|", ">", "<", "(", ")",
    "<(ls)", ">(ls)", "&&", "2>&1",
    # job specs at word start in zsh, printf's own directives
    "%", "%1", "%s", "%%",
    # non-ASCII, and words shell keywords or options
    "é", "✓", "ünïcødé ✓", "日本", "-", "--", "-n", "-c", "if", "then", "!x",
    # plain words that must stay plain
    "plain", "gui/501/com.example.x", "user@host", "a,b", "1+1", "./x.y:z",
]

# argv strings cannot hold NUL; lone surrogates cannot be encoded for a shell either
ANY_CHAR = st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])
HOSTILE_CHAR = st.sampled_from(list("=~!^#%*?[]{},'\"\\$`\n\t |&;<>()-:/.@+aZ0é✓\u00a0"))
WORD = st.one_of(
    st.text(HOSTILE_CHAR, max_size=12),
    st.text(ANY_CHAR, max_size=30),
    st.sampled_from(HAZARDS),
)


def _shell(name: str) -> list[str]:
    argv = SHELLS[name]
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is not installed; scripts/setup installs it")
    return argv


def echo_back(shell: list[str], words: Sequence[str],
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Have `shell` run join(printf '%s\\0' words...) and return what it printed."""
    return subprocess.run([*shell, join(["printf", "%s\\0", *words])], capture_output=True,
                          timeout=30, check=False, env=env)


def words_of(out: bytes) -> list[str]:
    return out.decode("utf-8", "surrogateescape").split("\0")[:-1]


def test_plain_words_stay_bare_and_the_rest_is_single_quoted() -> None:
    assert join(["launchctl", "print", "gui/501/com.example.x"]) == \
        "launchctl print gui/501/com.example.x"
    assert [quote(w) for w in ["=ok", "a=b", "~", "%1", "", "it's"]] == \
        ["'=ok'", "'a=b'", "'~'", "'%1'", "''", "'it'\\''s'"]
    with pytest.raises(ValueError, match="NUL"):
        join(["printf", "a\0b"])  # a shell would cut the word short


@pytest.mark.parametrize("shell", SHELLS)
def test_every_hazard_round_trips(shell: str) -> None:
    out = echo_back(_shell(shell), HAZARDS)
    assert (out.returncode, out.stderr) == (0, b"")
    assert words_of(out.stdout) == HAZARDS


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_non_ascii_round_trips_in_either_locale(shell: str, locale: str) -> None:
    words = ["é", "✓", "日本", "\u00a0", "a\u0301", "\U0001f600", "\x85", "\xff"]
    env = {"PATH": os.environ["PATH"], "LC_ALL": locale}
    out = echo_back(_shell(shell), words, env)
    assert (out.returncode, words_of(out.stdout)) == (0, words)


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_argv_round_trips(shell: str) -> None:
    argv = _shell(shell)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(WORD, min_size=1, max_size=6))
    def round_trip(words: list[str]) -> None:
        out = echo_back(argv, words)
        assert out.returncode == 0, out.stderr
        assert words_of(out.stdout) == words

    round_trip()


def test_the_old_shlex_quoting_breaks_on_zsh_and_the_new_one_does_not() -> None:
    # the defect: shlex.quote leaves `=ok` bare, and zsh's EQUALS looks up a command `ok`
    words = ["printf", "%s\\0", "=ok"]
    zsh = _shell("zsh")
    old = subprocess.run([*zsh, shlex.join(words)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert old.returncode != 0
    assert "ok not found" in old.stderr
    new = subprocess.run([*zsh, join(words)], capture_output=True, text=True, timeout=30,
                         check=False)
    assert (new.returncode, new.stdout) == (0, "=ok\0")
    # sh never had the problem: the difference is zsh's alone
    sh = subprocess.run([*_shell("bash-posix"), shlex.join(words)], capture_output=True,
                        text=True, timeout=30, check=False)
    assert (sh.returncode, sh.stdout) == (0, "=ok\0")


@pytest.mark.parametrize("shell", SHELLS)
def test_a_batch_survives_each_login_shell(shell: str) -> None:
    # the batch script holds no command words; they travel as its positional parameters
    commands = [["printf", "%s\\0", *HAZARDS], ["sh", "-c", 'printf %s "$1"; exit 3', "sh", "=ok"]]
    batch = build_batch(commands)
    out = subprocess.run([*_shell(shell), join(batch.argv)], capture_output=True, timeout=30,
                         check=False)
    first, second = split_batch(batch, out.stdout.decode("utf-8", "surrogateescape"))
    assert (first.rc, first.stdout.split("\0")[:-1]) == (0, HAZARDS)
    assert (second.rc, second.stdout) == (3, "=ok")
