"""A ps row is split into words the same way whether or not the service has paths with
spaces: the fast path (no such path; words without a space are runs of non-spaces
anyway) and the general loop agree on every command."""

from __future__ import annotations

import random

from svcctl.procs.matching import _Row, split_command


def test_the_fast_split_is_the_general_split() -> None:
    rng = random.Random(14)
    for _ in range(5000):
        command = "".join(rng.choice("ab /.-\t") for _ in range(rng.randint(0, 40)))
        general = _Row.split(command, ("\0 none",)).spans  # a spaced word: the loop
        assert _Row.split(command, ()).spans == general, repr(command)
        assert _Row.split(command, ("a/b", "/.")).spans == general, repr(command)


def test_a_path_with_spaces_is_still_kept_whole() -> None:
    cmd = "/usr/bin/python3 /Users/ops/my bot/main.py --x"
    assert split_command(cmd, ("/usr/bin/python3",)) == [
        "/usr/bin/python3", "/Users/ops/my", "bot/main.py", "--x"]
    assert split_command(cmd, ("/Users/ops/my bot/main.py",)) == [
        "/usr/bin/python3", "/Users/ops/my bot/main.py", "--x"]
