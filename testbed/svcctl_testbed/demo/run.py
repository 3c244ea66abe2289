"""The demo's story: deploy, the March 29 incident, detection, refusal, repair."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from svcctl_testbed.control import Testbed
from svcctl_testbed.demo.script import Outcome, Step, environment, run_steps

HERE = Path(__file__).resolve().parent
SSH = "ssh -F .testbed/ssh_config"

STORY = [
    Step("svcctl testbed up tesseract backup", 0, ("tesseract",),
         say="Two simulated Macs: a launchd emulator as PID 1, sshd, a user `ops` (uid 501)."),
    Step(f"scp -F .testbed/ssh_config -r shiva tesseract: && {SSH} tesseract ls shiva", 0,
         ("main.py",), say="Ship the trading bot's code to tesseract, as a code deploy would."),
    Step("svcctl deploy shiva --yes", 0,
         say="Deploy it under launchd: lock, pre-flight, upload, stop, start, verify."),
    Step("svcctl audit", 0, ("ok",),
         say="Exactly one instance runs, launchd's own."),
    Step(f"{SSH} tesseract 'nohup /usr/bin/python3 /Users/ops/shiva/main.py "
         "< /dev/null >> shiva/manual.log 2>&1 &'", 0,
         say="March 29: an engineer SSHs in, starts the bot by hand with nohup, logs out."),
    Step("svcctl audit  # exit 1", 1, ("duplicate", "STRAY"),
         say="Two live instances on one wallet. Audit finds the stray, with evidence."),
    Step("svcctl deploy shiva --yes  # exit 1", 1, ("svcctl adopt shiva",),
         say="A deploy now would restart around the stray: it refuses and changes nothing."),
    Step("svcctl adopt shiva --host tesseract --yes", 0,
         say="Adopt kills the stray (re-checked right before each signal), keeps launchd's."),
    Step("svcctl deploy shiva --yes", 0,
         say="With the stray gone, the deploy goes through its gates."),
    Step("svcctl audit", 0, ("ok",),
         say="Clean again: one instance, launchd's own."),
]

TEARDOWN = Step("svcctl testbed down", 0, say="Tear the simulated hosts down.")


def prepare(workdir: Path) -> None:
    """The demo's working directory: its inventory and the bot's code."""
    workdir.mkdir(parents=True, exist_ok=True)
    testbed = workdir / ".testbed"
    if testbed.is_dir() and not testbed.is_symlink():
        # a fresh start: hosts from an earlier `--keep` run are stopped, their disks wiped
        Testbed(testbed).down()
        shutil.rmtree(testbed)
    shutil.copyfile(HERE / "inventory.yaml", workdir / "inventory.yaml")
    target = workdir / "shiva"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(HERE / "shiva", target, ignore=shutil.ignore_patterns("__pycache__"))


def run_demo(workdir: Path, keep: bool, show: Callable[[str], None]) -> bool:
    prepare(workdir)
    env = environment(workdir)
    show(f"svcctl demo in {workdir} (each command runs as typed, from this directory)")
    outcomes: list[Outcome] = []
    try:
        outcomes = run_steps(STORY, workdir, env, show)
    finally:
        if not keep:
            run_steps([TEARDOWN], workdir, env, show)
        else:
            show(f"\n# The hosts keep running (--keep): cd {workdir} and try svcctl yourself;"
                 "\n# `svcctl testbed down` there stops them.")
    good = len(outcomes) == len(STORY) and all(o.ok for o in outcomes)
    show("\ndemo: every step behaved as narrated" if good else
         "\ndemo: FAILED: a step did not behave as narrated (see above)")
    return good
