"""The job supervisor: domains, spawn, stop, reap, respawn (FACTS 4 respawn algorithm)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from .accounts import Accounts
from .config import Config
from .jobs import (
    Domain,
    Job,
    decode_status,
    is_crash,
    level_conditions_hold,
    starts_at_load,
    throttle_delay,
    wants_respawn,
)
from .overrides import Overrides
from .plists import JobSpec
from .spawn import plan_spawn, spawn
from .timers import Timer, Timers

log = logging.getLogger("launchd")

FIRST_ASID = 100007  # `domain = gui/501 [100007]` (FACTS 3.3)


class Manager:
    def __init__(self, cfg: Config, timers: Timers) -> None:
        self.cfg = cfg
        self.timers = timers
        self.accounts = Accounts(cfg.passwd, cfg.group)
        self.overrides = Overrides(cfg.overrides_dir)
        self.system = Domain("system", 0)
        self.users: dict[int, Domain] = {}
        self.guis: dict[int, Domain] = {}
        self._by_pid: dict[int, Job] = {}
        self._next_asid = FIRST_ASID
        self._poll: Timer | None = None
        self.shutting_down = False
        self.on_idle: Callable[[], None] | None = None

    # ---- domains -------------------------------------------------------------
    def domain(self, kind: str, handle: int, create_for: int | None = None) -> Domain | None:
        """Look a domain up; `user/<uid>` is created lazily for known uids (task brief)."""
        if kind == "system":
            return self.system
        if kind == "gui":
            return self.guis.get(handle)
        if kind == "login":
            return next((d for d in self.guis.values() if d.asid == handle), None)
        if kind == "user":
            if handle not in self.users and (
                handle == create_for or self.accounts.by_uid(handle) is not None
            ):
                self.users[handle] = Domain("user", handle)
            return self.users.get(handle)
        return None

    def all_jobs(self) -> list[Job]:
        domains = [self.system, *self.users.values(), *self.guis.values()]
        return [job for d in domains for job in d.jobs.values()]

    def is_disabled(self, domain: Domain, spec: JobSpec) -> bool:
        override = self.overrides.lookup(domain.kind, domain.uid, spec.label)
        return spec.disabled if override is None else override

    # ---- lifecycle -----------------------------------------------------------
    def load(self, domain: Domain, spec: JobSpec, start: bool = True) -> Job:
        job = Job(spec, domain)
        domain.jobs[spec.label] = job
        log.info("%s/%s: loaded from %s", domain.name, spec.label, spec.path)
        if not start:
            return job
        if starts_at_load(spec) or level_conditions_hold(spec, os.path.exists, self._loaded(job)):
            job.immediate_reason = "speculative"
            self.start(job)
        self._ensure_poll()
        return job

    def start(self, job: Job) -> None:
        """Spawn now or after the throttle (FACTS 4 step 4)."""
        if job.pid is not None or job.removal_pending or self.shutting_down:
            return
        if job.spawn_timer is not None and not job.spawn_timer.cancelled:
            return
        interval = self.throttle_interval(job)
        delay = throttle_delay(job.last_spawn, interval, time.monotonic())
        if delay > 0:
            log.info("%s: Throttling respawn: Will start in %.1f seconds", job.label, delay)
            job.spawn_timer = self.timers.schedule(delay, lambda: self._timer_spawn(job))
        else:
            self.spawn_now(job)

    def _timer_spawn(self, job: Job) -> None:
        job.spawn_timer = None
        if not job.removal_pending and job.pid is None and not self.shutting_down:
            self.spawn_now(job)

    def spawn_now(self, job: Job) -> int | None:
        if job.spawn_timer is not None:
            job.spawn_timer.cancel()
            job.spawn_timer = None
        plan = plan_spawn(job.spec, job.domain, self.accounts)
        if plan.error is not None:
            log.error("%s: %s; the spawn will fail", job.label, plan.error)
        try:
            pid = spawn(plan)
        except OSError as exc:
            log.error("%s: fork failed: %s", job.label, exc)
            return None
        job.pid = pid
        job.runs += 1
        job.last_spawn = time.monotonic()
        job.stopping = job.sigkilled = False
        self._by_pid[pid] = job
        log.info("%s/%s: spawned pid %d (run %d)", job.domain.name, job.label, pid, job.runs)
        return pid

    def stop(self, job: Job) -> None:
        """SIGTERM, then SIGKILL after ExitTimeOut; 0 means never (FACTS 2.2, 4)."""
        if job.pid is None or job.stopping:
            return
        job.stopping = True
        self._signal_pid(job.pid, signal.SIGTERM)
        timeout = self.exit_timeout(job)
        if timeout > 0:
            job.kill_timer = self.timers.schedule(timeout, lambda: self._escalate(job))

    def _escalate(self, job: Job) -> None:
        job.kill_timer = None
        if job.pid is not None and job.stopping:
            log.warning(
                "%s: Service did not exit %d seconds after SIGTERM. Sending SIGKILL.",
                job.label,
                self.exit_timeout(job),
            )
            job.sigkilled = True
            self._signal_pid(job.pid, signal.SIGKILL)  # the main pid only ([SRC-842])

    def remove(self, job: Job) -> None:
        """bootout: asynchronous; the label stays until the process is reaped (FACTS 2.2)."""
        job.removal_pending = True
        if job.spawn_timer is not None:
            job.spawn_timer.cancel()
            job.spawn_timer = None
        if job.pid is None:
            self._finish_removal(job)
        else:
            self.stop(job)

    def _finish_removal(self, job: Job) -> None:
        if job.domain.jobs.get(job.label) is job:
            del job.domain.jobs[job.label]
        log.info("%s/%s: removed", job.domain.name, job.label)
        waiters, job.waiters = job.waiters, []
        for waiter in waiters:
            waiter()
        self._check_idle()

    def kickstart(self, job: Job, kill: bool) -> int | None:
        """Run now, unthrottled; `-k` SIGKILLs and reaps the old instance first (FACTS 2.3)."""
        if job.pid is not None and kill:
            pid = job.pid
            self._signal_pid(pid, signal.SIGKILL)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = signal.SIGKILL
            self._by_pid.pop(pid, None)
            self._record_exit(job, pid, status)
        if job.pid is None:
            job.immediate_reason = "non-ipc demand"
            return self.spawn_now(job)
        return job.pid

    def send_signal(self, job: Job, signo: int) -> None:
        # kill behaves like an unexpected death: no `stopping` flag (FACTS 4 step 5)
        if job.pid is not None:
            self._signal_pid(job.pid, signo)

    @staticmethod
    def _signal_pid(pid: int, signo: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signo)

    # ---- reaping -------------------------------------------------------------
    def reap(self) -> None:
        """PID 1 reaps every child: jobs and adopted orphans alike (FACTS 5.1)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self._by_pid.pop(pid, None)
            if job is None:
                log.debug("reaped orphan pid %d (status %d)", pid, status)
                continue
            self._record_exit(job, pid, status)
            self._after_exit(job, status)

    def _record_exit(self, job: Job, pid: int, status: int) -> None:
        """FACTS 4 step 1: raw status, pid cleared, process group SIGTERMed."""
        crashed = is_crash(status, job.stopping)
        job.successive_crashes = job.successive_crashes + 1 if crashed else 0
        job.pid = None
        job.last_status = status
        job.crashed_last = crashed
        if job.kill_timer is not None:
            job.kill_timer.cancel()
            job.kill_timer = None
        job.stopping = job.sigkilled = False
        log.info("%s: pid %d exited, status %d (%d)", job.label, pid, decode_status(status), status)
        if not job.spec.abandon_process_group:
            # the job's own group: setsid made pgid == pid (FACTS 4 AbandonProcessGroup)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)

    def _after_exit(self, job: Job, status: int) -> None:
        if job.removal_pending:  # step 2
            self._finish_removal(job)
            return
        if wants_respawn(job.spec, status, job.crashed_last, os.path.exists, self._loaded(job)):
            self.start(job)  # steps 3-4, throttled

    # ---- PathState polling ---------------------------------------------------
    def _ensure_poll(self) -> None:
        if self._poll is None and any(j.spec.keep_alive.is_dict for j in self.all_jobs()):
            self._poll = self.timers.schedule(self.cfg.pathstate_poll, self._poll_tick)

    def _poll_tick(self) -> None:
        self._poll = None
        for job in self.all_jobs():
            if (
                job.spec.keep_alive.is_dict
                and job.pid is None
                and not job.removal_pending
                and job.state == "not running"
                and level_conditions_hold(job.spec, os.path.exists, self._loaded(job))
            ):
                self.start(job)
        self._ensure_poll()

    def _loaded(self, job: Job) -> Callable[[str], bool]:
        return lambda label: label in job.domain.jobs

    # ---- settings ------------------------------------------------------------
    def throttle_interval(self, job: Job) -> int:
        value = job.spec.throttle_interval
        return self.cfg.throttle_interval if value is None else value

    def exit_timeout(self, job: Job) -> int:
        value = job.spec.exit_timeout
        return self.cfg.exit_timeout if value is None else value

    def next_asid(self) -> int:
        asid = self._next_asid
        self._next_asid += 1
        return asid

    # ---- shutdown ------------------------------------------------------------
    def shutdown(self, on_idle: Callable[[], None]) -> None:
        """SIGTERM to PID 1: every job stopped as by bootout (DESIGN.md Shutdown)."""
        self.shutting_down = True
        self.on_idle = on_idle
        for job in self.all_jobs():
            self.remove(job)
        self._check_idle()

    def _check_idle(self) -> None:
        if self.shutting_down and self.on_idle is not None and not self.all_jobs():
            callback, self.on_idle = self.on_idle, None
            callback()
