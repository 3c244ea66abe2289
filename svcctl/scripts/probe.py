"""The scripts audit's batched probe runs beside launchctl (svcctl.ops.audit).

`ps_probe.sh` lists every process, then the working directory of the rows that need one
and the real paths of the services' files (svcctl.procs.parse_probe reads it);
`record_read.sh` reads a lock or guard record only if it is a plain file; `plist_places.sh`
lists the label's plists present and its fence record. Each returns argv for
`launchd.build_batch`: their outputs come back through the batch, read by the pure
assessment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from svcctl.scripts import Script

PS_PROBE = Script("ps_probe.sh", __name__)
READ_RECORD = Script("record_read.sh", __name__)
PLACES = Script("plist_places.sh", __name__)


class RecordRead(Enum):
    READ = "read"  # the record is on stdout
    ABSENT = "absent"  # no plain file there (missing, a link, a FIFO, unreadable)


def read_record_argv(path: str) -> list[str]:
    """Read a record file another user may have written."""
    return READ_RECORD.argv(path)


def record_read(rc: int) -> RecordRead:
    return RecordRead.READ if rc == 0 else RecordRead.ABSENT


def places_argv(record: str, plists: Iterable[str]) -> list[str]:
    """Which of `plists` exist, then the fence `record` if it is a plain file: always rc 0."""
    return PLACES.argv(record, *plists)


def probe_argv(names: Sequence[str], paths: Sequence[str] = ()) -> list[str]:
    """ps's rows; then lsof's cwd for rows with a relative word in `names`; then the real
    path of `paths` and of the absolute words in `names` any row shows."""
    if not names:
        return PS_PROBE.argv()
    return PS_PROBE.argv(" ".join(sorted(set(names))), *sorted(set(paths)))
