"""Importing plists into domains: bootstrap checks, boot, GUI login and logout."""

from __future__ import annotations

import logging
from pathlib import Path

from .codes import DISABLED, EEXIST, SESSION_MISMATCH
from .jobs import Domain, Job
from .manager import Manager
from .plists import PlistProblem, load_spec

log = logging.getLogger("launchd")


def plist_owners(domain: Domain) -> tuple[int, ...]:
    # Daemons must be root-owned; agents may be owned by their user (FACTS 1.2).
    return (0,) if domain.kind == "system" else (0, domain.uid)


def check_and_load(mgr: Manager, domain: Domain, path: Path, force: bool = False) -> Job:
    """The bootstrap checks in FACTS 7.2 order; raises PlistProblem with the raw code.

    EEXIST stands for "already loaded"; verbs map it to the configured code.
    `force` is `load -F`: ignore the Disabled key and override (FACTS 2.10).
    """
    spec = load_spec(path, plist_owners(domain))
    disabled = not force and mgr.is_disabled(domain, spec)
    if disabled and mgr.cfg.bootstrap_disabled_fails:
        raise PlistProblem(DISABLED)
    if spec.label in domain.jobs:  # includes a job still SIGTERMed by bootout (FACTS 2.2)
        raise PlistProblem(EEXIST)
    # LimitLoadToSessionType only applies to agents (FACTS 4).
    if domain.kind != "system" and not spec.loads_in_session(domain.session_type):
        raise PlistProblem(SESSION_MISMATCH)
    return mgr.load(domain, spec, start=not disabled)


def load_directory(mgr: Manager, domain: Domain, directory: Path) -> None:
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".plist" and p.is_file())
    except OSError:
        return
    for path in paths:
        try:
            check_and_load(mgr, domain, path)
        except PlistProblem as exc:
            log.warning("%s: not loaded into %s: error %d %s", path, domain.name, exc.code, exc)


def boot(mgr: Manager) -> None:
    """Internal daemons, /Library/LaunchDaemons, then each console user's agents."""
    load_directory(mgr, mgr.system, mgr.cfg.root / "boot")
    load_directory(mgr, mgr.system, mgr.cfg.library / "LaunchDaemons")
    for uid in mgr.cfg.console_uids:
        login(mgr, uid)


def login(mgr: Manager, uid: int) -> bool:
    """GUI login: gui/<uid> appears and gets both LaunchAgents directories (FACTS 1.2, 1.4)."""
    if uid in mgr.guis:
        return True
    account = mgr.accounts.by_uid(uid)
    if account is None:
        log.warning("console login for unknown uid %d refused", uid)
        return False
    domain = Domain("gui", uid, asid=mgr.next_asid())
    mgr.guis[uid] = domain
    log.info("gui/%d: console login (asid %d)", uid, domain.asid)
    load_directory(mgr, domain, mgr.cfg.library / "LaunchAgents")
    load_directory(mgr, domain, Path(account.home) / "Library" / "LaunchAgents")
    return True


def logout(mgr: Manager, uid: int) -> None:
    """The gui domain is torn down at logout and its agents die with it (FACTS 1.4)."""
    domain = mgr.guis.pop(uid, None)
    if domain is None:
        return
    log.info("gui/%d: console logout", uid)
    for job in list(domain.jobs.values()):
        mgr.remove(job)
