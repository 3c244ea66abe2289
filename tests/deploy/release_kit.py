"""A release service on a testbed host, for the deploy tests of issue 13 (deploy, rollback):
`Shipped` (its source, inventory and what the host holds; the `shipped` fixture in
conftest.py), a sampler of every release's instances, and readers for deploy's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.service_kit import SAMPLER_PY, SERVICE_PY, Sampler, Service, Site


class ReleaseSampler(Sampler):
    """Sampler counting every instance of any release: argv[1] is <root>/releases/<id>/main.py
    (service_kit's Sampler compares argv[1] to one script path)."""

    def __init__(self, site: Site, host: str, root: str) -> None:
        self.site, self.host, self.root = site, host, root
        self.result: dict[str, Any] = {}

    def __enter__(self) -> ReleaseSampler:
        assert self.site.kind == "testbed", "the release sampler reads the testbed's /proc"
        state = json.loads((self.site.ssh_config.parent / "state.json").read_text())
        prefix = f"{self.root}/releases/"
        code = SAMPLER_PY.replace(
            "argv[1].decode(errors=\"replace\") == script",
            "argv[1].decode(errors=\"replace\").startswith(script) and "
            "argv[1].endswith(b\"/main.py\")")
        assert code != SAMPLER_PY, "the sampler's match changed: update ReleaseSampler"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "SAMPLER_PIDNS": state["hosts"][self.host]["pidns"]},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(prefix + "\n")
        self.proc.stdin.flush()
        first = self.proc.stdout.readline()
        assert first == "sampling\n", (first, self.proc.stderr.read() if self.proc.stderr
                                        else "")
        return self


class Shipped:
    """A service whose program is `{{ release }}/main.py`, its source a local directory,
    its inventory's `release:` block naming both; deployed with `svcctl deploy --json`."""

    def __init__(self, site: Site, tmp: Path, base: Service) -> None:
        self.site, self.base = site, base
        self.root = f"{site.home}/{base.name}"
        self.src = tmp / "src"
        self.src.mkdir()
        # keep_alive, stay_up 1.5 s, exit_timeout 2, a log path, as every deploy test
        base.write_inventory(program=["/usr/bin/python3", "{{ release }}/main.py"],
                             release={"root": self.root, "source": str(self.src), "keep": 5,
                                      "shared": ["state"]})

    def source(self, version: str, *, crash: bool = False) -> None:
        text = SERVICE_PY
        if crash:
            assert text.count("    main(sys.argv[1:])") == 1
            text = text.replace("    main(sys.argv[1:])", '    main(["v3", "crash"])')
        (self.src / "main.py").write_text(text)
        (self.src / "VERSION").write_text(version + "\n")

    def deploy(self, release: str, *args: str) -> tuple[int, dict[str, Any]]:
        return self.base.json("deploy", self.base.name, "--release", release, *args)

    def ps(self) -> list[str]:
        out = self.site.sh(self.site.main, "ps -axo command=", user="root").stdout
        return [ln for ln in out.splitlines() if f"{self.root}/releases/" in ln
                and "python" in ln.split()[0].lower()]

    def current(self) -> str:
        return self.site.sh(self.site.main, f"readlink {self.root}/current").stdout.strip()

    def releases(self) -> list[str]:
        return sorted(self.site.sh(self.site.main, f"ls {self.root}/releases").stdout.split())

    def cleanup(self) -> None:
        self.site.sh(self.site.main, f"launchctl bootout {self.base.target}; "
                     f"pkill -KILL -f {self.root}/releases/; rm -rf {self.root}",
                     user="root", check=False)
        self.base.cleanup()


def planned(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["step"], p["action"]) for p in host["plan"]]


def detail(host: dict[str, Any], step: str) -> str:
    return str(next(r["detail"] for r in host["steps"] if r["step"] == step))


def dry_then_real(s: Shipped, *args: str, rc: int = 0) -> dict[str, Any]:
    """`svcctl ARGS --dry-run`, then the run: the run's host report, its plan the dry
    run's and its records following that plan (a failure ends them early, then unlock)."""
    code, dry = s.base.json(*args, "--dry-run")
    assert code == 0, dry
    code, real = s.base.json(*args)
    (plan_of,), (done,) = dry["hosts"], real["hosts"]
    assert code == rc, done
    assert planned(done) == planned(plan_of), (done["plan"], plan_of["plan"])
    plan, ran = [k for k, _ in planned(done)], [r["step"] for r in done["steps"]]
    assert ran == plan or (ran[-1] == "unlock" and ran[:-1] == plan[:len(ran) - 1]), ran
    return dict(done)
