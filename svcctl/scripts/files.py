"""Small file scripts: deploy keeps the previous plist, `svcctl logs` reads a log.

`keep_previous.sh` (svcctl.ops.deploy), `log_tail.sh` and `log_size.sh`
(svcctl.ops.control). Their results are data (bytes, a size): the only outcome
beyond it, failure, is an exception (`keep_previous`) or empty (the logs).
"""

from __future__ import annotations

from svcctl.host.base import Host
from svcctl.scripts import Script

KEEP_PREVIOUS = Script("keep_previous.sh", __name__)
LOG_TAIL = Script("log_tail.sh", __name__)
LOG_SIZE = Script("log_size.sh", __name__)


def keep_previous(host: Host, path: str, suffix: str) -> None:
    """Copy `path` to `path + suffix` whole (copy, then rename); CommandFailedError if not."""
    host.check(KEEP_PREVIOUS.argv(path, suffix))


def read_from(host: Host, path: str, offset: int) -> bytes:
    """Bytes of `path` from `offset` on (for `logs -f`, one round trip per poll)."""
    r = host.run(LOG_TAIL.argv(str(offset + 1), path))
    return r.stdout.encode()


def size_of(host: Host, path: str) -> int:
    """The size of `path`; 0 when it cannot be read."""
    r = host.run(LOG_SIZE.argv(path))
    try:
        return int(r.stdout.strip() or 0)
    except ValueError:
        return 0
