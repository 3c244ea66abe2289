"""Read-only by construction (issue 14): a real watch against the testbed hosts, through a
Host that records everything sent, sends only the audit's probe batch, byte for byte.

What would make it fail: any other command on a watched connection (a kill, an adopt, a
kickstart, an upload: `run`, `feed` or `write_file`), or the probe batch carrying one more
command (it is compared whole with `plan_probe` + `build_batch`). A watch that opened a
connection of its own, past the connector it is given, would send nothing through the
recorder: the counts below fail then, and launchd's instance and the stray, left alone by
any read-only watch, are checked too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence

import pytest

from svcctl.cli.common import connector
from svcctl.host.base import Host, Result
from svcctl.inventory import load_inventory
from svcctl.launchd import build_batch
from svcctl.model import HostSpec, ServiceSpec
from svcctl.ops.audit import plan_probe
from svcctl.ops.watch import Scope, Watch, WatchOptions
from svcctl.watch.state import Tracker
from tests.service_kit import Site
from tests.testbed.jobs import detached
from tests.wait import wait_until

pytestmark = pytest.mark.testbed

Sent = list[tuple[str, str, tuple[str, ...]]]  # (host, what, argv or path)


class Recording(Host):
    """The real Host, with every call recorded before it goes out."""

    def __init__(self, inner: Host, sent: Sent) -> None:
        self.name, self._inner, self._sent = inner.name, inner, sent

    def run(self, argv: Sequence[str], *, timeout: float = 30.0,
            stdin: bytes | None = None) -> Result:
        self._sent.append((self.name, "run" if stdin is None else "run+stdin", tuple(argv)))
        return self._inner.run(argv, timeout=timeout, stdin=stdin)

    def feed(self, argv: Sequence[str], chunks: Iterable[bytes], *,
             timeout: float = 30.0) -> Result:
        self._sent.append((self.name, "feed", tuple(argv)))
        return self._inner.feed(argv, chunks, timeout=timeout)

    def read_file(self, path: str) -> bytes | None:
        self._sent.append((self.name, "read_file", (path,)))
        return self._inner.read_file(path)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._sent.append((self.name, "write_file", (path,)))
        self._inner.write_file(path, data, mode)

    def close(self) -> None:
        self._sent.append((self.name, "close", ()))
        self._inner.close()


def is_probe(spec: HostSpec, services: Sequence[ServiceSpec], argv: Sequence[str]) -> bool:
    """`argv` is exactly the audit's probe batch for the host (its nonce is random: the
    batch is rebuilt with the one `argv` carries, then compared whole)."""
    m = re.match(r"a=svcctl-([0-9a-f]+); b=([0-9a-f]+)\n", argv[2]) if len(argv) > 2 else None
    if m is None:
        return False
    expected = build_batch(plan_probe(spec, services).commands, m.group(1) + m.group(2))
    return list(argv) == expected.argv


def test_the_watch_sends_nothing_but_the_probe(kit: Site) -> None:
    svc = kit.service()
    path = kit.inventory({svc.name: svc.entry(["tesseract"])})
    managed = kit.deploy(path, svc)
    inv = load_inventory(path)
    real = connector(inv, False)
    sent: Sent = []
    scope = Scope(inv, tuple(inv.hosts.values()), tuple(inv.services.values()),
                  lambda spec: Recording(real(spec), sent))
    events: list[str] = []
    logs: list[str] = []
    watch = Watch(scope, lambda: scope, WatchOptions(interval=1.0, timeout=10),
                  tracker=Tracker(), collector=None, emit=events.append, log=logs.append)
    loop = threading.Thread(target=watch.run)
    loop.start()
    try:
        # a finding the watch sees (a copy beside launchd's: duplicate) and its end: the
        # watch only tells, it never acts
        stray = int(kit.sh("tesseract", detached(f"/usr/bin/python3 {svc.script}"))
                    .stdout.split()[-1])
        kit.on_teardown("tesseract", f"kill -9 {stray}")
        wait_until(lambda: any('"verdict": "duplicate"' in e for e in events))
        wait_until(lambda: watch.cycles >= 4)
        assert stray in kit.processes("tesseract"), "the stray was touched"
        assert kit.job_field("tesseract", svc.target, "pid") == str(managed)
        kit.sh("tesseract", f"kill {stray}")
        wait_until(lambda: any('"verdict": "ok"' in e for e in events))
    finally:
        watch.stop()
        loop.join(30)
    assert not loop.is_alive()
    assert not [x for x in logs if "lost" in x or "error" in x], logs

    specs = {s.name: s for s in scope.hosts}
    per_host = {h: [s for s in sent if s[0] == h and s[1] != "close"] for h in specs}
    # the probes went through the recorder: one per host per cycle at most (a host still
    # busy is not asked again), and most cycles
    for host, calls in per_host.items():
        assert max(3, watch.cycles // 2) <= len(calls) <= watch.cycles, \
            (host, len(calls), watch.cycles)
    bad = [(h, what, argv[:3]) for h, what, argv in sent if what != "close"
           and (what != "run" or not is_probe(specs[h], scope.services, argv))]
    assert bad == [], bad
    for host in specs:  # and each connection closed at the stop
        assert [s for s in sent if s[0] == host][-1] == (host, "close", ())

    # and the check can fail: a write, or the probe with one command more, is refused
    spec = specs["tesseract"]
    probe = plan_probe(spec, scope.services)
    good = build_batch(probe.commands)
    assert is_probe(spec, scope.services, good.argv)
    assert not is_probe(spec, scope.services, ["kill", "-9", str(stray)])
    more = build_batch([*probe.commands, ["launchctl", "kickstart", "-k", svc.target]],
                       good.nonce)
    assert not is_probe(spec, scope.services, more.argv)
    assert not is_probe(spec, scope.services, [*good.argv, "rm"])



def test_a_reload_closes_the_connection_of_a_host_removed(kit: Site) -> None:
    svc = kit.service()
    path = kit.inventory({svc.name: svc.entry(["tesseract"])})
    inv = load_inventory(path)
    real = connector(inv, False)
    sent: Sent = []
    both = Scope(inv, tuple(inv.hosts.values()), tuple(inv.services.values()),
                 lambda spec: Recording(real(spec), sent))
    one = Scope(inv, (inv.hosts["tesseract"],), both.services, both.connect)
    logs: list[str] = []
    watch = Watch(both, lambda: one, WatchOptions(interval=0.5, timeout=10),
                  tracker=Tracker(), collector=None, emit=lambda _: None, log=logs.append)
    loop = threading.Thread(target=watch.run)
    loop.start()
    try:
        wait_until(lambda: {h for h, what, _ in sent if what == "run"} == {"tesseract", "backup"})
        watch.reload()
        wait_until(lambda: any("inventory reloaded: 1 host(s)" in x for x in logs))
        wait_until(lambda: ("backup", "close", ()) in sent)
        at = len(sent)
        cycles = watch.cycles
        wait_until(lambda: watch.cycles >= cycles + 3)
    finally:
        watch.stop()
        loop.join(30)
    assert not loop.is_alive()
    assert [s for s in sent[at:] if s[0] == "backup"] == []  # not probed again
    assert [s for s in sent if s[0] == "tesseract"][-1] == ("tesseract", "close", ())  # at exit
    assert set(watch.workers) == {"tesseract"}
