"""Error codes and their texts, as launchctl prints them (FACTS 2.0)."""

from __future__ import annotations

# macOS errno numbering (not Linux's: EALREADY is 37 here, 114 on Linux).
_ERRNO_TEXT: dict[int, str] = {
    1: "Operation not permitted",
    2: "No such file or directory",
    3: "No such process",
    4: "Interrupted system call",
    5: "Input/output error",
    6: "Device not configured",
    7: "Argument list too long",
    8: "Exec format error",
    9: "Bad file descriptor",
    10: "No child processes",
    11: "Resource deadlock avoided",
    12: "Cannot allocate memory",
    13: "Permission denied",
    14: "Bad address",
    16: "Resource busy",
    17: "File exists",
    20: "Not a directory",
    21: "Is a directory",
    22: "Invalid argument",
    24: "Too many open files",
    28: "No space left on device",
    30: "Read-only file system",
    32: "Broken pipe",
    35: "Resource temporarily unavailable",
    36: "Operation now in progress",
    37: "Operation already in progress",
    45: "Operation not supported",
    60: "Operation timed out",
    63: "File name too long",
    66: "Directory not empty",
    78: "Function not implemented",
}

# Darwin libxpc xpc_strerror table, codes 107-159 (FACTS 2.0).
_LAUNCHD_TEXT: dict[int, str] = {
    107: "Malformed bundle",
    108: "Invalid path",
    109: "Invalid property list",
    110: "Invalid or missing service identifier",
    111: "Invalid or missing Program/ProgramArguments",
    112: "Could not find specified domain",
    113: "Could not find specified service",
    114: "The specified username does not exist",
    115: "The specified group does not exist",
    116: "Routine not yet implemented",
    118: "Bad response from server",
    119: "Service is disabled",
    120: "Bad subsystem destination for request",
    121: "Path not searched for services",
    122: "Path had bad ownership/permissions",
    123: "Path is whitelisted for domain",
    124: "Domain is tearing down",
    125: "Domain does not support specified action",
    126: "Request type is no longer supported",
    127: "The specified service did not ship with the operating system",
    128: "The specified path is not a bundle",
    129: "The service was superseded by a later version",
    130: "The system encountered a condition where behavior was undefined",
    131: "Out of order requests",
    132: "Request for stale data",
    133: "Multiple errors were returned; see stderr",
    134: "Service cannot load in requested session",
    135: "Process is not managed",
    136: "Action not allowed on singleton service",
    137: "Service does not support the specified action",
    138: "Service cannot be loaded on this hardware",
    139: "Service cannot presently execute",
    140: "Service name is reserved or invalid",
    141: "Reentrancy avoided",
    142: "Operation only supported on development build",
    143: "Requested entry was cached",
    144: "Requestor lacks required entitlement",
    145: "Endpoint is hidden",
    146: "Domain is in on-demand-only mode",
    150: "Operation not permitted while System Integrity Protection is engaged",
    154: "Requestor is not a platform binary",
    155: "Refusing to execute/trust quarantined program/file",
}

EPERM = 1
ESRCH = 3
EIO = 5
EEXIST = 17
EALREADY = 37
EX_CONFIG = 78  # sysexits: a job whose exec fails exits with this
EX_USAGE = 64
INVALID_PLIST = 109
BAD_LABEL = 110
BAD_PROGRAM = 111
NO_DOMAIN = 112
NO_SERVICE = 113
DISABLED = 119
BAD_OWNER = 122
NO_SUPPORT = 125
SESSION_MISMATCH = 134
BAD_RESPONSE = 118

ROOT_HINT = "Try re-running the command as root for richer errors."


def strerror(code: int) -> str:
    """The text `launchctl error N` prints after `N: ` (FACTS 2.0)."""
    text = _LAUNCHD_TEXT.get(code) or _ERRNO_TEXT.get(code)
    return text if text is not None else f"Unknown error: {code}"


class LaunchctlError(Exception):
    """A verb failed: launchctl prints `err` on stderr and exits with `rc`."""

    def __init__(self, rc: int, err: str, out: str = "") -> None:
        super().__init__(err)
        self.rc = rc
        self.err = err if err == "" or err.endswith("\n") else err + "\n"
        self.out = out
