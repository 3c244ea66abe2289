"""The per-host deploy lock (FIELD J): who deploys what, since when, until when.

One file per service, `/tmp/svcctl-deploy/<service>.lock`, on the target host. It is
taken with `ln` (a hard link to a fully written temp file): the link either appears
with the complete record or fails because another holder's is there, so a reader never
sees a half-written record. An expired record is taken over, and the takeover says so;
`--break-lock` takes over a live one. Release removes the file only if it still holds
our record. The record parsing and expiry judgement are pure; the I/O is three tiny
`sh -c` scripts (svcctl/scripts/lock_*.sh) run through `Host.run` with their values as
arguments; what their exits mean is `svcctl.scripts.lock.LockOutcome`.

Only takeover and release ever remove a lock file, and both do it holding the
service's breaker, a directory made with `mkdir` (atomic on every filesystem): so no
record is removed unless it is, at that moment, exactly the one judged expired (or our
own). A plain `ln` needs no breaker: it never replaces anything.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import socket
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from svcctl.errors import HostError, LockHeldError
from svcctl.host.base import Host
from svcctl.scripts import lock as lock_scripts
from svcctl.scripts.lock import LockOutcome, LockRun

LOCK_DIR = "/tmp/svcctl-deploy"  # /tmp: one directory for root and every user (FIELD I)
DEFAULT_TTL = 900.0
DEFAULT_WAIT = 5.0
CI_VARS = ("SVCCTL_CI_RUN", "GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "CIRCLE_WORKFLOW_ID")

@dataclass(frozen=True)
class LockRecord:
    service: str
    who: str  # user@machine
    pid: int
    started: float  # epoch seconds, the deployer's clock
    expires: float
    token: str  # makes every record unique, so release and takeover never mistake one
    ci_run: str | None = None

    def text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def describe(self) -> str:
        ci = f", CI run {self.ci_run}" if self.ci_run else ""
        return (f"{self.who} (pid {self.pid}{ci}) since {iso(self.started)}, "
                f"expires {iso(self.expires)}")

    def expired(self, now: float) -> bool:
        return now >= self.expires


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def lock_path(service: str) -> str:
    return f"{LOCK_DIR}/{service}.lock"


def new_record(service: str, ttl: float, env: dict[str, str] | None = None,
               now: float | None = None) -> LockRecord:
    env = dict(os.environ) if env is None else env
    now = time.time() if now is None else now
    ci = next((env[v] for v in CI_VARS if env.get(v)), None)
    return LockRecord(service, operator(env), os.getpid(), now, now + ttl,
                      secrets.token_hex(8), ci)


def operator(env: dict[str, str] | None = None) -> str:
    """user@machine of whoever runs svcctl: what locks and fence records name."""
    env = dict(os.environ) if env is None else env
    user = env.get("USER") or env.get("LOGNAME") or _user_name()
    return f"{user}@{socket.gethostname()}"


def parse_lock(text: str) -> LockRecord | None:
    """Pure: a lock file's content, or None when it is not a record we wrote."""
    try:
        raw: Any = json.loads(text)
        if not isinstance(raw, dict):
            return None
        ci = raw.get("ci_run")
        started, expires = float(raw["started"]), float(raw["expires"])
        for epoch in (started, expires):
            iso(epoch)  # NaN, inf, year 10**9 are no date: ValueError / OverflowError
        return LockRecord(str(raw["service"]), str(raw["who"]), int(raw["pid"]),
                          started, expires, str(raw["token"]),
                          None if ci is None else str(ci))
    except (ValueError, KeyError, TypeError, OverflowError, OSError, RecursionError):
        # any local user can write /tmp/svcctl-deploy: garbage must not crash audit/deploy
        return None


@dataclass(frozen=True)
class Acquired:
    record: LockRecord
    took_over: LockRecord | None = None  # an expired (or broken) holder we replaced
    broken: bool = False  # --break-lock took over a live holder

    def describe(self) -> str:
        base = f"held by {self.record.who} until {iso(self.record.expires)}"
        if self.took_over is not None:
            how = "broke the lock of" if self.broken else "took over the expired lock of"
            base += f"; {how} {self.took_over.describe()}"
        return base


class LockLostError(HostError):
    """Our lock record is no longer in the lock file: another deploy may be running."""


class DeployLock:
    """Take, inspect and release the lock for one service on one host."""

    def __init__(self, host: Host, service: str) -> None:
        self.host = host
        self.service = service
        self.path = lock_path(service)
        self.breaker = f"{LOCK_DIR}/.{service}.breaking"
        self.held: LockRecord | None = None
        self.ttl = DEFAULT_TTL

    @property
    def _template(self) -> str:
        """`mktemp`'s template for a record written in full before `ln` or `mv` puts it in
        place: a fresh random name per write, never one derived from the published record."""
        return f"{LOCK_DIR}/.{self.service}.XXXXXXXXXX"

    def _checked(self, run: LockRun) -> LockRun:
        if run.outcome.refused:
            raise HostError(f"{self.host.name}: refusing the deploy lock: "
                            f"{run.result.stderr.strip()}",
                            hint="another user may have planted it: check it, then remove "
                            f"it (the directory {LOCK_DIR} is created afresh)")
        return run

    def read(self) -> LockRecord | None:
        result = self.host.run(["cat", self.path])
        return parse_lock(result.stdout) if result.ok else None

    def _try(self, record: LockRecord) -> tuple[bool, str, str]:
        run = self._checked(lock_scripts.acquire(self.host, LOCK_DIR, self.path,
                                                 self._template, record.text()))
        r = run.result
        if run.outcome is LockOutcome.DONE:
            return True, "", ""
        if run.outcome is LockOutcome.HELD:
            return False, r.stdout, r.stderr.strip()
        raise HostError(f"{self.host.name}: cannot create the deploy lock {self.path}: "
                        f"{r.tail()} (exit {r.rc})")

    def _take_over(self, text: str, record: LockRecord) -> bool:
        """Replace the record `text` (judged expired, or to break) with ours, atomically
        with respect to every other takeover and release: False if it changed first."""
        # the script compares with "$(head ...)", which drops trailing newlines: so must we
        run = self._checked(lock_scripts.take_over(self.host, LOCK_DIR, self.breaker, self.path,
                                                   text.rstrip("\n"), self._template,
                                                   record.text()))
        r = run.result
        if run.outcome is LockOutcome.DONE:
            return True
        if run.outcome in (LockOutcome.CHANGED, LockOutcome.BUSY):
            return False
        raise HostError(f"{self.host.name}: cannot take over {self.path}: {r.tail()} "
                        f"(exit {r.rc}); another user's lock may need `sudo rm {self.path}`")

    def acquire(self, *, ttl: float = DEFAULT_TTL, wait: float = DEFAULT_WAIT,
                break_lock: bool = False) -> Acquired:
        """Take the lock, waiting up to `wait` s for a live holder; LockHeldError if held."""
        deadline = time.monotonic() + wait
        self.ttl = ttl
        while True:
            record = new_record(self.service, ttl)
            ok, text, owner = self._try(record)
            if ok:
                self.held = record
                return Acquired(record)
            holder = parse_lock(text)
            stale = holder is None or holder.expired(time.time())
            if (stale or break_lock) and self._take_over(text, record):
                self.held = record
                dead = holder or LockRecord(self.service, "unknown (unreadable record)",
                                            0, 0.0, 0.0, "")
                return Acquired(record, dead, broken=not stale)
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "an unreadable record"
                who += f" (lock file owned by {owner or '?'})"
                raise LockHeldError(
                    f"{self.host.name}: another deploy of {self.service} holds the lock: {who}",
                    hint=f"wait for it, or `--break-lock` if it is dead ({self.path})")
            time.sleep(0.5)

    def ensure_held(self) -> None:
        """Before each change: check the lock is still ours and renew its lease.

        A lease taken over after it expired (a step that outlived --lock-ttl, or an
        explicit --break-lock) must stop us, not let us run beside the new holder. While
        ours, the expiry moves to now + ttl, so only a deployer that stopped making
        progress loses its lock, never a long one that is still working.
        """
        if self.held is None:
            return
        renewed = replace(self.held, expires=time.time() + self.ttl)
        run = self._checked(lock_scripts.renew(self.host, LOCK_DIR, self.breaker, self.path,
                                               self.held.text(), self._template,
                                               renewed.text()))
        r = run.result
        if run.outcome is LockOutcome.DONE:
            self.held = renewed
            return
        if run.outcome is LockOutcome.BUSY:
            # another takeover or release is under way: just check, renew next time
            r = self.host.run(["cat", self.path])
            if r.ok and r.stdout == self.held.text():
                return
        elif run.outcome is not LockOutcome.CHANGED:
            raise HostError(f"{self.host.name}: cannot renew the deploy lock {self.path}: "
                            f"{r.tail()} (exit {r.rc})")
        other = parse_lock(r.stdout) if r.stdout else None
        now = other.describe() if other else "nobody"
        raise LockLostError(f"{self.host.name}: lost the deploy lock {self.path} "
                            f"(now held by {now})",
                            hint="another deploy may be running; svcctl stopped here and "
                            "did not roll back")

    def release(self) -> str:
        if self.held is None:
            return "not held"
        try:
            run = self._checked(lock_scripts.release(self.host, LOCK_DIR, self.breaker,
                                                     self.path, self.held.text()))
        except HostError as exc:
            return f"not released: {exc.message}"
        finally:
            self.held = None
        return {LockOutcome.DONE: "released",
                LockOutcome.CHANGED: "no longer ours (taken over after expiry)",
                LockOutcome.GONE: "already gone",
                LockOutcome.BUSY: f"not released: {self.breaker} stayed busy"}.get(
                    run.outcome, f"release failed ({run.result.rc}): {run.result.tail()}")
