"""Jobs and domains as data, and the pure parts of the respawn algorithm (FACTS 4)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from .plists import JobSpec
from .timers import Timer

# [SRC-842] job_reap: these signals count as a crash (FACTS 4, KeepAlive Crashed).
CRASH_SIGNALS = frozenset(
    {
        signal.SIGILL,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGABRT,
        signal.SIGSYS,
        signal.SIGTRAP,
    }
)

SESSION_OF_KIND = {"system": "System", "user": "Background", "gui": "Aqua"}


@dataclass(eq=False)
class Domain:
    kind: str  # system | user | gui
    uid: int  # 0 for system
    asid: int | None = None  # gui only: the login's audit session id
    jobs: dict[str, Job] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "system" if self.kind == "system" else f"{self.kind}/{self.uid}"

    @property
    def session_type(self) -> str:
        return SESSION_OF_KIND[self.kind]

    @property
    def job_type(self) -> str:
        return "LaunchDaemon" if self.kind == "system" else "LaunchAgent"


@dataclass(eq=False)
class Job:
    spec: JobSpec
    domain: Domain
    pid: int | None = None
    runs: int = 0  # number of spawns (FACTS 7.7)
    last_status: int | None = None  # RAW wait(2) status (FACTS 3.2)
    last_spawn: float | None = None  # monotonic time of the last spawn start
    stopping: bool = False  # SIGTERM sent by stop/bootout
    sigkilled: bool = False
    removal_pending: bool = False
    successive_crashes: int = 0
    crashed_last: bool = False
    immediate_reason: str = ""
    spawn_timer: Timer | None = None
    kill_timer: Timer | None = None
    waiters: list[Callable[[], None]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def state(self) -> str:
        """The `state =` of print (FACTS 3.3)."""
        if self.pid is not None:
            if self.sigkilled:
                return "SIGKILLed"
            return "SIGTERMed" if self.stopping or self.removal_pending else "running"
        if self.spawn_timer is not None and not self.spawn_timer.cancelled:
            return "spawn scheduled"
        return "not running"


def decode_status(raw: int) -> int:
    """`list` shows WEXITSTATUS, or -signo when signalled (FACTS 3.1)."""
    if os.WIFSIGNALED(raw):
        return -os.WTERMSIG(raw)
    if os.WIFEXITED(raw):
        return os.WEXITSTATUS(raw)
    return 0


def is_crash(raw: int, stopped: bool) -> bool:
    # `stopped` suppresses the crash flag ([SRC-842] job_reap, FACTS 2.9).
    return os.WIFSIGNALED(raw) and os.WTERMSIG(raw) in CRASH_SIGNALS and not stopped


def starts_at_load(spec: JobSpec) -> bool:
    """RunAtLoad; KeepAlive=true and SuccessfulExit imply it (FACTS 4)."""
    ka = spec.keep_alive
    return spec.run_at_load or ka.always or ka.successful_exit is not None


def level_conditions_hold(
    spec: JobSpec, path_exists: Callable[[str], bool], loaded: Callable[[str], bool]
) -> bool:
    """The KeepAlive conditions that depend on the world, not on an exit (PathState, ...)."""
    ka = spec.keep_alive
    if any(path_exists(p) == want for p, want in ka.path_state):
        return True
    return any(loaded(label) == want for label, want in ka.other_job_enabled)


def wants_respawn(
    spec: JobSpec,
    raw_status: int,
    crashed: bool,
    path_exists: Callable[[str], bool],
    loaded: Callable[[str], bool],
) -> bool:
    """job_keepalive after an exit: the dict conditions are ORed (FACTS 4, step 3)."""
    ka = spec.keep_alive
    if ka.always:
        return True
    if not ka.is_dict:
        return False
    good_exit = os.WIFEXITED(raw_status) and os.WEXITSTATUS(raw_status) == 0
    if ka.successful_exit is not None and ka.successful_exit == good_exit:
        return True
    if ka.crashed is not None and ka.crashed == crashed:
        return True
    return level_conditions_hold(spec, path_exists, loaded)


def throttle_delay(last_spawn: float | None, interval: int, now: float) -> float:
    """Seconds to wait: no respawn sooner than `interval` after the previous spawn (FACTS 7.8)."""
    if last_spawn is None or interval <= 0:
        return 0.0
    return max(interval - (now - last_spawn), 0.0)
