"""The release scripts (issue 13): is a release there, upload one, switch `current`,
list what a root holds, prune old releases.

`release_check.sh` is the cheap call before an upload, so an unchanged release sends no
tar at all; `release_upload.sh` receives the tar stream in one SSH exec and publishes it
under its id only once the manifest the host computed matches; `release_switch.sh` points
`current` at a release with one rename(2) (FACTS 5.4). All include `release_common.sh`;
the upload also `release_manifest.sh`, the host's half of svcctl.release.manifest.
`release_list.sh` reads a root in one call (svcctl.release.listing parses it, pids
included); `release_prune.sh` deletes the releases svcctl.release.prune chose, each only
after its own check in that call. Both include `release_state.sh`.
Exit codes map to an Enum per script in one table each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from svcctl.errors import BadInputError, ParseError
from svcctl.host.base import Host, Result
from svcctl.release.listing import Releases, parse_listing
from svcctl.release.manifest import check_id
from svcctl.release.prune import Kept, Plan, parse_pruned, plan_prune
from svcctl.scripts import Script

CHECK = Script("release_check.sh", __name__)
UPLOAD = Script("release_upload.sh", __name__)
SWITCH = Script("release_switch.sh", __name__)
LIST = Script("release_list.sh", __name__)
PRUNE = Script("release_prune.sh", __name__)

UPLOAD_TIMEOUT = 1800.0


class Stored(Enum):
    UPLOADED = "uploaded"  # upload: verified and renamed into place
    PRESENT = "present"  # the id is there with the same checksum: nothing to send
    ABSENT = "absent"  # check: not there
    CONFLICT = "conflict"  # the id is there with another checksum (refused: exit 2 upstream)
    MISMATCH = "checksum mismatch"  # the stream was cut short or altered: nothing published
    TAR_FAILED = "tar failed"
    NO_SPACE = "no space left"
    UNTRUSTED = "releases is not a plain directory"  # refused
    SHARED = "a shared: directory clashes or is not a plain directory"  # refused
    FAILED = "failed"  # incoming directory unusable, or any other exit

    @property
    def refused(self) -> bool:
        return self in (Stored.CONFLICT, Stored.UNTRUSTED, Stored.SHARED)


_CHECK_RC = {0: Stored.PRESENT, 3: Stored.ABSENT, 4: Stored.CONFLICT, 8: Stored.UNTRUSTED}
_UPLOAD_RC = {0: Stored.UPLOADED, 3: Stored.PRESENT, 4: Stored.CONFLICT, 5: Stored.MISMATCH,
              6: Stored.TAR_FAILED, 7: Stored.NO_SPACE, 8: Stored.UNTRUSTED, 9: Stored.FAILED,
              10: Stored.SHARED}


class Switched(Enum):
    SWITCHED = "switched"
    NO_RELEASE = "no such release"
    NOT_A_LINK = "current or .svcctl-previous is not a symlink"  # refused: someone put a
    # directory or file there
    UNTRUSTED = "releases is not a plain directory"
    FAILED = "failed"


_SWITCH_RC = {0: Switched.SWITCHED, 3: Switched.NO_RELEASE, 4: Switched.NOT_A_LINK,
              8: Switched.UNTRUSTED}


@dataclass(frozen=True)
class StoreRun:
    outcome: Stored
    result: Result | None  # None when nothing ran


@dataclass(frozen=True)
class SwitchRun:
    outcome: Switched
    previous: str | None  # what `current` pointed to before (`releases/<id>`), if anything
    result: Result
    marked: str | None = None  # what `.svcctl-previous` pointed to before, if anything


def check(host: Host, root: str, release_id: str, checksum: str) -> StoreRun:
    r = host.run(CHECK.argv(root, release_id, checksum))
    return StoreRun(_CHECK_RC.get(r.rc, Stored.FAILED), r)


def upload(host: Host, root: str, release_id: str, checksum: str, tar: Iterable[bytes], *,
           shared: Iterable[str] = (), timeout: float = UPLOAD_TIMEOUT) -> StoreRun:
    """Check first (a cheap call); send the tar stream only if the id is absent. Each of
    `shared` is linked into the new release to `<root>/shared/<name>`."""
    first = check(host, root, release_id, checksum)
    if first.outcome is not Stored.ABSENT:
        return first
    r = host.feed(UPLOAD.argv(root, release_id, checksum, *shared), tar, timeout=timeout)
    return StoreRun(_UPLOAD_RC.get(r.rc, Stored.FAILED), r)


def switch(host: Host, root: str, release_id: str, *,
           restore_previous: str | None = None) -> SwitchRun:
    """Point `current` at the release; `.svcctl-previous` at where `current` was. A
    rollback of a failed deploy gives `restore_previous`, what `.svcctl-previous` was
    before (`SwitchRun.marked`; "" for none), and it is put back as it was."""
    extra = () if restore_previous is None else (restore_previous,)
    r = host.run(SWITCH.argv(root, release_id, *extra))
    outcome = _SWITCH_RC.get(r.rc, Switched.FAILED)
    lines = r.stdout.split("\n") if outcome is Switched.SWITCHED else []
    prev, marked = [*lines, "", ""][:2]
    return SwitchRun(outcome, prev.strip() or None, r, marked.strip() or None)


class Listing(Enum):
    LISTED = "listed"
    UNTRUSTED = "releases is not a plain directory"
    PS_FAILED = "ps failed"  # which release runs where is unknown: nothing is listed
    FAILED = "failed"  # any other exit, or output that does not parse


_LIST_RC = {0: Listing.LISTED, 8: Listing.UNTRUSTED, 9: Listing.PS_FAILED}


@dataclass(frozen=True)
class ListRun:
    outcome: Listing
    releases: Releases | None  # when LISTED
    result: Result
    problem: str | None = None  # the ParseError's message, for FAILED


def _absolute(root: str) -> str:
    """ps shows absolute paths: a relative root could never match a process."""
    if not root.startswith("/"):
        raise BadInputError(f"release root {root!r} must be an absolute path")
    return root.rstrip("/") or "/"


def releases(host: Host, root: str) -> ListRun:
    """What `root` holds: every release, its record, current, previous, which pids run it."""
    r = host.run(LIST.argv(_absolute(root)))
    outcome = _LIST_RC.get(r.rc, Listing.FAILED)
    if outcome is not Listing.LISTED:
        return ListRun(outcome, None, r)
    try:
        return ListRun(outcome, parse_listing(r.stdout), r)
    except ParseError as exc:
        return ListRun(Listing.FAILED, None, r, exc.message)


class Pruning(Enum):
    PRUNED = "pruned"  # every planned release was deleted, or kept by the host's own check
    NOTHING = "nothing to prune"
    UNTRUSTED = "releases is not a plain directory"
    FAILED = "failed"  # the listing or the prune call failed: see `listed`, `result`


@dataclass(frozen=True)
class PruneRun:
    outcome: Pruning
    deleted: tuple[str, ...]
    kept: tuple[Kept, ...]  # each release not deleted and why (the plan's or the host's)
    listed: ListRun
    result: Result | None  # the prune call's; None when there was nothing to delete
    problem: str | None = None


def prune(host: Host, root: str, keep: int) -> PruneRun:
    """Keep the newest `keep` releases and current, previous and any a process runs;
    delete the rest. Two calls: the listing (the plan's input), then the deletions, each
    checked again on the host right before its rm (release_prune.sh)."""
    listed = releases(host, root)
    if listed.releases is None:
        bad = Pruning.UNTRUSTED if listed.outcome is Listing.UNTRUSTED else Pruning.FAILED
        return PruneRun(bad, (), (), listed, None, listed.problem)
    plan: Plan = plan_prune(listed.releases, keep)
    if not plan.delete:
        return PruneRun(Pruning.NOTHING, (), plan.keep, listed, None)
    ids = tuple(check_id(i) for i in plan.delete)
    r = host.run(PRUNE.argv(_absolute(root), *ids))
    if r.rc != 0:
        bad = Pruning.UNTRUSTED if r.rc == 8 else Pruning.FAILED
        return PruneRun(bad, (), plan.keep, listed, r)
    try:
        done = parse_pruned(r.stdout, ids)
    except ParseError as exc:
        return PruneRun(Pruning.FAILED, (), plan.keep, listed, r, exc.message)
    return PruneRun(Pruning.PRUNED, done.deleted, (*plan.keep, *done.kept), listed, r)
