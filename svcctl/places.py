"""Where a service's plist lives on a host, and every place launchd would load one from.

Pure. FACTS 1.2: launchd loads `/Library/LaunchDaemons` into `system` at boot, and
`~/Library/LaunchAgents` and `/Library/LaunchAgents` into `gui/<uid>` at a console login;
`bootstrap` takes a plist from anywhere. So svcctl keeps a `user/<uid>` agent's plist in
its own directory, which nothing loads by itself: a console login can then never start a
second copy in `gui/<uid>` (issue 11; why not `launchctl disable`:
testbed/svcctl_testbed/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from svcctl.model import Domain, DomainKind, ServiceSpec

STATE_SUBPATH = "Library/Application Support/svcctl"
AGENTS_SUBPATH = f"{STATE_SUBPATH}/LaunchAgents"  # user/<uid> plists: loaded by svcctl only
FENCED_SUBPATH = f"{STATE_SUBPATH}/fenced"  # plists moved aside by a fence, and its record
DAEMONS = PurePosixPath("/Library/LaunchDaemons")
ADMIN_AGENTS = PurePosixPath("/Library/LaunchAgents")


class NoHomeError(ValueError):
    """An agent's place needs the uid's home, and the inventory does not give it."""


@dataclass(frozen=True)
class Place:
    """A path where a plist for the label may sit, and what loads it without svcctl."""

    path: str
    into: DomainKind | None  # the domain launchd loads it into by itself; None: none
    when: str = ""  # "at boot", "at console login"

    @property
    def autoload(self) -> bool:
        return self.into is not None

    def describe(self, uid: int | None) -> str:
        if self.into is None:
            return f"{self.path} (loaded only by svcctl)"
        dom = "system" if self.into is DomainKind.SYSTEM else f"gui/{uid}"
        return f"{self.path} (launchd loads it into {dom} {self.when})"


def _home(domain: Domain, home: str | None) -> PurePosixPath:
    if not home:
        raise NoHomeError(f"the home directory of uid {domain.uid} is needed to place a "
                          "LaunchAgent (set `home:` on the host)")
    return PurePosixPath(home)


def plist_path(label: str, domain: Domain, home: str | None) -> PurePosixPath:
    """Where svcctl installs the plist for `domain` (the file name is `<Label>.plist`)."""
    name = f"{label}.plist"
    if domain.is_system:
        return DAEMONS / name  # loaded at boot: a daemon comes back after a reboot
    if domain.kind is DomainKind.GUI:
        return _home(domain, home) / "Library/LaunchAgents" / name  # back at console login
    return _home(domain, home) / AGENTS_SUBPATH / name


def places(label: str, home: str | None) -> list[Place]:
    """Every place a plist for `label` may be on a host whose login user lives at `home`."""
    name = f"{label}.plist"
    gui = DomainKind.GUI
    out = [Place(str(DAEMONS / name), DomainKind.SYSTEM, "at boot"),
           Place(str(ADMIN_AGENTS / name), gui, "at any user's console login")]
    if home:
        out.append(Place(str(PurePosixPath(home) / "Library/LaunchAgents" / name), gui,
                         "at console login"))
        out.append(Place(str(PurePosixPath(home) / AGENTS_SUBPATH / name), None))
    return out


def fence_dir(domain: Domain, home: str | None) -> PurePosixPath:
    """Where a fence keeps the plists it moved, and its record: the connected user's own."""
    if domain.is_system:
        return PurePosixPath("/") / FENCED_SUBPATH
    return _home(domain, home) / FENCED_SUBPATH


def fence_record_path(label: str, domain: Domain, home: str | None) -> PurePosixPath:
    return fence_dir(domain, home) / f"{label}.fence"


def starts_at_load(svc: ServiceSpec) -> bool:
    """launchd starts the job when it loads it: RunAtLoad, or KeepAlive (FACTS 4)."""
    ka = svc.keep_alive
    if isinstance(ka, bool):
        return bool(svc.run_at_load) or ka
    return bool(svc.run_at_load) or "SuccessfulExit" in ka  # it implies RunAtLoad


def reboot_note(domain: Domain, starts_at_load: bool) -> tuple[bool, str]:
    """(comes back by itself, why): what launchd does with the service after a reboot."""
    if domain.is_system:
        if starts_at_load:
            return True, (f"it comes back: launchd loads {DAEMONS} into system at boot and "
                          "starts it (RunAtLoad/KeepAlive)")
        return False, (f"launchd loads it from {DAEMONS} at boot but does not start it: it "
                       "has neither RunAtLoad nor KeepAlive")
    if domain.kind is DomainKind.GUI:
        return False, (f"it comes back only when uid {domain.uid} logs in at the console: "
                       f"gui/{domain.uid} exists only then (FACTS 1.4)")
    return False, (f"it does not come back: user/{domain.uid} exists only after "
                   "a login, and svcctl keeps its plist out of ~/Library/LaunchAgents so that "
                   f"a console login cannot start a second copy in gui/{domain.uid} "
                   "(FACTS 1.4); for a service that must survive a reboot use "
                   "`domain: system` with `user_name` (runbooks/system-daemon.md)")
