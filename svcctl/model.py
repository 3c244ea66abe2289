"""Plain data shared by every layer: specs from the inventory, states read from hosts.

Everything here is a frozen dataclass or an enum with no behaviour beyond parsing its
own textual form. Mappings are typed `Mapping` and never mutated after construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

_DOMAIN_RE = re.compile(r"(system)|(user|gui)/(\d+)")


class DomainKind(StrEnum):
    SYSTEM = "system"
    USER = "user"
    GUI = "gui"


@dataclass(frozen=True)
class Domain:
    """A launchd domain svcctl can manage (FACTS 1.1): `system`, `user/<uid>`, `gui/<uid>`."""

    kind: DomainKind
    uid: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is DomainKind.SYSTEM) != (self.uid is None):
            raise ValueError(f"domain {self.kind.value!r} and uid {self.uid!r} do not fit")

    @classmethod
    def parse(cls, text: str) -> Domain:
        """`system`, `user/501` or `gui/501`; raises ValueError for anything else."""
        m = _DOMAIN_RE.fullmatch(text.strip())
        if m is None:
            raise ValueError(
                f"not a launchd domain: {text!r} (expected system, user/<uid> or gui/<uid>)"
            )
        if m.group(1):
            return cls(DomainKind.SYSTEM)
        return cls(DomainKind(m.group(2)), int(m.group(3)))

    @property
    def target(self) -> str:
        return "system" if self.uid is None else f"{self.kind.value}/{self.uid}"

    def service_target(self, label: str) -> str:
        return f"{self.target}/{label}"

    @property
    def is_system(self) -> bool:
        return self.kind is DomainKind.SYSTEM

    def __str__(self) -> str:
        return self.target


@dataclass(frozen=True)
class HostSpec:
    """One inventory host. `name` is also the SSH alias unless `hostname` overrides it."""

    name: str
    domain: Domain
    hostname: str | None = None
    user: str | None = None
    port: int | None = None
    ssh_config: Path | None = None
    home: str | None = None  # the uid's home, where ~/Library/LaunchAgents lives


@dataclass(frozen=True)
class HealthCheck:
    """An optional probe after the stay-up window: exactly one of `command`, `tcp_port`
    or `url` (fetched on the host)."""

    command: tuple[str, ...] | None = None
    tcp_port: int | None = None
    timeout: float = 5.0
    url: str | None = None


@dataclass(frozen=True)
class ReleaseSpec:
    """Where a service's code lives on the host and where it comes from (issue 13).

    On the host: `<root>/releases/<id>/` per release, `<root>/current` a link to one of
    them, `<root>/shared/<dir>` for each of `shared`, linked into every release. `source`
    is a local directory or a `.tar.gz` artifact (absolute, resolved against the
    inventory file). `{{ release }}` in the service's program, working directory,
    environment and log paths stands for `<root>/releases/<id>`: the plist names the
    concrete release, so `ps` shows which one every process runs.
    """

    root: str
    source: str
    keep: int = 5
    shared: tuple[str, ...] = ()


RELEASE_TOKEN = "{{ release }}"  # noqa: S105  (a template token, not a password)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    label: str
    hosts: tuple[str, ...]
    program: tuple[str, ...]
    match: re.Pattern[str] | None = None  # only narrows the identity rule (svcctl.procs)
    working_directory: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    keep_alive: bool | Mapping[str, object] = False
    run_at_load: bool | None = None
    throttle_interval: int | None = None
    exit_timeout: int | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    user_name: str | None = None  # UserName, LaunchDaemons only (FACTS 4)
    template: str | None = None
    guard: bool = False
    stay_up: float = 10.0
    health: HealthCheck | None = None
    plist_extra: Mapping[str, object] = field(default_factory=dict)
    # what the program ends up running, for a wrapper that execs (`run.sh` -> `exec python3
    # main.py`): the identity instances are matched against (issue 10). None: `program`.
    runs: tuple[str, ...] | None = None
    source: str = ""  # "inventory.yaml:12", for messages
    release: ReleaseSpec | None = None  # issue 13: svcctl ships the code too


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: Mapping[str, HostSpec]
    services: Mapping[str, ServiceSpec]
    templates_dir: Path
    ssh_config: Path | None = None


@dataclass(frozen=True)
class ProcInfo:
    """One row of `ps` (FACTS 5.2). `user` may be truncated or numeric; `uid` is exact."""

    pid: int
    ppid: int
    uid: int
    user: str
    pgid: int
    started: datetime | None
    started_raw: str
    command: str
    # the working directory, where the probe could ask (lsof -d cwd, FACTS 5.4): only for
    # the few rows whose script operand is relative; None where unknown
    cwd: str | None = None

    @property
    def args_hidden(self) -> bool:
        """ps shows `[name]` or `(name)` when it cannot read the arguments (FACTS 5.2)."""
        c = self.command
        return len(c) >= 2 and ((c[0] == "[" and c[-1] == "]") or (c[0] == "(" and c[-1] == ")"))


@dataclass(frozen=True)
class ListEntry:
    """One row of `launchctl list` (FACTS 3.1) or of a `print <domain>` services block."""

    label: str
    pid: int | None
    status: int | None  # exit code, or -signal; None when `-` or unknown
    status_raw: str


@dataclass(frozen=True)
class JobState:
    """What launchd says about one label, from `print` (FACTS 3.3) or `list <label>` (3.2)."""

    label: str
    source: str  # "print" or "list"
    domain: Domain | None = None
    domain_raw: str | None = None
    pid: int | None = None
    state: str | None = None
    runs: int | None = None
    last_exit_code: int | None = None  # None: never exited, or killed by a signal
    last_exit_raw: str | None = None  # as printed: "(never exited)", "75: EX_TEMPFAIL", "19200"
    last_signal: int | None = None
    successive_crashes: int | None = None
    path: str | None = None
    job_type: str | None = None
    program: str | None = None
    arguments: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    minimum_runtime: int | None = None
    exit_timeout: int | None = None
    properties: tuple[str, ...] = ()
    on_demand: bool | None = None
    asid: int | None = None

    @property
    def running(self) -> bool:
        return self.pid is not None


class Verdict(StrEnum):
    OK = "ok"
    DOWN = "down"
    STRAY = "stray"
    DUPLICATE = "duplicate"
    CRASHLOOP = "crashloop"
    UNEXPECTED = "unexpected"
    UNREACHABLE = "unreachable"
    UNINSPECTABLE = "uninspectable"
    BLOCKED = "blocked"
    # issue 11: an unassigned host where svcctl fenced the service (nothing loaded, nothing
    # runs, no plist launchd would load): counts as ok
    FENCED = "fenced"
    # a plist that a reboot or a login would load where the service must not run: on a
    # host it is not assigned to, or in an auto-load directory of another domain
    UNFENCED = "unfenced"
    # issue 13: launchd's own single instance runs a release other than the one `current`
    # links to (both known): deployed but not restarted. A finding, never HARMLESS
    STALE = "stale"


# verdicts under which nothing runs that should not: `AuditReport.ok` and the gates
HARMLESS = frozenset({Verdict.OK, Verdict.FENCED})


@dataclass(frozen=True)
class Instance:
    """A running copy of a service: a matching process and its matching descendants."""

    proc: ProcInfo
    managed: bool  # launchd's pid for the label in the expected domain, or a descendant
    owner: str | None  # service-target of the job it descends from; None for a stray
    children: tuple[int, ...] = ()  # matching descendants folded into this instance
    reason: str = ""
    release: str | None = None  # the release it runs (issue 13); None: no release, or untold


@dataclass(frozen=True)
class Finding:
    """The audit outcome for one service on one host."""

    service: str
    host: str
    verdict: Verdict
    instances: tuple[Instance, ...] = ()
    job: JobState | None = None
    hidden: tuple[ProcInfo, ...] = ()  # candidates whose arguments ps could not read
    detail: str = ""
    hint: str | None = None  # the next step, when the verdict's usual one does not fit
    # the label loaded in other domains than the host's own (service-targets), idle or not
    elsewhere: tuple[str, ...] = ()
    # plists for the label found on the host (FACTS 1.2 auto-load dirs and svcctl's own)
    plists: tuple[str, ...] = ()
    fence: FenceRecord | None = None  # who fenced it here, when and why (svcctl.ops.fence)
    # on an assigned host, why launchd will not bring it back after a reboot (None: it will)
    reboot: str | None = None
    # the release `<root>/current` links to, as the probe resolved it (issue 13); None: the
    # service has no release, or the host did not tell (no `current`, or not a release)
    current_release: str | None = None

    @property
    def strays(self) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if not i.managed)


@dataclass(frozen=True)
class FenceRecord:
    """What a fence leaves beside the plists it moved (svcctl.ops.fence): who, when, why.

    Also what `deploy --fenced HOST` records on the new host for an operator's statement
    that HOST is powered off or cut off (Pacemaker's manual fencing acknowledgement).
    """

    service: str
    label: str
    host: str
    by: str  # user@machine that ran svcctl
    at: str  # ISO 8601, UTC
    reason: str
    moved: tuple[tuple[str, str], ...] = ()  # (from, to)
    disabled: tuple[str, ...] = ()  # service-targets disabled
    schema: str = "svcctl.fence/1"

    def dumps(self) -> str:
        doc = {"schema": self.schema, "service": self.service, "label": self.label,
               "host": self.host, "by": self.by, "at": self.at, "reason": self.reason,
               "moved": [list(m) for m in self.moved], "disabled": list(self.disabled)}
        return json.dumps(doc, sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str) -> FenceRecord | None:
        """None for anything that is not a record this version wrote."""
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("schema") != "svcctl.fence/1":
                return None
            return cls(str(doc["service"]), str(doc["label"]), str(doc["host"]),
                       str(doc["by"]), str(doc["at"]), str(doc["reason"]),
                       tuple((str(a), str(b)) for a, b in doc.get("moved", [])),
                       tuple(str(d) for d in doc.get("disabled", [])))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"fenced by {self.by} at {self.at}: {self.reason}"
