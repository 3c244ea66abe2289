"""The release scripts (issue 13): is a release there, upload one, switch `current`.

`release_check.sh` is the cheap call before an upload, so an unchanged release sends no
tar at all; `release_upload.sh` receives the tar stream in one SSH exec and publishes it
under its id only once the manifest the host computed matches; `release_switch.sh` points
`current` at a release with one rename(2) (FACTS 5.4). All include `release_common.sh`;
the upload also `release_manifest.sh`, the host's half of svcctl.release.manifest.
Exit codes map to an Enum per script in one table each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from svcctl.host.base import Host, Result
from svcctl.scripts import Script

CHECK = Script("release_check.sh", __name__)
UPLOAD = Script("release_upload.sh", __name__)
SWITCH = Script("release_switch.sh", __name__)

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
    FAILED = "failed"  # incoming directory unusable, or any other exit

    @property
    def refused(self) -> bool:
        return self in (Stored.CONFLICT, Stored.UNTRUSTED)


_CHECK_RC = {0: Stored.PRESENT, 3: Stored.ABSENT, 4: Stored.CONFLICT, 8: Stored.UNTRUSTED}
_UPLOAD_RC = {0: Stored.UPLOADED, 3: Stored.PRESENT, 4: Stored.CONFLICT, 5: Stored.MISMATCH,
              6: Stored.TAR_FAILED, 7: Stored.NO_SPACE, 8: Stored.UNTRUSTED, 9: Stored.FAILED}


class Switched(Enum):
    SWITCHED = "switched"
    NO_RELEASE = "no such release"
    NOT_A_LINK = "current is not a symlink"  # refused: someone put a directory or file there
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


def check(host: Host, root: str, release_id: str, checksum: str) -> StoreRun:
    r = host.run(CHECK.argv(root, release_id, checksum))
    return StoreRun(_CHECK_RC.get(r.rc, Stored.FAILED), r)


def upload(host: Host, root: str, release_id: str, checksum: str, tar: Iterable[bytes], *,
           timeout: float = UPLOAD_TIMEOUT) -> StoreRun:
    """Check first (a cheap call); send the tar stream only if the id is absent."""
    first = check(host, root, release_id, checksum)
    if first.outcome is not Stored.ABSENT:
        return first
    r = host.feed(UPLOAD.argv(root, release_id, checksum), tar, timeout=timeout)
    return StoreRun(_UPLOAD_RC.get(r.rc, Stored.FAILED), r)


def switch(host: Host, root: str, release_id: str) -> SwitchRun:
    r = host.run(SWITCH.argv(root, release_id))
    outcome = _SWITCH_RC.get(r.rc, Switched.FAILED)
    prev = r.stdout.strip() if outcome is Switched.SWITCHED else ""
    return SwitchRun(outcome, prev or None, r)
