"""Name the cause of a failed launchctl call and say what a human should do (FACTS 2.0-2.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MEANINGS: dict[int, str] = {
    1: "Operation not permitted or unrecognized subcommand",
    3: "No such process",
    5: "Input/output error",
    17: "File exists",
    36: "Operation now in progress",
    37: "Operation already in progress",
    64: "Usage error",
    109: "Invalid property list",
    110: "Invalid or missing service identifier",
    111: "Invalid or missing Program/ProgramArguments",
    112: "Could not find specified domain",
    113: "Could not find specified service",
    119: "Service is disabled",
    122: "Path had bad ownership/permissions",
    124: "Domain is tearing down",
    125: "Domain does not support specified action",
    134: "Service cannot load in requested session",
    150: "Operation not permitted while System Integrity Protection is engaged",
    154: "Requestor is not a platform binary",
    155: "Refusing to execute/trust quarantined program/file",
}

_EIO_CAUSES = (
    "launchctl gives 5 for several causes (FACTS 2.1, FIELD D): the label is still loaded "
    "or its bootout is still draining (bootout, wait until print says not found, retry); "
    "it is disabled (launchctl enable {target}); the plist has a bad owner or mode (yours "
    "for agents, root:wheel for daemons, never group/world-writable); or the plist is "
    "invalid (plutil -lint); run as root for a precise code"
)

_RELOAD = "bootout {target}, wait until it is gone, then bootstrap"

# (verb or "*", code) -> (cause, remedy); `{target}` is filled from the caller's argument
_CAUSES: dict[tuple[str, int], tuple[str, str]] = {
    ("bootout", 3): ("not-loaded", "nothing to stop: the label is not loaded there"),
    ("bootout", 5): ("not-loaded", "the domain+path form says 5 when not loaded (FACTS 2.2)"),
    ("bootout", 36): ("in-progress", "bootout is still tearing the job down; wait and re-check"),
    ("bootout", 113): ("not-loaded", "nothing to stop: the label is not loaded there"),
    ("kill", 3): ("not-running", "the job is loaded but has no process to signal"),
    ("blame", 3): ("not-running", "the job is loaded but not running"),
    ("bootstrap", 5): ("ambiguous-eio", _EIO_CAUSES),
    ("bootstrap", 17): ("already-loaded", _RELOAD),
    ("bootstrap", 37): ("already-loaded", _RELOAD),
    ("kickstart", 37): ("already-running", "the job already runs; nothing was restarted"),
    ("*", 1): ("unsupported", "this launchctl does not know the subcommand (older macOS?)"),
    ("*", 3): ("no-such-process", "the job has no process"),
    ("*", 5): ("io-error", "run the same launchctl command as root for a precise code"),
    ("*", 64): ("usage", "launchctl rejected svcctl's arguments; this is a bug, report it"),
    ("*", 109): ("invalid-plist", "the plist is not valid; check it with plutil -lint"),
    ("*", 110): ("invalid-plist", "the plist has no valid Label"),
    ("*", 111): ("invalid-plist", "the plist has no valid Program/ProgramArguments"),
    ("*", 112): (
        "domain-missing",
        "{target} does not exist; gui/<uid> exists only while that user is logged in at the "
        "console (FACTS 1.4): use user/<uid> for hosts reached over SSH",
    ),
    ("*", 113): ("not-loaded", "the label is not loaded in {target}; bootstrap it first"),
    ("*", 119): ("disabled", "the label is disabled: launchctl enable {target}, then retry"),
    ("*", 122): (
        "bad-permissions",
        "the plist must be owned by the loading user (agents) or root:wheel (daemons) and "
        "not group/world-writable (FACTS 1.2)",
    ),
    ("*", 124): ("domain-tearing-down", "the domain is shutting down (logout?); retry later"),
    ("*", 125): (
        "domain-unsupported",
        "{target} does not accept this over SSH: gui/<uid> needs a console login, and "
        "`sudo` turns gui/$(id -u) into gui/0 (FACTS 1.3, 1.4); use user/<uid>",
    ),
    ("*", 134): (
        "session-mismatch",
        "the plist's LimitLoadToSessionType must include Background to load into "
        "user/<uid> (FACTS 1.4)",
    ),
    ("*", 150): ("sip", "System Integrity Protection forbids this; it is not svcctl's to change"),
    ("*", 155): ("quarantined", "remove the quarantine: xattr -d com.apple.quarantine <file>"),
}

# bootout is done when the label is gone, whichever of these the version prints (FACTS 2.2)
GONE_CODES = frozenset({3, 5, 113})


@dataclass(frozen=True)
class LaunchctlOutcome:
    verb: str
    rc: int
    cause: str  # "ok", "not-loaded", "ambiguous-eio", ... stable keys for ops and --json
    meaning: str
    remedy: str
    message: str  # the first meaningful stderr line, as launchctl printed it
    reported: int | None = None  # the code in `Bootstrap failed: 5: ...`, if any

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def gone(self) -> bool:
        """For bootout/print: launchd no longer knows the label in that domain."""
        return self.cause == "not-loaded"

    def one_line(self) -> str:
        return f"launchctl {self.verb} failed ({self.rc}: {self.meaning}): {self.remedy}"


def classify_launchctl_error(
    rc: int, stderr: str, verb: str, target: str = "<target>"
) -> LaunchctlOutcome:
    """Name the cause of a launchctl exit status, with a remedy a human can act on."""
    lines = [x.strip() for x in stderr.splitlines() if x.strip()]
    reported = None
    for line in lines:
        m = re.search(r"failed: (\d+): ", line)
        if m:
            reported = int(m.group(1))
    message = next((x for x in lines if not x.startswith("Try re-running")), "")
    if rc == 0:
        return LaunchctlOutcome(verb, 0, "ok", "success", "", message, reported)
    cause, remedy = _CAUSES.get((verb, rc)) or _CAUSES.get(
        ("*", rc), ("unknown", f"see `launchctl error {rc}`")
    )
    meaning = MEANINGS.get(rc, "unknown error")
    remedy = remedy.format(target=target)
    return LaunchctlOutcome(verb, rc, cause, meaning, remedy, message, reported)
