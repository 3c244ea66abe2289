"""Signal strays and only strays: each signal one remote call that re-identifies its target.

Kill only what you can identify (STYLE habit 7, FIELD F): each signal is ONE remote
`sh -c` over every process to signal (svcctl/scripts/kill_signal.sh; its per-pid
verdicts are `svcctl.scripts.kill.Signalled`). It reads the label's launchd pid first and
refuses it, then per process re-reads `ps -o lstart=,command= -p PID` and signals only if its
start time and command, each read apart from the column gap, still equal what svcctl
parsed, so a reused pid is never signalled. A stray's descendants and process group go
with it (`family_of`), each re-identified the same way. Never PID 1, never launchd's
instance or its descendants, never a process outside the stray's tree or group. EPERM
is reported with a remedy.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from svcctl.host.base import Host
from svcctl.model import HostSpec, ProcInfo, ServiceSpec
from svcctl.ops.lifecycle import StepFailed
from svcctl.procs import parse_ps, ps_argv
from svcctl.scripts.kill import Signalled, signal_each

KILL_WAIT = 5.0


@dataclass(frozen=True)
class Kill:
    proc: ProcInfo
    # the label's service-targets (every domain it could be loaded in): a pid launchd holds
    # for the label in any of them is refused at signal time
    targets: tuple[str, ...]
    family: tuple[ProcInfo, ...] = ()  # descendants and group members that go with it

    @property
    def identity(self) -> tuple[str, str]:
        """What must still hold right before the signal: parsed lstart, and command."""
        return self.proc.started_raw, self.proc.command


def _chain(pid: int, by_pid: Mapping[int, ProcInfo]) -> list[int]:
    """pid's ancestors through the ppid chain, nearest first."""
    out: list[int] = []
    proc = by_pid.get(pid)
    while proc is not None and proc.ppid > 0 and proc.ppid not in out and proc.ppid != pid:
        out.append(proc.ppid)
        proc = by_pid.get(proc.ppid)
    return out


def family_of(stray: ProcInfo, procs: Sequence[ProcInfo],
              protected: Collection[int]) -> tuple[ProcInfo, ...]:
    """Pure: what goes with a stray, from one ps read: its descendants, and its process
    group's members when the group is the stray's (it leads it, or its leader is gone;
    a live leader is whatever started the stray: a shell, another job).

    Never PID 1, an ancestor of the stray, or a `protected` pid (launchd's for the label)
    or its descendant. Nothing when the row at the stray's pid is another process now.
    """
    by_pid = {p.pid: p for p in procs}
    now = by_pid.get(stray.pid)
    if now is None or (now.started_raw, now.command) != (stray.started_raw, stray.command):
        return ()
    above = set(_chain(stray.pid, by_pid))
    own_group = now.pgid > 1 and (now.pgid == now.pid or now.pgid not in by_pid)
    out = []
    for p in procs:
        chain = _chain(p.pid, by_pid)
        if p.pid <= 1 or p.pid == stray.pid or p.pid in above:
            continue
        if p.pid in protected or any(a in protected for a in chain):
            continue
        if stray.pid in chain or (own_group and p.pgid == now.pgid):
            out.append(p)
    return tuple(out)


def signal_checked(host: Host, kill: Kill, sig: str) -> str:
    """`signal_each` for the stray alone (its family is not signalled), as the script said
    it: sent | alive (sig 0) | gone | changed | refused (PID <= 1) | launchd | failed: why."""
    return signal_each(host, kill.targets, [kill.proc], sig)[kill.proc.pid].text


def with_families(host: Host, kills: tuple[Kill, ...],
                  protected: Collection[int]) -> tuple[Kill, ...]:
    """Each kill with its family, from one ps read just before the signals."""
    procs = parse_ps(host.check(ps_argv()).stdout)
    return tuple(replace(k, family=family_of(k.proc, procs, protected)) for k in kills)


def _remedy(svc: ServiceSpec, spec: HostSpec, p: ProcInfo, why: str) -> str:
    return (f"pid {p.pid} ({p.user}, uid {p.uid}) could not be signalled: {why}; it was "
            f"started by another user or with sudo: rerun as root: "
            f"`svcctl adopt {svc.name} --host {spec.name} --user root`")


def late_members(kills: Sequence[Kill], procs: Sequence[ProcInfo], protected: Collection[int],
                 seen: Collection[int]) -> tuple[ProcInfo, ...]:
    """Pure: members of a stray's own process group (one it led) that the first read did
    not have: children forked meanwhile, even from a SIGTERM handler. Never PID 1, a pid
    already handled, or launchd's for the label or its descendants."""
    by_pid = {p.pid: p for p in procs}
    # the stray's own group, as family_of judges it: it led it, or its leader is gone
    groups = {k.proc.pgid for k in kills
              if k.proc.pgid > 1 and (k.proc.pgid == k.proc.pid or k.proc.pgid not in by_pid)}
    return tuple(p for p in procs
                 if p.pgid in groups and p.pid > 1 and p.pid not in seen
                 and p.pid not in protected
                 and not any(a in protected for a in _chain(p.pid, by_pid)))


def kill_all(host: Host, svc: ServiceSpec, spec: HostSpec, kills: tuple[Kill, ...],
             grace: float, protected: Collection[int] = frozenset()) -> str:
    """TERM each stray with its family, wait `grace`, KILL what is left: every signal one
    remote call over all of them, each re-identified there (a killed parent's children
    are orphaned at once, so the family is read before the first signal). Then one more
    read for what joined a stray's group meanwhile, stopped the same way."""
    kills = with_families(host, kills, protected)
    targets = kills[0].targets if kills else ()
    procs = list({p.pid: p for k in kills for p in (k.proc, *k.family)}.values())
    notes: list[str] = []
    denied: list[str] = []
    left = _stop(host, svc, spec, targets, procs, grace, notes, denied)
    if kills and not left:
        late = late_members(kills, parse_ps(host.check(ps_argv()).stdout), protected,
                            {p.pid for p in procs})
        if late:
            notes.append(f"pid {', '.join(str(p.pid) for p in late)} joined a stray's group "
                         "after the first read: stopped too")
            left = _stop(host, svc, spec, targets, list(late), grace, notes, denied)
    if denied or left:
        raise StepFailed("; ".join(denied + [f"pid {p.pid} survived SIGKILL" for p in left]))
    done = [f"pid {k.proc.pid}" + (f" (with {', '.join(str(p.pid) for p in k.family)})"
                                   if k.family else "") for k in kills]
    return "; ".join([f"terminated {', '.join(done)}" if done else "no stray", *notes])


def _stop(host: Host, svc: ServiceSpec, spec: HostSpec, targets: Sequence[str],
          procs: list[ProcInfo], grace: float, notes: list[str],
          denied: list[str]) -> list[ProcInfo]:
    """TERM, wait `grace`, KILL, wait: what is still alive after all that."""
    who = {p.pid: p for p in procs}
    pending: list[ProcInfo] = []
    for pid, out in signal_each(host, targets, procs, "TERM").items():
        if out.verdict is Signalled.SENT:
            pending.append(who[pid])
        elif out.verdict is Signalled.FAILED:
            denied.append(_remedy(svc, spec, who[pid], out.why))
        else:
            notes.append(f"pid {pid} {out.text}: not signalled")

    def alive(left: list[ProcInfo], wait: float) -> list[ProcInfo]:
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            now = signal_each(host, targets, left, "0")
            left = [p for p in left if now[p.pid].verdict is Signalled.ALIVE]
        return left

    pending = alive(pending, grace)
    if pending:
        sent = signal_each(host, targets, pending, "KILL")
        notes += [f"pid {p.pid} ignored SIGTERM for {grace:g} s: SIGKILL {sent[p.pid].text}"
                  for p in pending]
    return alive(pending, KILL_WAIT)
