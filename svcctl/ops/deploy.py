"""`svcctl deploy` (and `restart`): plan from the observed state, then a checked apply.

Per host: lock -> pre-flight -> upload -> stop -> start -> verify -> unlock, with a
rollback to the previous plist on any failure after the upload (the `failed` hook).
The steps are the pure plan (`svcctl.ops.plan`), each given what runs it, and
`svcctl.ops.executor` runs them: the list `--dry-run` prints is the list that runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from svcctl import guard, places
from svcctl.errors import (
    BadInputError,
    ExitCode,
    HostError,
    LockHeldError,
    ParseError,
    PrivilegeError,
    RefusedError,
    SvcctlError,
)
from svcctl.host.base import Host, Result
from svcctl.launchd import build_batch, print_argv, split_batch
from svcctl.model import FenceRecord, Finding, HostSpec, ServiceSpec, Verdict
from svcctl.ops import fence, gate, lifecycle
from svcctl.ops.audit import audit_host
from svcctl.ops.context import RunContext
from svcctl.ops.executor import Ran, bind, execute
from svcctl.ops.lifecycle import StepFailed, Target
from svcctl.ops.lock import DeployLock, LockLostError, operator
from svcctl.ops.plan import (
    ALLOWED_HERE,
    PREVIOUS_SUFFIX,
    DeployOptions,
    DeployReport,
    HostDeploy,
    ReleaseHere,
    Rollback,
    aside,
    deploy_steps,
    expected_uid,
    lock_policy,
    preflight_step,
    reboot_note,
    refusal,
    refusals,
)
from svcctl.ops.steps import Recorder, Step
from svcctl.release.concrete import for_release, release_path
from svcctl.release.listing import Kind, Points, Releases
from svcctl.release.source import Source, open_source, record_for, release_id, tar_chunks
from svcctl.render import RenderedPlist, guard_wrapper_path, plist_path_for, render_plist
from svcctl.scripts import release as releases
from svcctl.scripts.files import keep_previous
from svcctl.scripts.shell import not_a_mac


@dataclass(frozen=True)
class Shipping:
    """The release a deploy ships (issue 13): its source, read once before any host, the id
    and the provenance record every host receives."""

    source: Source
    release_id: str
    record: bytes

    @property
    def checksum(self) -> str:
        return self.source.checksum


@contextlib.contextmanager
def shipping(svc: ServiceSpec, opts: DeployOptions) -> Iterator[Shipping | None]:
    """Read `svc`'s release source (None for a service without `release:`, or a restart);
    BadInputError, before anything is sent, if it cannot be shipped."""
    if svc.release is None or not opts.upload or opts.rollback:
        yield None  # a rollback sends nothing: its release is on the host already
        return
    with open_source(Path(svc.release.source)) as src:
        tops = {p.split("/", 1)[0] for p in (*src.dirs, *(e.path for e in src.entries))}
        clash = sorted(tops & set(svc.release.shared))
        if clash:
            raise BadInputError(f"{svc.name}: the release source {svc.release.source} has its "
                                f"own {clash[0]!r}, where shared: links <root>/shared/"
                                f"{clash[0]}: rename one of them")
        rid = release_id(src, opts.release_id)
        yield Shipping(src, rid, record_for(src, rid, os.environ).to_json().encode())


@dataclass
class _HostRun:
    """One host's deploy or restart, as an `executor.Operation`."""

    ctx: RunContext
    svc: ServiceSpec
    spec: HostSpec
    host: Host
    opts: DeployOptions
    rec: Recorder
    lock: DeployLock | None = None
    rendered: RenderedPlist | None = None
    path: str = ""
    installed: bool = False
    loaded: bool = False
    checked: list[str] = field(default_factory=list)
    here: Finding | None = None
    undone: Rollback | None = None  # what `failed` did
    ship: Shipping | None = None
    shipped: ReleaseHere | None = None  # what pre-flight saw of the release on the host
    plist_touched: bool = False  # the upload began on the plist: a rollback restores it
    switched: releases.SwitchRun | None = None  # the switch ran: what `current` was
    framed = True

    @property
    def target(self) -> Target:
        return Target(self.spec, self.svc, self.host)

    # -- the plan: what `--dry-run` prints is what runs ---------------------------------
    def observe(self) -> Step:
        self.checked = [self.spec.name, *gate.others(self.ctx.inv, self.svc, [self.spec.name])]
        return replace(preflight_step(self.svc, self.spec, self.opts, self.checked),
                       run=self.preflight)

    def steps(self) -> list[Step]:
        t = self.target
        runs = {"upload": self.upload,
                "stop": lambda: lifecycle.stop(t),
                "start": lambda: lifecycle.start(t, self.path),
                "verify": lambda: lifecycle.verify(t, self.ctx.stay_up, self.ctx.interrupt)}
        if self.shipped is not None:
            runs |= {"switch": self.switch, "prune": self.prune}  # rollback: no prune step
        return bind(deploy_steps(self.svc, self.spec, self.path, loaded=self.loaded,
                                 installed=self.installed, opts=self.opts, here=self.here,
                                 stay_up=self.ctx.stay_up, shipped=self.shipped),
                    runs, reads={"verify"})

    def failed(self, exc: SvcctlError, done: Sequence[Step], failing: Step | None) -> None:
        """The rollback hook: put the previous plist back, and restart it if it ran."""
        if isinstance(exc, LockLostError) or not self.opts.upload:
            return  # someone else holds the host now: a rollback would race their deploy
        if any(s.kind == "verify" for s in done):
            return  # verified: what follows (prune) never undoes a deploy that passed
        if failing is not None and failing.kind == "upload":
            if self.plist_touched:  # a release that failed to upload left the plist alone
                self.undone = self.rollback(files_only=True)
        elif any(s.kind == "upload" for s in done):
            survivors = exc.survivors if isinstance(exc, StepFailed) else ()
            self.undone = self.rollback(survivors=survivors)

    # -- pre-flight: nothing changes ------------------------------------------------
    def preflight(self) -> str:
        spec, svc = self.spec, self.svc
        self.path = str(plist_path_for(svc, spec.domain, spec.home))
        self.render()
        batch = build_batch([["id", "-u"], print_argv(spec.domain), ["cat", self.path]])
        r = self.host.run(batch.argv)
        (id_rc, uid, _), (dom_rc, _, dom_err), (cat_rc, _, _) = split_batch(batch, r.stdout)
        no_mac = not_a_mac(spec.name, dom_rc)
        if no_mac is not None:
            raise RefusedError(no_mac.refusal, hint=no_mac.hint)
        want = expected_uid(spec)
        if id_rc != 0 or uid.strip() != str(want):
            who = "root" if want == 0 else f"uid {want}"
            raise PrivilegeError(
                f"{spec.name}: connected as uid {uid.strip() or '?'}, but {spec.domain.target} "
                f"needs its plist owned by {who} (FACTS 1.2)",
                hint=f"set `user:` for {spec.name} in the inventory to the owner of "
                f"{spec.domain.target}")
        if dom_rc != 0:
            hint = None
            if spec.domain.kind.value == "gui":
                hint = (f"gui/{spec.domain.uid} exists only with a console login; over SSH use "
                        f"`domain: user/{spec.domain.uid}` (FACTS 1.4)")
            raise RefusedError(f"{spec.name}: domain {spec.domain.target} is not reachable "
                               f"(launchctl print exited {dom_rc}: {dom_err.strip()})", hint=hint)
        self.installed = cat_rc == 0
        if not self.opts.upload and not self.installed:
            raise RefusedError(f"{spec.name}: {self.path} is not installed",
                               hint=f"run `svcctl deploy {svc.name} --host {spec.name}` first")
        here = audit_host(self.ctx.inv, spec, [svc], self.host).findings[0]
        self.here = here
        bad = [] if here.verdict in ALLOWED_HERE else [here]
        res = gate.judge(gate.survey(self.ctx.inv, svc, self.checked[1:], self.ctx.connect),
                         self.ctx.acknowledged, fencing=self.opts.fencing)
        bad += res.blocking
        if here.hidden and here not in bad:
            bad.append(here)  # hidden candidates block whatever the job's state (FACTS 5.2)
        if bad:
            raise RefusedError(f"{svc.name}: refusing to deploy to {spec.name}, nothing "
                               f"changed: {refusals(svc, bad, self.ctx.inv.hosts)}")
        self.loaded = here.job is not None
        state = f"loaded, pid {here.job.pid}" if here.job else "not loaded"
        seen = "" if self.ship is None else "; " + self.check_release()
        if self.opts.rollback and self.shipped is not None:
            seen = f"; rolling back to release {self.shipped.release_id} " \
                f"({self.shipped.why}), intact"
        return (f"uid {want} owns {spec.domain.target}; plist "
                f"{'valid' if self.rendered else 'installed'}; {svc.name} {state}; "
                f"no stray on {', '.join(self.checked)}{seen}")

    def check_release(self) -> str:
        """Is the release on the host already (same id, same checksum)? Another checksum
        under its id is refused as bad input: nothing is sent, nothing changes."""
        assert self.ship is not None and self.svc.release is not None
        rid, root = self.ship.release_id, self.svc.release.root
        where = release_path(self.svc.release, rid)
        run = releases.check(self.host, root, rid, self.ship.checksum)
        if run.outcome is releases.Stored.CONFLICT:
            raise BadInputError(f"{self.spec.name}: {where} holds other content than this "
                                f"release {rid} (another checksum): refusing, nothing changed",
                                hint="give this source its own id with --release ID")
        if run.outcome is releases.Stored.UNTRUSTED:
            raise RefusedError(f"{self.spec.name}: {root}/releases is not a plain directory: "
                               "refusing, nothing changed")
        if run.outcome not in (releases.Stored.PRESENT, releases.Stored.ABSENT):
            raise HostError(f"{self.spec.name}: could not check {where}: "
                            f"{_tail(run.result)}")
        self.shipped = ReleaseHere(rid, run.outcome is releases.Stored.PRESENT)
        return (f"release {rid} already at {where}" if self.shipped.present
                else f"release {rid} not on the host yet")

    def render(self) -> None:
        """The plist a deploy uploads, naming the release it ships or rolls back to."""
        if self.opts.rollback:
            self.shipped = self.rollback_target()
        if not self.opts.upload:
            return
        rid = self.shipped.release_id if self.shipped is not None else \
            self.ship.release_id if self.ship is not None else None
        concrete = self.svc if rid is None else for_release(self.svc, rid)
        self.rendered = render_plist(concrete, self.spec.domain, self.ctx.inv.templates_dir,
                                     home=self.spec.home)

    def rollback_target(self) -> ReleaseHere:
        """`svcctl rollback`: the release to go back to, from the host's listing: `--to
        ID`, else `previous` (what `current` pointed to before the last switch). It must be
        a release svcctl published, whose manifest is still the one its record names."""
        rel = self.svc.release
        assert rel is not None
        name, root = self.spec.name, rel.root
        listed = releases.releases(self.host, root)
        if listed.outcome is releases.Listing.UNTRUSTED:
            raise RefusedError(f"{name}: {root}/releases is not a plain directory: "
                               "refusing, nothing changed")
        if listed.releases is None:
            raise HostError(f"{name}: could not list {root}/releases: "
                            f"{listed.problem or _tail(listed.result)}")
        have = listed.releases
        if not have.current.known:
            raise RefusedError(f"{name}: {root}/current is not svcctl's link to a release "
                               f"({have.current.points.value}): refusing, nothing changed")
        ids = ", ".join(r.release_id for r in have.releases if r.kind is Kind.RELEASE)
        there = f"on {name}: {ids or 'none'}"
        if self.opts.release_id is not None:
            rid, why = self.opts.release_id, "--to"
        elif have.previous.points is Points.ID and have.previous.release_id is not None:
            rid, why = have.previous.release_id, "previous"
        else:
            raise BadInputError(f"{name}: no previous release recorded under {root} "
                                f"({have.previous.points.value}): nothing to roll back to",
                                hint=f"name one with --to ID ({there})")
        _intact(self.host, name, root, rid, have, there)
        if have.current.release_id == rid:
            why += ", already current"
        return ReleaseHere(rid, True, why)

    # -- changes ----------------------------------------------------------------------
    def upload(self) -> str:
        assert self.rendered is not None
        shipped = "" if self.ship is None else self.upload_release() + "; "
        if self.opts.rollback and self.shipped is not None and self.svc.release is not None:
            rid = self.shipped.release_id
            shipped = f"release {rid} already at {release_path(self.svc.release, rid)}: " \
                "nothing sent; "
        self.plist_touched = True
        parent = str(PurePosixPath(self.path).parent)
        self.host.check(["mkdir", "-p", parent])
        keep = "first deploy: nothing to keep"
        moved = aside(self.svc, self.spec, self.here)
        if self.installed:
            keep_previous(self.host, self.path, PREVIOUS_SUFFIX)
            keep = f"previous kept as {self.path}{PREVIOUS_SUFFIX}"
        elif moved:
            # installed where another domain loads it (by hand, or an older svcctl): that
            # is the previous version a rollback restores, here
            self.host.check(["cp", "-p", moved[0], self.path + PREVIOUS_SUFFIX])
            self.installed = True
            keep = f"previous ({moved[0]}) kept as {self.path}{PREVIOUS_SUFFIX}"
        else:
            self.host.run(["rm", "-f", self.path + PREVIOUS_SUFFIX])
        self.host.write_file(self.path, self.rendered.data, 0o644)
        if moved:
            keep += "; " + self.move_aside(moved)
        if self.here is not None and self.here.fence is not None:
            self.host.check(fence.unfence_argv(self.svc, self.spec))
            keep += f"; unfenced (was {self.here.fence.describe()})"
        for ack in self.opts.acknowledgements:
            path = places.fence_dir(self.spec.domain, self.spec.home) / \
                f"{self.svc.label}.ack-{ack.host}"
            self.host.check(["mkdir", "-p", str(path.parent)])
            self.host.write_file(str(path), ack.dumps().encode(), 0o644)
            keep += f"; recorded {path}: {ack.describe()}"
        if self.svc.guard:
            keep += "; " + self.install_guard()
        return f"{shipped}{self.path} ({len(self.rendered.data)} bytes, 0644); {keep}"

    def upload_release(self) -> str:
        """The release first (only if the host lacks it: check, then one tar stream)."""
        assert self.ship is not None and self.svc.release is not None
        ship, rid = self.ship, self.ship.release_id
        where = release_path(self.svc.release, rid)
        run = releases.upload(self.host, self.svc.release.root, rid, ship.checksum,
                              tar_chunks(ship.source, ship.record),
                              shared=self.svc.release.shared)
        if run.outcome is releases.Stored.PRESENT:
            return f"release {rid} already at {where} (same checksum): nothing sent"
        if run.outcome is releases.Stored.UPLOADED:
            return f"release {rid} uploaded to {where} ({len(ship.source.entries)} files, " \
                "manifest verified on the host)"
        if run.outcome is releases.Stored.CONFLICT:
            raise BadInputError(f"{self.spec.name}: {where} holds other content than this "
                                f"release {rid} (another checksum): nothing sent")
        if run.outcome is releases.Stored.SHARED:
            raise BadInputError(f"{self.spec.name}: release {rid} not published: "
                                f"{_tail(run.result)}")
        raise StepFailed(f"release {rid} not uploaded to {where}: {run.outcome.value}: "
                         f"{_tail(run.result)}")

    def switch(self) -> str:
        assert self.shipped is not None and self.svc.release is not None
        rid, root = self.shipped.release_id, self.svc.release.root
        run = releases.switch(self.host, root, rid)
        if run.outcome is not releases.Switched.SWITCHED:
            raise StepFailed(f"{root}/current not switched to releases/{rid}: "
                             f"{run.outcome.value}: {_tail(run.result)}")
        self.switched = run
        return f"{root}/current -> releases/{rid} (was {run.previous or 'absent'})"

    def switch_back(self, previous: str, marked: str | None) -> str:
        """`current` back at `previous`, `.svcctl-previous` back at `marked` (what it was
        before this deploy's switch): `svcctl rollback` never goes back to a release whose
        deploy failed."""
        assert self.svc.release is not None
        root = self.svc.release.root
        rid = previous.removeprefix("releases/")
        run = releases.switch(self.host, root, rid, restore_previous=marked or "")
        if run.outcome is not releases.Switched.SWITCHED:
            raise StepFailed(f"{root}/current not switched back to {previous}: "
                             f"{run.outcome.value}: {_tail(run.result)}")
        return f"{root}/current -> {previous} again"

    def prune(self) -> str:
        """Old releases go; a prune that cannot run leaves them all and does not undo the
        verified deploy (its detail says why)."""
        rel = self.svc.release
        assert rel is not None
        run = releases.prune(self.host, rel.root, rel.keep)
        kept = ", ".join(f"{k.release_id} ({k.why.value})" for k in run.kept) or "none"
        if run.outcome is releases.Pruning.PRUNED:
            return f"deleted {', '.join(run.deleted) or 'none'}; kept {kept}"
        if run.outcome is releases.Pruning.NOTHING:
            return f"nothing to delete; kept {kept}"
        why = run.problem or (_tail(run.result) if run.result else run.listed.outcome.value)
        return f"nothing pruned ({run.outcome.value}: {why}); every release is still there"

    def move_aside(self, paths: list[str]) -> str:
        """Plists another domain would load at boot or login go where nothing loads them."""
        moves = fence.aside_moves(self.svc, self.spec, paths)
        return "moved aside: " + fence.move_plists(self.host, self.spec, moves)

    def install_guard(self) -> str:
        """`guard: true`: put svcctl's singleton guard (stdlib only) where the plist runs it."""
        wrapper = guard_wrapper_path(self.svc, self.spec.domain, self.spec.home)
        self.host.check(["mkdir", "-p", str(wrapper.parent)])
        self.host.write_file(str(wrapper), Path(guard.__file__).read_bytes(), 0o755)
        return f"guard wrapper at {wrapper}"

    def rollback(self, *, files_only: bool = False,
                 survivors: tuple[int, ...] = ()) -> Rollback:
        rec = Recorder(self.spec.name, self.rec.progress)
        t = self.target
        had = self.installed
        prev = self.path + PREVIOUS_SUFFIX

        def restore() -> str:
            if had:
                self.host.check(["mv", "-f", prev, self.path])
                return f"restored {self.path} from {prev}"
            self.host.check(["rm", "-f", self.path])
            return f"removed {self.path}: there was no previous version"

        if self.switched is not None and not files_only and not survivors:
            return self.rollback_release(rec, restore, had)
        try:
            rec.run("rollback-restore", restore)
            if files_only:
                return Rollback("restored", "the upload failed before any stop; the previous "
                                "file is back and the job was not touched", rec.steps)
            if survivors:
                # starting now would make a duplicate; the survivor is the previous version
                pids = ", ".join(str(p) for p in survivors)
                return Rollback("failed", f"not restarted: pid {pids} (the previous version) "
                                "still runs and nothing new was started", rec.steps)
            if not had:
                rec.run("rollback-stop", lambda: lifecycle.stop(t))
                return Rollback("nothing-running", "first deploy: no previous version to "
                                "restore; nothing runs now", rec.steps)
            self.cycle_named(rec)
        except (StepFailed, HostError, ParseError) as exc:
            return Rollback("failed", f"rollback failed: {exc.one_line()}", rec.steps)
        return Rollback("restored", "the previous version runs again, verified", rec.steps)

    def rollback_release(self, rec: Recorder, restore: Callable[[], str],
                         had: bool) -> Rollback:
        """The switch ran: stop, `current` back to where it was, the previous plist back,
        start, verify (the previous plist names the previous release)."""
        assert self.switched is not None
        t = self.target
        previous = self.switched.previous
        try:
            rec.run("rollback-stop", lambda: lifecycle.stop(t))
            if previous is not None:
                marked = self.switched.marked
                rec.run("rollback-switch", lambda: self.switch_back(previous, marked))
            rec.run("rollback-restore", restore)
            if not had:
                return Rollback("nothing-running", "first deploy: no previous version to "
                                "restore; nothing runs now", rec.steps)
            rec.run("rollback-start", lambda: lifecycle.start(t, self.path))
            rec.run("rollback-verify", lambda: lifecycle.verify(t, self.ctx.stay_up,
                                                                check_health=False))
        except (StepFailed, HostError, ParseError) as exc:
            return Rollback("failed", f"rollback failed: {exc.one_line()}", rec.steps)
        return Rollback("restored", f"the previous version runs again from {previous}, "
                        "verified", rec.steps)

    def cycle_named(self, rec: Recorder) -> None:
        t = self.target
        rec.run("rollback-stop", lambda: lifecycle.stop(t))
        rec.run("rollback-start", lambda: lifecycle.start(t, self.path))
        rec.run("rollback-verify", lambda: lifecycle.verify(t, self.ctx.stay_up,
                                                            check_health=False))


def _intact(host: Host, name: str, root: str, rid: str, have: Releases, there: str) -> None:
    """A rollback's target is a release svcctl published (its manifest there), with a
    record naming it whose manifest checksum is the manifest's own: else refused."""
    found = have.get(rid)
    if found is None or found.kind is not Kind.RELEASE:
        raise BadInputError(f"{name}: no release {rid} under {root}/releases"
                            f"{'' if found is None else f' ({found.kind.value})'}: "
                            "nothing to roll back to", hint=f"releases {there}")
    if found.record is None or found.record.release_id != rid:
        raise RefusedError(f"{name}: release {rid} has no record that names it "
                           f"({found.problem or 'another id'}): cannot tell what it holds; "
                           "refusing, nothing changed")
    run = releases.check(host, root, rid, found.record.checksum)
    if run.outcome is not releases.Stored.PRESENT:
        raise RefusedError(f"{name}: release {rid}'s manifest is not the one its record "
                           f"names ({run.outcome.value}): refusing, nothing changed")


def _tail(result: Result | None) -> str:
    """A release script's last stderr line, else its exit status, for a one-line error."""
    if result is None:
        return "nothing ran"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else f"exit {result.rc}"


def deploy_host(ctx: RunContext, svc: ServiceSpec, spec: HostSpec, host: Host,
                opts: DeployOptions, ship: Shipping | None = None) -> HostDeploy:
    rec = Recorder(spec.name, ctx.progress)
    run = _HostRun(ctx, svc, spec, host, opts, rec, ship=ship)
    ran = execute(run, host=host, service=svc.name, rec=rec, interrupt=ctx.interrupt,
                  policy=lock_policy(opts), dry_run=opts.dry_run)
    outcome, code, error = _outcome(ran, run)
    final = None
    if ran.stage != "planned":
        with contextlib.suppress(HostError, ParseError):
            final = run.target.observe()
    shipped = run.shipped.release_id if run.shipped is not None else None
    return HostDeploy(spec.name, outcome, code, rec.steps, ran.plan, run.undone, final, error,
                      reboot_note(svc, spec), release=shipped)


def _outcome(ran: Ran, run: _HostRun) -> tuple[str, int, str | None]:
    """How far the executor got, in deploy's words (README: outcomes and exit codes)."""
    exc, opts = ran.error, run.opts
    if ran.stage == "planned":
        return "planned", 0, None
    if ran.stage == "done":
        if run.ctx.interrupt():
            return ("interrupted", int(ExitCode.FAILED),
                    f"interrupted by {run.ctx.interrupt.name} after the deploy had completed")
        return ("deployed" if opts.upload else "restarted"), 0, None
    assert exc is not None
    if ran.stage == "lock":
        code = ExitCode.LOCKED if isinstance(exc, LockHeldError) else exc.exit_code
        return ("locked" if code == ExitCode.LOCKED else "failed"), int(code), exc.one_line()
    if ran.stage == "observe":
        return _refused_outcome(exc), int(exc.exit_code), exc.one_line()
    error = exc.one_line()
    if isinstance(exc, LockLostError) and not ran.changed:
        error += "; nothing changed"
    if any(s.kind == "verify" for s in ran.done):
        error += "; the deploy had completed and was verified: nothing was rolled back"
        return ("interrupted" if run.ctx.interrupt() else "failed"), int(ExitCode.FAILED), error
    upload_failed = ran.failed_step is not None and ran.failed_step.kind == "upload"
    if run.undone is None or upload_failed:  # nothing to undo, or the files only
        return "failed", int(ExitCode.FAILED), error
    return ("interrupted" if run.ctx.interrupt() else "rolled-back"), int(ExitCode.FAILED), error


def _refused_outcome(exc: SvcctlError) -> str:
    if isinstance(exc, RefusedError):
        return "refused"
    return "bad-input" if isinstance(exc, BadInputError | PrivilegeError) else "failed"


def run_deploy(ctx: RunContext, svc: ServiceSpec, host_names: Sequence[str],
               opts: DeployOptions, ship: Shipping | None = None) -> DeployReport:
    """Deploy `svc` to each host: one at a time (stop at the first failure) or `parallel`.

    A deploy (not a restart) first fences every host the service is not assigned to but
    is installed, loaded or running on; a host it cannot reach blocks the whole deploy
    unless the operator states it fenced (`ctx.acknowledged`). Nothing starts before that.

    A service with `release:` ships its release: the source is read once, before any
    host (`ship`, else read here; BadInputError if it cannot be shipped).
    """
    if ship is None and svc.release is not None and opts.upload and not opts.rollback:
        with shipping(svc, opts) as read:
            return run_deploy(ctx, svc, host_names, opts, read)
    fences, opts, blocked = fence_phase(ctx, svc, opts) if opts.upload else ([], opts, None)
    if blocked is not None:
        skipped = [HostDeploy(n, "not-attempted", 0, [], error=blocked) for n in host_names]
        return DeployReport(svc.name, svc.label, opts.dry_run, skipped, fences,
                            list(opts.acknowledgements))

    def one(name: str) -> HostDeploy:
        spec = ctx.inv.hosts[name]
        try:
            with ctx.connect(spec) as host:
                return deploy_host(ctx, svc, spec, host, opts, ship)
        except (HostError, ParseError) as exc:
            return HostDeploy(name, "failed", int(ExitCode.FAILED), [], error=exc.one_line())

    if opts.parallel > 1:
        results = ctx.fan_out(one, host_names, workers=opts.parallel)
    else:
        results = []
        for name in host_names:
            if ctx.interrupt() or any(r.exit_code != 0 for r in results):
                results.append(HostDeploy(name, "not-attempted", 0, [],
                                          error="an earlier host failed or was interrupted"))
                continue
            results.append(one(name))
    return DeployReport(svc.name, svc.label, opts.dry_run, results, fences,
                        list(opts.acknowledgements))


def fence_phase(ctx: RunContext, svc: ServiceSpec, opts: DeployOptions
                ) -> tuple[list[HostDeploy], DeployOptions, str | None]:
    """Survey every host `svc` is not assigned to, then fence those that need it.

    Returns the fence reports, the options the host deploys then run with (what was
    acknowledged, what a dry run would fence) and, when the deploy must stop, why.
    """
    names = gate.others(ctx.inv, svc)
    survey = gate.survey(ctx.inv, svc, names, ctx.connect)
    unreachable = [f for f in survey if f.verdict is Verdict.UNREACHABLE]
    unknown = sorted(ctx.acknowledged - set(names))
    if unknown:
        raise BadInputError(f"--fenced {unknown[0]}: not a host {svc.name} could run on "
                            f"apart from its own (those are: {', '.join(names) or 'none'})")
    out: list[HostDeploy] = []
    for f in unreachable:
        if f.host not in ctx.acknowledged:
            out.append(HostDeploy(f.host, "refused", int(ExitCode.FINDINGS), [],
                                  error=refusal(svc, [f]), final=f))
    why = f"; {opts.reason}" if opts.reason else ""
    acks = tuple(FenceRecord(svc.name, svc.label, f.host, operator(), fence.now_iso(),
                             f"the operator stated that {f.host} is powered off or cut off "
                             f"(--fenced {f.host}){why}; svcctl could not reach it: "
                             f"{f.detail}")
                 for f in unreachable if f.host in ctx.acknowledged)
    opts = replace(opts, acknowledgements=acks)
    todo = [f for f in survey if f.verdict is not Verdict.UNREACHABLE and fence.needs_fence(f)]
    for f in todo:
        refused = fence.fence_refusal(svc, f)
        if refused is not None:
            out.append(HostDeploy(f.host, "refused", int(ExitCode.FINDINGS), [],
                                  error=f"{svc.name}: refusing to fence {f.host}: {refused}",
                                  final=f))
    if out:
        return out, opts, "another host blocks the deploy: nothing changed anywhere"
    reason = (f"{svc.name} is not assigned to this host (inventory: "
              f"{', '.join(svc.hosts) or 'no host'}): fenced by svcctl deploy{why}")
    for f in todo:
        spec = ctx.inv.hosts[f.host]
        try:
            with ctx.connect(spec) as host:
                r = fence.fence_host(ctx, svc, spec, host, reason=reason, dry_run=opts.dry_run,
                                     lock_wait=opts.lock_wait)
        except HostError as exc:
            r = HostDeploy(f.host, "failed", int(ExitCode.FAILED), [], error=exc.one_line())
        out.append(r)
        if r.exit_code != 0:
            return out, opts, (f"fencing {f.host} did not complete: nothing was started "
                               "anywhere")
    return out, replace(opts, fencing=frozenset(f.host for f in todo)), None
