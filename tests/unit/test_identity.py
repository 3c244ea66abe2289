"""The instance rule by what runs (issue 10): each command-line form, instance or not.

The explicit cases name the examples the issue reproduced. The properties build a process's
command line from the service's identity by a change that keeps the file it names (an
absolute path, `./`, `..` segments, relative to an ancestor cwd, interpreter flags, another
python's name) or one that changes it (a sibling directory, another basename), and assert
the verdict the construction implies, never one computed by the code under test.
"""

from __future__ import annotations

import posixpath
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcctl.model import JobState, ProcInfo, ServiceSpec, Verdict
from svcctl.procs import Match, classify_service, match_process, matcher_for

SHIVA = ("/usr/bin/python3", "/Users/ops/shiva/main.py")
TARGET = "user/501/com.example.shiva"


def service(
    program: tuple[str, ...] = SHIVA,
    *,
    runs: tuple[str, ...] | None = None,
    match: str | None = None,
    working_directory: str | None = None,
) -> ServiceSpec:
    return ServiceSpec(
        name="shiva",
        label="com.example.shiva",
        hosts=("h",),
        program=program,
        runs=runs,
        match=re.compile(match) if match else None,
        working_directory=working_directory,
    )


def proc(command: str, cwd: str | None = None, pid: int = 100, uid: int = 501) -> ProcInfo:
    return ProcInfo(pid, 1, uid, "ops", pid, None, "", command, cwd)


def kind(svc: ServiceSpec, command: str, cwd: str | None = None) -> Match:
    return match_process(proc(command, cwd), matcher_for(svc))


IN, DE, HI, NO = Match.INSTANCE, Match.DECOY, Match.HIDDEN, Match.NONE
ROOTS_EXPORTER = "/usr/bin/python3 main.py --port 9100"


@pytest.mark.parametrize(
    ("svc", "command", "cwd", "expected"),
    [
        # found: the commonest stray, `cd ~/shiva && nohup python3 main.py &`
        (service(), "python3 main.py", "/Users/ops/shiva", IN),
        (service(), "/usr/bin/python3 ./main.py --mode paper", "/Users/ops/shiva", IN),
        (service(), "python3 shiva/main.py", "/Users/ops", IN),
        (service(), "python3 ../shiva/main.py", "/Users/ops/other", IN),
        # its cwd unknown (another user's process): may be a copy, never killed
        (service(), "python3 main.py", None, HI),
        (service(), "python3 other.py", None, DE),
        # killed by mistake before: a log shipper handed the service's path
        (service(), "python3 /opt/ship/main.py --follow /Users/ops/shiva/main.py.log", None, DE),
        (service(), "python3 /opt/ship/main.py /Users/ops/shiva/main.py", None, DE),
        (service(), "python3 main.py", "/opt/ship", DE),
        # a relative `program` operand: launchd runs it from WorkingDirectory, else `/`
        (service(("/usr/bin/python3", "main.py")), ROOTS_EXPORTER, "/var/root/exporter", DE),
        (service(("/usr/bin/python3", "main.py")), "python3 main.py", "/Users/ops/other", DE),
        (service(("/usr/bin/python3", "main.py")), "python3 main.py", "/", IN),
        (service(("/usr/bin/python3", "main.py")), "python3 /main.py", None, IN),
        (
            service(("/usr/bin/python3", "main.py"), working_directory="/Users/ops/shiva"),
            "python3 /Users/ops/shiva/main.py",
            None,
            IN,
        ),
        (
            service(("/usr/bin/python3", "main.py"), working_directory="/Users/ops/shiva"),
            ROOTS_EXPORTER,
            "/var/root/exporter",
            DE,
        ),
        # interpreter options, python's names
        (service(), "python3 -u -X dev -W ignore -I -E -S /Users/ops/shiva/main.py", None, IN),
        (service(), "python3.11 -Xdev -Wignore /Users/ops/shiva/main.py", None, IN),
        (service(), "/opt/homebrew/bin/Python /Users/ops//shiva/./main.py", None, IN),
        (service(), "python3 -c 'import x' /Users/ops/shiva/main.py", None, DE),
        (service(), "ruby /Users/ops/shiva/main.py", None, DE),
        (service(), "python3 -- main.py", "/Users/ops/shiva", IN),
        # -m module
        (service(("/usr/bin/python3", "-m", "shiva.app")), "python3 -u -m shiva.app", None, IN),
        (service(("/usr/bin/python3", "-m", "shiva.app")), "python3 -m shiva.apps", None, DE),
        (service(("/usr/bin/python3", "-m", "shiva.app")), "python3 shiva/app.py", "/x", NO),
        # env VAR=x prog: env execs, so the process shows the program
        (service(("/usr/bin/env", "-i", "A=1", *SHIVA)), "python3 main.py", "/Users/ops/shiva", IN),
        (service(("/usr/bin/env", "A=1", "/usr/local/bin/shiva")), "shiva --serve", None, IN),
        # binaries: argv[0] resolved
        (service(("/usr/local/bin/shiva",)), "/usr/local/bin/../bin/shiva", None, IN),
        (service(("/usr/local/bin/shiva",)), "./shiva --serve", "/usr/local/bin", IN),
        (service(("/usr/local/bin/shiva",)), "bin/shiva", "/usr/local", IN),
        (service(("/usr/local/bin/shiva",)), "./shiva", "/Users/ops/build", DE),
        (service(("/usr/local/bin/shiva",)), "./shiva", None, HI),
        (service(("/usr/local/bin/shiva",)), "shiva", None, IN),  # PATH: basename
        (service(("/usr/local/bin/shiva",)), "/opt/shiva/bin/shiva", None, DE),
        (service(("/usr/local/bin/shiva",)), "vim /usr/local/bin/shiva", None, DE),
        # exec -a renames argv[0]: the name is what ps shows (a documented limit)
        (service(("/usr/local/bin/shiva",)), "shiva-renamed --serve", None, DE),
        (service(("/usr/local/bin/shiva",)), "/usr/local/bin/shiva", None, IN),
        # a shebang script: the kernel runs interpreter + script
        (service(("/Users/ops/bin/shiva",)), "/usr/bin/python3 ./shiva", "/Users/ops/bin", IN),
        (service(("/Users/ops/bin/shiva",)), "/bin/sh /Users/ops/bin/shiva", None, IN),
        (service(("/Users/ops/bin/shiva",)), "/usr/bin/python3 shiva", None, HI),
        (service(("/Users/ops/bin/shiva",)), "/usr/bin/python3 shiva", "/tmp", DE),
        # spaces in paths
        (
            service(("/usr/bin/python3", "/Users/ops/My Bot/main.py")),
            "python3 /Users/ops/My Bot/main.py --x",
            None,
            IN,
        ),
        (
            service(("/usr/bin/python3", "/Users/ops/My Bot/main.py")),
            "python3 main.py",
            "/Users/ops/My Bot",
            IN,
        ),
        (
            service(("/usr/bin/python3", "/Users/ops/My Bot/main.py")),
            "python3 My Bot/main.py",
            "/Users/ops",
            HI,
        ),  # ps joined argv: ambiguous
        (
            service(("/usr/bin/python3", "/Users/ops/My Bot/main.py")),
            "python3 /Users/ops/My Bot/other.py",
            None,
            DE,
        ),
        (
            service(("/Applications/My App.app/Contents/MacOS/My App",)),
            "/Applications/My App.app/Contents/MacOS/My App --bg",
            None,
            IN,
        ),
        # wrapper that execs, declared as `runs:`
        (
            service(("/Users/ops/shiva/run.sh",), runs=SHIVA),
            "python3 main.py",
            "/Users/ops/shiva",
            IN,
        ),
        (
            service(("/Users/ops/shiva/run.sh",), runs=SHIVA),
            "/usr/bin/python3 /Users/ops/shiva/main.py",
            None,
            IN,
        ),
        (
            service(("/Users/ops/shiva/run.sh",), runs=SHIVA),
            "/bin/sh /Users/ops/shiva/run.sh",
            None,
            NO,
        ),
        (service(("/Users/ops/shiva/run.sh",), runs=SHIVA), "python3 main.py", "/opt/x", DE),
        # `match` narrows, and never widens
        (service(match=r"--mode paper"), "python3 main.py --mode paper", "/Users/ops/shiva", IN),
        (service(match=r"--mode paper"), "python3 main.py --mode live", "/Users/ops/shiva", DE),
        (service(match=r"main\.py"), "python3 /opt/ship/main.py", None, DE),
        # ... and sees the file the process runs, written out from its cwd
        (service(match=r"shiva/main\.py"), "python3 main.py", "/Users/ops/shiva", IN),
        (
            service(match=r"^\S+ /Users/ops/shiva/main\.py"),
            "python3 ./main.py",
            "/Users/ops/shiva",
            IN,
        ),
        (service(match=r"shiva/main\.py"), "python3 main.py", None, HI),
        (service(match=r"python"), "python3 /opt/other.py", None, DE),
        # hidden rows
        (service(), "(Python)", None, HI),
        (service(("/usr/local/bin/shiva",)), "(shiva)", None, HI),
        (service(("/usr/local/bin/shiva",)), "(bash)", None, HI),  # may run it through #!
        (service(("/usr/local/bin/shiva",)), "(launchd)", None, NO),
        # inline code is the service's only when it is the same code
        (service(("/bin/sh", "-c", "exec /x/loop")), "/bin/sh -c exec /x/loop", None, IN),
        (service(("/bin/sh", "-c", "exec /x/loop")), "sh -c sleep 5", None, DE),
    ],
)
def test_forms(svc: ServiceSpec, command: str, cwd: str | None, expected: Match) -> None:
    assert kind(svc, command, cwd) is expected


# --- properties ------------------------------------------------------------------------------

segment = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABC0123456789_- "), min_size=1, max_size=8
).filter(lambda s: s.strip(" ") == s and s not in (".", "..") and not s.startswith("-"))
dirs = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
script_names = st.sampled_from(["main.py", "run.py", "app.py", "bot.py", "shiva"])
flags = st.lists(
    st.sampled_from(["-u", "-X dev", "-Xutf8", "-W ignore", "-I", "-E", "-S", "-B", "-O"]),
    max_size=3,
)
pythons = st.sampled_from(
    [
        "python3",
        "/usr/bin/python3",
        "python3.9",
        "/opt/homebrew/bin/python3.12",
        "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9"
        "/Resources/Python.app/Contents/MacOS/Python",
    ]
)


def same_file_forms(directory: str, name: str) -> st.SearchStrategy[tuple[str, str | None]]:
    """(operand, cwd) pairs that name directory/name, each a form the issue lists."""
    parts = directory.strip("/").split("/")
    ancestors = ["/" + "/".join(parts[:k]) for k in range(len(parts) + 1)]
    relative = st.sampled_from(ancestors).map(
        lambda a: (posixpath.relpath(f"{directory}/{name}", a), a)
    )
    return st.one_of(
        st.just((f"{directory}/{name}", None)),  # absolute
        st.just((f"{directory}/./{name}", None)),
        st.just((f"{directory}/x/../{name}", None)),  # `..` segments, no symlink involved
        st.just((f"{directory}//{name}", None)),
        st.just((name, directory)),  # `cd dir && python3 main.py`
        st.just((f"./{name}", directory)),
        relative,
        st.just((f"../{posixpath.basename(directory)}/{name}", directory)),
    )


@settings(max_examples=300, deadline=None)
@given(st.data(), dirs, script_names, pythons, flags, st.text("abc -", max_size=12))
def test_the_same_script_is_an_instance_in_every_form(
    data: st.DataObject, directory: str, name: str, python: str, opts: list[str], tail: str
) -> None:
    operand, cwd = data.draw(same_file_forms(directory, name))
    script = f"{directory}/{name}"
    svc = service(("/usr/bin/python3", script))
    command = " ".join([python, *opts, operand, *tail.split()])
    # ps joins argv with spaces: only the service's own spelling of a path with spaces
    # reads as one word; any other spelling is ambiguous, so hidden (never killed, never ok)
    expected = Match.INSTANCE if " " not in operand or operand == script else Match.HIDDEN
    assert kind(svc, command, cwd) is expected, command


@settings(max_examples=300, deadline=None)
@given(dirs, script_names, pythons, flags)
def test_a_relative_path_with_spaces_is_at_least_hidden(
    directory: str, name: str, python: str, opts: list[str]
) -> None:
    parent, last = posixpath.split(directory)
    svc = service(("/usr/bin/python3", f"{directory}/{name}"))
    command = " ".join([python, *opts, f"{last}/{name}"])
    expected = Match.HIDDEN if " " in last else Match.INSTANCE
    assert kind(svc, command, parent) is expected, command


@settings(max_examples=300, deadline=None)
@given(st.data(), dirs, dirs, script_names, pythons, flags)
def test_another_directory_is_never_an_instance(
    data: st.DataObject, directory: str, other: str, name: str, python: str, opts: list[str]
) -> None:
    if other == directory:
        return
    operand, cwd = data.draw(same_file_forms(other, name))
    svc = service(("/usr/bin/python3", f"{directory}/{name}"))
    command = " ".join([python, *opts, operand, "--log", f"{directory}/{name}.log"])
    assert kind(svc, command, cwd) is not Match.INSTANCE, command


@settings(max_examples=200, deadline=None)
@given(dirs, script_names, pythons, flags)
def test_unknown_cwd_is_hidden_by_name_and_decoy_otherwise(
    directory: str, name: str, python: str, opts: list[str]
) -> None:
    svc = service(("/usr/bin/python3", f"{directory}/{name}"))
    assert kind(svc, " ".join([python, *opts, name]), None) is Match.HIDDEN
    assert kind(svc, " ".join([python, *opts, f"./{name}"]), None) is Match.HIDDEN
    assert kind(svc, " ".join([python, *opts, f"x{name}"]), None) is Match.DECOY


BINARIES = st.sampled_from(["shiva", "node_exporter", "otelcol-sumo"])


@settings(max_examples=200, deadline=None)
@given(dirs, BINARIES, st.text("ab -", max_size=8))
def test_a_binary_by_its_resolved_argv0(directory: str, name: str, tail: str) -> None:
    exe = f"{directory}/{name}"
    svc = service((exe, "--serve"))
    args = tail.split()
    last = posixpath.basename(directory)
    same = [(exe, None), (f"{directory}/../{last}/{name}", None), (f"./{name}", directory)]
    for argv0, cwd in same:
        expected = Match.INSTANCE if " " not in argv0 or argv0 == exe else Match.HIDDEN
        assert kind(svc, " ".join([argv0, *args]), cwd) is expected, argv0
    assert kind(svc, " ".join([f"/elsewhere{exe}", *args]), None) is Match.DECOY
    assert kind(svc, " ".join([f"./{name}", *args]), None) is Match.HIDDEN
    assert kind(svc, " ".join([f"./{name}", *args]), f"/elsewhere{directory}") is Match.DECOY


# --- classification carries the evidence --------------------------------------------------


def test_the_commonest_stray_is_found_and_named_with_its_cwd() -> None:
    launchd = proc("/usr/bin/python3 /Users/ops/shiva/main.py", pid=731)
    stray = proc("python3 main.py", "/Users/ops/shiva", pid=902)
    shipper = proc("python3 /opt/ship/main.py --follow /Users/ops/shiva/main.py.log", pid=950)
    job = JobState(label="com.example.shiva", source="print", pid=731, state="running")
    f = classify_service(service(), "h", TARGET, job, [launchd, stray, shipper], assigned=True)
    assert f.verdict is Verdict.DUPLICATE
    assert [(i.proc.pid, i.managed) for i in f.instances] == [(731, True), (902, False)]
    assert f.instances[1].reason.endswith(
        "runs python3 /Users/ops/shiva/main.py, cwd /Users/ops/shiva"
    )
    assert "runs /usr/bin/python3 /Users/ops/shiva/main.py" in f.instances[0].reason
    assert "cwd /Users/ops/shiva" in f.detail


def test_a_copy_whose_cwd_is_unknown_makes_the_view_partial() -> None:
    other_user = proc("python3 main.py", None, pid=903, uid=502)
    f = classify_service(service(), "h", TARGET, None, [other_user], assigned=True)
    assert f.verdict is Verdict.UNINSPECTABLE
    assert [h.pid for h in f.hidden] == [903]
    assert f.instances == ()
