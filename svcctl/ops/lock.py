"""The per-host deploy lock (FIELD J): who deploys what, since when, until when.

One file per service, `/tmp/svcctl-deploy/<service>.lock`, on the target host. It is
taken with `ln` (a hard link to a fully written temp file): the link either appears
with the complete record or fails because another holder's is there, so a reader never
sees a half-written record. An expired record is taken over, and the takeover says so;
`--break-lock` takes over a live one. Release removes the file only if it still holds
our record. The record parsing and expiry judgement are pure; the I/O is three tiny
`sh -c` scripts run through `Host.run` with their values as arguments.

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
from svcctl.host.base import Host, Result

LOCK_DIR = "/tmp/svcctl-deploy"  # /tmp: one directory for root and every user (FIELD I)
DEFAULT_TTL = 900.0
DEFAULT_WAIT = 5.0
CI_VARS = ("SVCCTL_CI_RUN", "GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID", "CIRCLE_WORKFLOW_ID")

# Every script starts with these. The directory is shared by every user (FIELD I) and any
# of them can plant files in it, so nothing there is followed, chmod'ed or overwritten
# unless we just created it (issue 10 §2). rc 71: the directory is not one svcctl may
# trust; rc 72: a path svcctl must read is not a plain file; rc 7: a breaker that is stale
# and cannot be removed; rc 70: cannot write. Each names the path and its owner on stderr.
# `ls -ld(n)` reads owner and mode on macOS and Linux alike (FACTS §5.4: no GNU stat).
_COMMON = r"""
set -f
unset CDPATH
owner_of() { set -- $(ls -ld "$1" 2>/dev/null); echo "${3:-?}"; }
trusted() {
  if [ -L "$1" ]; then echo "$1 is a symbolic link (owner $(owner_of "$1"))" >&2; exit 71; fi
  if [ ! -d "$1" ]; then echo "$1 is not a directory" >&2; exit 71; fi
  set -- "$1" $(ls -ldn "$1")
  mode=${2%[+@.]}
  if [ "$4" != 0 ] && [ "$4" != "$(id -u)" ]; then
    echo "$1 is owned by uid $4 ($(owner_of "$1")), not root or us" >&2; exit 71
  fi
  case "$mode" in ????????w? | ?????w????) case "$mode" in *t|*T) ;;
    *) echo "$1 is writable by others and not sticky ($mode)" >&2; exit 71;; esac;; esac
}
regular() {
  if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then
    echo "$1 is not a plain file (owner $(owner_of "$1")): remove it" >&2; exit 72
  fi
}
# a new file from a mktemp template: O_EXCL and a name nobody saw before it existed
fresh() {
  tmp=$(mktemp "$1") || exit 70
  chmod 644 "$tmp" && printf '%s' "$2" > "$tmp" || { rm -f "$tmp"; exit 70; }
}
"""
# $1 dir, $2 lock file, $3 temp template, $4 record. rc 0: taken; rc 3: held (record on
# stdout, the file's owner on stderr: a record names anyone, its owner is the writer).
# The directory must be a real directory owned by root or by us, and sticky if others
# may write to it; made with `mkdir -m`, never chmod'ed by path.
# Root takes over a directory a user created first (as svcctl.guard does), so that user
# can no longer delete others' locks: it changes "." after `cd -P` into it and checking
# that `pwd -P` is the lock directory's own path, so a symlink swapped in meanwhile
# leads nowhere (chown and chmod act on the directory we stand in, not on a path).
_ACQUIRE = _COMMON + r"""
if [ ! -e "$1" ] && [ ! -L "$1" ]; then mkdir -m 1777 "$1" 2>/dev/null; fi
if [ "$(id -u)" = 0 ] && [ ! -L "$1" ] && [ -d "$1" ]; then
  set -- "$@" $(ls -ldn "$1")
  if [ "$7" != 0 ]; then
    real=$(cd -P "${1%/*}" && pwd -P)/${1##*/}
    (cd -P "$1" && [ "$(pwd -P)" = "$real" ] && chown 0 . && chmod 1777 .) 2>/dev/null
  fi
fi
trusted "$1"
regular "$2"
fresh "$3" "$4"
if ln -n "$tmp" "$2" 2>/dev/null; then rm -f "$tmp"; exit 0; fi
rm -f "$tmp"; regular "$2"; owner_of "$2" >&2; head -c 65536 "$2" 2>/dev/null; exit 3
"""
# Takes the breaker directory $2, for up to about 5 s: rc 6 if another process keeps it.
# A breaker older than a minute was left by a process killed mid-script (SIGKILL skips
# the trap), so it is removed; one that cannot be (another user's, or not empty) is
# reported, rc 7, never spun on. `find -mmin` reads its age on macOS and Linux alike.
_BREAKER = _COMMON + r"""
trusted "$1"
breaker=$2
stuck() {
  echo "stale breaker $breaker $1 (owner $(owner_of "$breaker")): remove it" >&2; exit 7
}
i=0
until mkdir "$breaker" 2>/dev/null; do
  i=$((i+1)); [ $i -gt 50 ] && exit 6
  # a rival's breaker comes and goes between these tests: only a path that stays a
  # non-directory across them (or a link, which no deployer makes) is one
  if [ -L "$breaker" ] ||
     { [ ! -d "$breaker" ] && [ -e "$breaker" ] && [ ! -d "$breaker" ]; }; then
    stuck "is not a directory"
  fi
  if [ -n "$(find "$breaker" -maxdepth 0 -mmin +1 2>/dev/null)" ]; then
    rmdir "$breaker" 2>/dev/null || [ ! -e "$breaker" ] || stuck "cannot be removed"
  else
    sleep 0.1
  fi
done
trap 'rmdir "$breaker" 2>/dev/null' EXIT
trap 'exit 129' HUP INT TERM PIPE
shift 2
"""
# (after the breaker's shift) $1 lock file, $2 the exact record judged expired (or to
# break), $3 temp template, $4 our record. rc 0: ours now; rc 4: the file changed
# meanwhile (its record, if any, on stdout), or a plain acquirer linked theirs first
_TAKEOVER = _BREAKER + r"""
regular "$1"
if [ -e "$1" ]; then
  cur=$(head -c 65536 "$1" 2>/dev/null)
  if [ "$cur" != "$2" ]; then printf '%s' "$cur"; exit 4; fi
  rm -f "$1" || exit 70
fi
fresh "$3" "$4"
if ln -n "$tmp" "$1" 2>/dev/null; then rm -f "$tmp"; exit 0; fi
rm -f "$tmp"; regular "$1"; head -c 65536 "$1" 2>/dev/null; exit 4
"""
# $1 lock file, $2 our record, $3 temp template, $4 our record with a later expiry.
# rc 0: renewed (rename: readers see the old record or the new, whole); rc 4: not ours
# any more (the record there, if any, on stdout). Ours, in a sticky directory: nobody
# else can swap it between the check and the rename.
_RENEW = _BREAKER + r"""
regular "$1"
cur=$(head -c 65536 "$1" 2>/dev/null)
if [ "$cur" != "$2" ]; then printf '%s' "$cur"; exit 4; fi
fresh "$3" "$4"
mv -f "$tmp" "$1" || { rm -f "$tmp"; exit 70; }
"""
# $1 lock file, $2 our record. rc 0: released; rc 4: not ours any more; rc 5: gone
_RELEASE = _BREAKER + r"""
[ -e "$1" ] || [ -L "$1" ] || exit 5
regular "$1"
[ "$(head -c 65536 "$1")" = "$2" ] || exit 4
rm -f "$1"
"""
_REFUSED = {7, 71, 72}  # the script named a path it will not touch, and its owner


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

    def _run(self, script: str, *args: str) -> Result:
        r = self.host.run(["sh", "-c", script, "sh", LOCK_DIR, *args])
        if r.rc in _REFUSED:
            raise HostError(f"{self.host.name}: refusing the deploy lock: {r.stderr.strip()}",
                            hint="another user may have planted it: check it, then remove "
                            f"it (the directory {LOCK_DIR} is created afresh)")
        return r

    def read(self) -> LockRecord | None:
        result = self.host.run(["cat", self.path])
        return parse_lock(result.stdout) if result.ok else None

    def _try(self, record: LockRecord) -> tuple[bool, str, str]:
        r = self._run(_ACQUIRE, self.path, self._template, record.text())
        if r.rc == 0:
            return True, "", ""
        if r.rc == 3:
            return False, r.stdout, r.stderr.strip()
        raise HostError(f"{self.host.name}: cannot create the deploy lock {self.path}: "
                        f"{r.tail()} (exit {r.rc})")

    def _take_over(self, text: str, record: LockRecord) -> bool:
        """Replace the record `text` (judged expired, or to break) with ours, atomically
        with respect to every other takeover and release: False if it changed first."""
        # the script compares with "$(head ...)", which drops trailing newlines: so must we
        r = self._run(_TAKEOVER, self.breaker, self.path, text.rstrip("\n"), self._template,
                      record.text())
        if r.rc == 0:
            return True
        if r.rc in (4, 6):
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
        r = self._run(_RENEW, self.breaker, self.path, self.held.text(), self._template,
                      renewed.text())
        if r.rc == 0:
            self.held = renewed
            return
        if r.rc == 6:  # another takeover or release is under way: just check, renew next time
            r = self.host.run(["cat", self.path])
            if r.ok and r.stdout == self.held.text():
                return
        elif r.rc != 4:
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
            r = self._run(_RELEASE, self.breaker, self.path, self.held.text())
        except HostError as exc:
            return f"not released: {exc.message}"
        finally:
            self.held = None
        return {0: "released", 4: "no longer ours (taken over after expiry)",
                5: "already gone", 6: f"not released: {self.breaker} stayed busy"}.get(
                    r.rc, f"release failed ({r.rc}): {r.tail()}")
