"""Issue 10 §2: files another local user can write must not steer what svcctl kills or writes.

Every attack runs as `nobody` on a simulated host (`setpriv` as root over SSH is test
instrumentation: on a Mac it is `sudo -u nobody`); svcctl then runs as ops, or root,
over its real SSH transport, against the host's real files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import svcctl.guard
from svcctl.errors import HostError, LockHeldError
from svcctl.host.quote import join
from svcctl.host.ssh import SSHHost, SSHTarget
from svcctl.ops.lock import LOCK_DIR, DeployLock, new_record
from tests.conftest import Hosts
from tests.service_kit import Service, Site
from tests.testbed.jobs import SERVICE_PY

pytestmark = pytest.mark.testbed
H = "tesseract"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody(hosts: Hosts, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`script` run by the unprivileged user nobody on the host (the attacker)."""
    return hosts.ssh(H, [*NOBODY, "sh", "-c", script], user="root", check=check)


@pytest.fixture
def attacker(hosts: Hosts) -> Hosts:
    passwd = hosts.ssh(H, ["cat", "/etc/passwd"]).stdout
    assert any(line.split(":")[0] == "nobody" and line.split(":")[2] == "65534"
               for line in passwd.splitlines()), passwd
    assert as_nobody(hosts, "id -u").stdout.strip() == "65534"
    return hosts


def _host(hosts: Hosts, user: str = "ops") -> SSHHost:
    return SSHHost(H, SSHTarget(H, ssh_config=hosts.ssh_config, user=user))


def _mode(hosts: Hosts, path: str) -> str:
    return hosts.ssh(H, ["ls", "-ldn", path], user="root").stdout.split()[0]


@pytest.fixture
def fresh_lock_dir(attacker: Hosts) -> Iterator[None]:
    """No /tmp/svcctl-deploy yet: the first lock after boot."""
    attacker.ssh(H, ["rm", "-rf", LOCK_DIR], user="root")
    yield
    attacker.ssh(H, ["rm", "-rf", LOCK_DIR], user="root")


def _lock_dir_of_ops(hosts: Hosts) -> None:
    """/tmp/svcctl-deploy as ops's first deploy after boot leaves it."""
    hosts.ssh(H, ["rm", "-rf", LOCK_DIR], user="root")
    hosts.ssh(H, ["mkdir", "-m", "1777", LOCK_DIR])


def _guard_dir(hosts: Hosts) -> None:
    """/tmp/svcctl-guard as the first guarded start leaves it (root's, or the user's)."""
    hosts.ssh(H, ["mkdir", "-p", "-m", "1777", "/tmp/svcctl-guard"], user="root")


def _service() -> str:
    return f"hostile{time.time_ns() % 10**9}"


@pytest.mark.parametrize(("user", "target"), [("ops", "/Users/ops/Library/LaunchAgents"),
                                              ("root", "/Library/LaunchDaemons")])
def test_a_planted_lock_dir_symlink_is_refused_and_its_target_left_alone(
        attacker: Hosts, fresh_lock_dir: None, user: str, target: str) -> None:
    attacker.ssh(H, ["mkdir", "-p", target], user=user)
    before = _mode(attacker, target)
    as_nobody(attacker, f"ln -s {target} {LOCK_DIR}")
    with _host(attacker, user) as host, pytest.raises(HostError, match="refusing"):
        DeployLock(host, _service()).acquire(ttl=60, wait=0)
    assert _mode(attacker, target) == before  # not made 1777
    assert "hostile" not in attacker.ssh(H, ["ls", "-A", target], user="root").stdout


def test_a_lock_dir_made_by_another_user_is_refused_and_root_takes_it_over(
        attacker: Hosts, fresh_lock_dir: None) -> None:
    as_nobody(attacker, f"mkdir -m 1777 {LOCK_DIR}")
    with _host(attacker) as host, pytest.raises(HostError, match=r"owned by uid 65534 \(nobody\)"):
        DeployLock(host, _service()).acquire(ttl=60, wait=0)
    with _host(attacker, "root") as host:
        lock = DeployLock(host, _service())
        lock.acquire(ttl=60, wait=0)
        assert lock.release() == "released"
    owner = attacker.ssh(H, ["ls", "-ldn", LOCK_DIR]).stdout.split()
    assert (owner[0], owner[2]) == ("drwxrwxrwt", "0"), owner
    with _host(attacker) as host:  # ops trusts root's directory
        lock = DeployLock(host, _service())
        lock.acquire(ttl=60, wait=0)
        assert lock.release() == "released"


def test_renewal_does_not_write_through_a_planted_temp_symlink(attacker: Hosts) -> None:
    victim = "/Users/ops/victim.txt"
    attacker.put(H, victim, "precious\n")
    _lock_dir_of_ops(attacker)
    with _host(attacker) as host:
        lock = DeployLock(host, _service())
        lock.acquire(ttl=60, wait=0)
        try:
            token = json.loads(attacker.ssh(H, ["cat", lock.path]).stdout)["token"]
            # the lock file is world-readable: its token once named the renewal's temp file
            as_nobody(attacker, f"ln -s {victim} {LOCK_DIR}/.{lock.service}.{token}")
            lock.ensure_held()
            assert attacker.ssh(H, ["cat", victim]).stdout == "precious\n"
            listing = attacker.ssh(H, ["ls", "-ln", lock.path]).stdout.split()
            assert listing[0].startswith("-") and listing[2] == "501", listing  # ours, a file
            assert lock.held is not None
            assert attacker.ssh(H, ["cat", lock.path]).stdout == lock.held.text()
            assert lock.release() == "released"
        finally:
            attacker.ssh(H, ["rm", "-f", lock.path, victim,
                             f"{LOCK_DIR}/.{lock.service}.{token}"], user="root")


def test_a_breaker_that_cannot_be_removed_is_reported_not_spun_on(attacker: Hosts) -> None:
    _lock_dir_of_ops(attacker)
    with _host(attacker) as host:
        lock = DeployLock(host, _service())
        as_nobody(attacker, f"printf 'not a record' > {lock.path} && mkdir {lock.breaker} "
                  f"&& touch {lock.breaker}/x && touch -t 202001010000 {lock.breaker}")
        try:
            started = time.monotonic()
            with pytest.raises((HostError, LockHeldError)) as raised:
                lock.acquire(ttl=60, wait=0)
            assert time.monotonic() - started < 20
            assert lock.breaker in str(raised.value) and "nobody" in str(raised.value)
            spinning = attacker.ssh(H, ["pgrep", "-f", lock.breaker], user="root", check=False)
            assert spinning.stdout.strip() == "", spinning.stdout
        finally:
            attacker.ssh(H, ["pkill", "-f", lock.breaker], user="root", check=False)
            attacker.ssh(H, ["rm", "-rf", lock.breaker, lock.path], user="root")


def _inventory(hosts: Hosts, tmp_path: Path, name: str) -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"""
ssh_config: {hosts.ssh_config}
hosts:
  tesseract: {{domain: user/501, home: /Users/ops}}
services:
  {name}:
    label: com.example.{name}
    hosts: [tesseract]
    program: [/usr/bin/python3, /Users/ops/{name}/main.py]
    keep_alive: true
    guard: true
""")
    return inv


def _audit(inv: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "audit", "-i", str(inv),
                           "--service", name, *extra], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def test_a_forged_guard_record_makes_no_process_a_stray(attacker: Hosts, tmp_path: Path) -> None:
    name = _service()
    inv = _inventory(attacker, tmp_path, name)
    victim = attacker.ssh(H, "nohup sleep 300 >/dev/null 2>&1 & echo $!").stdout.strip()
    try:
        _guard_dir(attacker)
        as_nobody(attacker, f"printf '%s' '{{\"pid\": {victim}}}' "
                  f"> /tmp/svcctl-guard/{name}.lock")
        doc = json.loads(_audit(inv, name, "--json").stdout)
        (finding,) = doc["hosts"][0]["services"]
        assert [i["pid"] for i in finding["instances"]] == [], finding
        assert finding["verdict"] == "down", finding
        text = _audit(inv, name).stdout
        named = re.compile(rf"\bpid {victim}\b")
        assert not named.search(text), text
        plan = subprocess.run([sys.executable, "-m", "svcctl.cli.main", "adopt", name, "-i",
                               str(inv), "--host", H, "--dry-run"], capture_output=True,
                              text=True, timeout=60)
        assert plan.returncode in (0, 1) and not named.search(plan.stdout + plan.stderr), plan
        assert attacker.ssh(H, ["kill", "-0", victim], check=False).returncode == 0
    finally:
        attacker.ssh(H, ["kill", victim], check=False)
        attacker.ssh(H, ["rm", "-f", f"/tmp/svcctl-guard/{name}.lock"], user="root")


def test_escapes_in_lock_records_do_not_reach_the_terminal(attacker: Hosts,
                                                          tmp_path: Path) -> None:
    name = _service()
    inv = _inventory(attacker, tmp_path, name)
    evil = "x\x1b[2K\r  " + name + "  ok\x07\u202e"
    record = json.loads(new_record(name, 600).text())
    record["who"] = evil
    _lock_dir_of_ops(attacker)
    # a stray the process table finds, so the guard record's note is shown beside it
    attacker.ssh(H, ["mkdir", "-p", f"/Users/ops/{name}"])
    attacker.put(H, f"/Users/ops/{name}/main.py", SERVICE_PY)
    stray = attacker.ssh(H, f"nohup /usr/bin/python3 /Users/ops/{name}/main.py "
                            ">/dev/null 2>&1 & echo $!").stdout.strip()
    guard = {"pid": int(stray), "since": "\x1b[1A", "command": ["\x1b]0;pwned\x07"]}
    script = (f"printf '%s' {join([json.dumps(record)])} > {LOCK_DIR}/{name}.lock; "
              "printf '%s' "
              f"{join([json.dumps(guard)])} > /tmp/svcctl-guard/{name}.lock")
    _guard_dir(attacker)
    as_nobody(attacker, script)
    try:
        text = _audit(inv, name).stdout
        assert "deploy lock for" in text and f"guard lock held by pid {stray}" in text, text
        assert not any(c in text for c in "\x1b\x07\r\u202e"), repr(text)
        assert "\\x1b[2K" in text and "\\x1b]0;pwned" in text  # shown, escaped
        doc = json.loads(_audit(inv, name, "--json").stdout)
        (lk,) = [lk for lk in doc["hosts"][0]["deploy_locks"] if lk["service"] == name]
        assert lk["who"] == evil  # JSON stays exact
    finally:
        attacker.ssh(H, ["kill", stray], check=False)
        attacker.ssh(H, ["rm", "-rf", f"{LOCK_DIR}/{name}.lock", f"/Users/ops/{name}",
                         f"/tmp/svcctl-guard/{name}.lock"], user="root")


def test_escapes_in_a_live_lock_do_not_reach_deploys_held_by_line(
        attacker: Hosts, testbed: Site, tmp_path: Path) -> None:
    svc = Service(testbed, _service(), tmp_path, [testbed.main])
    svc.write_inventory()
    record = json.loads(new_record(svc.name, 600).text())
    record["who"], record["ci_run"] = "x\x1b[2K\r", "\x1b]0;pwned\x07"
    try:
        _lock_dir_of_ops(attacker)
        as_nobody(attacker, "printf '%s' "
                  f"{join([json.dumps(record)])} > {LOCK_DIR}/{svc.name}.lock")
        proc = svc.svcctl("deploy", svc.name, "--lock-wait", "0")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 4 and "holds the lock" in out, out
        assert not any(c in out for c in "\x1b\x07\r"), repr(out)
        assert "\\x1b]0;pwned" in out  # shown, escaped
        assert "lock file owned by nobody" in out  # the writer, whatever the record claims
    finally:
        attacker.ssh(H, ["rm", "-f", f"{LOCK_DIR}/{svc.name}.lock"], user="root")
        svc.cleanup()


HOLD_PY = r"""
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
os.fchmod(fd, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": "\x1b[2J", "since": "\u202e",
                          "command": ["\x1b]0;pwned\x07"]}).encode(), 0)
print("held", flush=True)
time.sleep(60)
"""


def test_the_guard_refusal_shows_another_users_record_escaped(attacker: Hosts) -> None:
    name = _service()
    lock, wrapper = f"/tmp/svcctl-guard/{name}.lock", f"/Users/ops/{name}-guard.py"
    attacker.put(H, wrapper, Path(svcctl.guard.__file__).read_text(), mode="755")
    _guard_dir(attacker)
    holder = subprocess.Popen(attacker.tb.ssh_argv(H, join(
        [*NOBODY, "/usr/bin/python3", "-c", HOLD_PY, lock]), user="root"),
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = attacker.ssh(H, ["/usr/bin/python3", wrapper, name, "--", "/usr/bin/true"],
                               check=False)
        assert started.returncode == 75 and "already running" in started.stderr, started
        assert not any(c in started.stderr for c in "\x1b\x07\u202e"), repr(started.stderr)
        assert "\\x1b]0;pwned" in started.stderr  # shown, escaped
    finally:
        holder.kill()
        attacker.ssh(H, ["pkill", "-f", lock], user="root", check=False)
        attacker.ssh(H, ["rm", "-f", lock, wrapper], user="root")


def test_a_fifo_planted_as_a_record_does_not_hang_audit(attacker: Hosts, tmp_path: Path) -> None:
    # a FIFO at the lock or guard record's name: `cat` blocked the whole probe until its
    # timeout, and audit called the host unreachable
    name = _service()
    inv = _inventory(attacker, tmp_path, name)
    _lock_dir_of_ops(attacker)
    _guard_dir(attacker)
    as_nobody(attacker, f"mkfifo {LOCK_DIR}/{name}.lock /tmp/svcctl-guard/{name}.lock")
    try:
        started = time.monotonic()
        doc = json.loads(_audit(inv, name, "--json").stdout)
        assert time.monotonic() - started < 20
        (host,) = doc["hosts"]
        assert host["reachable"], host
        assert host["services"][0]["verdict"] == "down", host
    finally:
        attacker.ssh(H, ["rm", "-f", f"{LOCK_DIR}/{name}.lock",
                         f"/tmp/svcctl-guard/{name}.lock"], user="root")
