"""Every real capture in ../shared/launchd/captures, parsed, with what it says written out.

The expectations were read off each capture's text by eye (SOURCES.md there names where
each one comes from); none was produced by running a parser. `test_every_capture_is_covered`
fails when a capture is added without a case here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from svcctl.errors import ParseError
from svcctl.launchd import (
    parse_list,
    parse_list_label,
    parse_print,
    parse_print_disabled,
    parse_print_domain,
)
from svcctl.model import Domain, DomainKind, JobState, ListEntry, ServiceSpec, Verdict
from svcctl.procs import classify_service, is_crashlooping, parse_ps
from tests.unit.captures import capture, capture_names

SYSTEM = Domain(DomainKind.SYSTEM)
GUI501 = Domain(DomainKind.GUI, 501)

# --- launchctl print <service-target> (FACTS 3.3) ----------------------------------------

PRINT_SERVICE: dict[str, JobState] = {
    "print_service/brightlantern_smappservice_spawn_scheduled_trimmed.txt": JobState(
        label="org.billmill.brightlantern", source="print", domain=GUI501,
        state="spawn scheduled", path="(submitted by smd.416)", job_type="Submitted",
    ),  # SMAppService: `program identifier`, no `program =` line
    "print_service/clipulse_spawn_scheduled_exconfig_runs22138.txt": JobState(
        label="yyh.CLI-Pulse.helper.agent", source="print", domain=GUI501,
        domain_raw="gui/501 [100015]", state="spawn scheduled", runs=22138,
        last_exit_code=78, last_exit_raw="78: EX_CONFIG", path="(submitted by smd.553)",
        job_type="Submitted", arguments=("cli_pulse_helper", "daemon", "--interval", "120"),
        minimum_runtime=30, exit_timeout=5, asid=100015,
    ),  # no environment block; no `successive crashes` at 22138 runs; coalitions' `state`
    "print_service/motherboard_backup_gui_running_sigterm_noexitline.txt": JobState(
        label="com.motherboard.disaster.backup", source="print", domain=GUI501,
        domain_raw="gui/501 [100003]", pid=4669, state="running", runs=2, last_signal=15,
        path="/Users/marcela-dev/Library/LaunchAgents/com.motherboard.disaster.backup.plist",
        job_type="LaunchAgent", program="/bin/bash",
        arguments=("/bin/bash", "/Users/marcela-dev/Projects/motherboard-systems-hq-clean/"
                   "scripts/disaster-recovery/create-phase736-external-backup.sh"),
        environment={"XPC_SERVICE_NAME": "com.motherboard.disaster.backup"},
        stdout_path="/Users/marcela-dev/Projects/motherboard-systems-hq-clean/logs/"
                    "disaster-backup.out.log",
        stderr_path="/Users/marcela-dev/Projects/motherboard-systems-hq-clean/logs/"
                    "disaster-backup.err.log",
        minimum_runtime=10, exit_timeout=5, properties=("runatload", "inferred program"),
        asid=100003,
    ),  # running; its last run ended by SIGTERM: no `last exit code` line at all
    "print_service/nix_daemon_system_running_macos26_6_2.txt": JobState(
        label="org.nixos.nix-daemon", source="print", domain=SYSTEM, domain_raw="system",
        pid=383, state="running", runs=1, last_exit_raw="(never exited)",
        path="/Library/LaunchDaemons/org.nixos.nix-daemon.plist", job_type="LaunchDaemon",
        program="/bin/sh",
        arguments=("/bin/sh", "-c", "/bin/wait4path /nix/store && exec /nix/store/"
                   "65ghpdw6n9vawhzx8bzqym2zmzrz4dmc-nix-2.34.7+1/bin/nix-daemon"),
        environment={"OSLogRateLimit": "64", "OBJC_DISABLE_INITIALIZE_FORK_SAFETY": "YES",
                     "NIX_SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
                     "XPC_SERVICE_NAME": "org.nixos.nix-daemon"},
        minimum_runtime=10, exit_timeout=5,
        properties=("keepalive", "inferred program", "managed LWCR", "has LWCR"),
    ),
    "print_service/sglavoie_brew_maintain_runs0_uninitialized_macos27.txt": JobState(
        label="com.sglavoie.brew-maintain", source="print", domain=GUI501,
        domain_raw="gui/501 [100020]", state="not running", runs=0,
        last_exit_raw="(never exited)",
        path="/Users/sglavoie/scripts/launchagents/Library/LaunchAgents/"
             "com.sglavoie.brew-maintain.plist",
        job_type="LaunchAgent", program="/Users/sglavoie/.local/bin/brew-maintain.sh",
        arguments=("/Users/sglavoie/.local/bin/brew-maintain.sh",),
        environment={"OSLogRateLimit": "64", "XPC_SERVICE_NAME": "com.sglavoie.brew-maintain"},
        stdout_path="/Users/sglavoie/Library/Logs/brew-maintain.log",
        stderr_path="/Users/sglavoie/Library/Logs/brew-maintain.log",
        minimum_runtime=10, exit_timeout=5,
        properties=("inferred program", "needs LWCR update", "managed LWCR"), asid=100020,
    ),  # `job state = uninitialized`: never ran
    "print_service/sglavoie_sync_legacy_notrunning_exit1_macos27.txt": JobState(
        label="com.sglavoie.sync-legacy", source="print", domain=GUI501,
        domain_raw="gui/501 [100020]", state="not running", runs=4, last_exit_code=1,
        last_exit_raw="1",
        path="/Users/sglavoie/scripts/launchagents/Library/LaunchAgents/"
             "com.sglavoie.sync-legacy.plist",
        job_type="LaunchAgent", program="/Users/sglavoie/.local/bin/sync-legacy.sh",
        arguments=("/Users/sglavoie/.local/bin/sync-legacy.sh",),
        environment={"OSLogRateLimit": "64", "XPC_SERVICE_NAME": "com.sglavoie.sync-legacy"},
        stdout_path="/Users/sglavoie/Library/Logs/sync-legacy.log",
        stderr_path="/Users/sglavoie/Library/Logs/sync-legacy.log",
        minimum_runtime=30, exit_timeout=5, properties=("inferred program", "managed LWCR"),
        asid=100020,
    ),  # WatchPaths `[ ... ]` array nested in event triggers
    "print_service/vhid_holding_system_running_macos26.txt": JobState(
        label="ai.promptctl.vhid.vhidd.dev", source="print", domain=SYSTEM,
        domain_raw="system", pid=573, state="running", runs=1,
        last_exit_raw="(never exited)",
        path="/Library/LaunchDaemons/ai.promptctl.vhid.vhidd.dev.plist",
        job_type="LaunchDaemon",
        program="/Users/someone/code/vhid/.build/arm64-apple-macosx/debug/vhidd",
        arguments=("/Users/someone/code/vhid/.build/arm64-apple-macosx/debug/vhidd",
                   "--service", "ai.promptctl.vhid.vhidd.dev"),
        environment={"OSLogRateLimit": "64", "XPC_SERVICE_NAME": "ai.promptctl.vhid.vhidd.dev"},
        minimum_runtime=10, exit_timeout=5,
        properties=("inferred program", "system service", "managed LWCR", "has LWCR",
                    "tle system"),
    ),
    "print_service/vhid_lost_system_notrunning_runs0_macos26.txt": JobState(
        label="ai.promptctl.vhid.doctor-fixture", source="print", domain=SYSTEM,
        domain_raw="system", state="not running", runs=0, last_exit_raw="(never exited)",
        path="/private/tmp/ai.promptctl.vhid.doctor-fixture.plist", job_type="LaunchDaemon",
        program="/bin/sleep", arguments=("/bin/sleep", "600"),
        environment={"OSLogRateLimit": "64",
                     "XPC_SERVICE_NAME": "ai.promptctl.vhid.doctor-fixture"},
        minimum_runtime=10, exit_timeout=5,
        properties=("inferred program", "system service", "tle system"),
    ),
}


@pytest.mark.parametrize("name", sorted(PRINT_SERVICE), ids=lambda n: n.split("/")[1])
def test_print_service_capture(name: str) -> None:
    assert parse_print(capture(name)) == PRINT_SERVICE[name]


# --- launchctl print <domain-target> (FACTS 2.7) -----------------------------------------

PRINT_DOMAIN: dict[str, list[ListEntry]] = {
    "print_domain/fish_gui501_elided.txt": [
        ListEntry("net.jwpconsulting.postgresql", 887, None, "-"),
        ListEntry("com.apple.syncdefaultsd", 866, None, "-"),
    ],  # the author's `[…]` elisions sit in other blocks
    "print_domain/guest_user2001_empty_after_bootout_macos26_6_2.txt": [],
}


@pytest.mark.parametrize("name", sorted(PRINT_DOMAIN), ids=lambda n: n.split("/")[1])
def test_print_domain_capture(name: str) -> None:
    assert parse_print_domain(capture(name)) == PRINT_DOMAIN[name]
    assert parse_print_domain(capture(name), "net.jwpconsulting.postgresql") == PRINT_DOMAIN[name]


def _with_services_row(name: str, row: str) -> str:
    """The capture with one more row in its `services = {` block."""
    text = capture(name)
    head = "\tservices = {\n"
    assert head in text
    return text.replace(head, head + row + "\n", 1)


def test_an_unrecognised_domain_row_is_tolerated_only_when_it_cannot_be_the_label() -> None:
    name = "print_domain/fish_gui501_elided.txt"
    text = _with_services_row(name, "\t\t  ???  \tcom.example.other.agent")
    with pytest.raises(ParseError):
        parse_print_domain(text)  # no label given: the unknown row may be the one wanted
    assert parse_print_domain(text, "net.jwpconsulting.postgresql") == PRINT_DOMAIN[name]
    for label in ("com.example.other.agent", "com.example.other"):  # it may be that label's
        with pytest.raises(ParseError):
            parse_print_domain(text, label)


# --- launchctl print-disabled (FACTS 2.6) ------------------------------------------------

PRINT_DISABLED = {
    "print_disabled/ninehills_user501_monterey_truefalse.txt": {
        # before Ventura `true` meant disabled
        "com.docker.helper": False,
        "com.apple.ManagedClientAgent.enrollagent": True,
        "at.obdev.littlesnitch.agent": False,
        "5A4RE8SF68.com.tencent.xinWeChat.IPCHelper": True,
        "com.citrix.ServiceRecords": True,
        "com.apple.Siri.agent": True,
        "com.microsoft.update.agent": False,
        "io.tailscale.ipn.macos.login-item-helper": True,
        "com.cisco.anyconnect.notification": True,
        "com.citrix.ReceiverHelper": True,
        "com.apple.FolderActionsDispatcher": False,
        "com.oray.sunlogin.desktopagent": True,
        "com.citrix.AuthManager_Mac": True,
        "com.apple.appleseed.seedusaged.postinstall": True,
        "com.apple.ScriptMenuApp": True,
    },  # the `login item associations` block after it is not about disabling
}


@pytest.mark.parametrize("name", sorted(PRINT_DISABLED), ids=lambda n: n.split("/")[1])
def test_print_disabled_capture(name: str) -> None:
    assert parse_print_disabled(capture(name)) == PRINT_DISABLED[name]


# --- launchctl list (FACTS 3.1) ----------------------------------------------------------

LIST: dict[str, list[tuple[int | None, int | None, str]]] = {
    "list/homebrew_services_61_grep_2016.txt": [  # `| grep home`: no header
        (805, 0, "homebrew.mxcl.elasticsearch"),
        (810, 0, "homebrew.mxcl.kibana"),
        (817, 0, "homebrew.mxcl.kafka"),
        (824, 0, "homebrew.mxcl.zookeeper"),
        (None, 78, "homebrew.mxcl.postgresql"),
        (807, 0, "homebrew.mxcl.redis"),
    ],
    "list/lunchy_go_7_elcapitan_truncated.txt": [
        (None, 0, "com.apple.CoreAuthentication.daemon"),
        (None, 0, "com.apple.quicklook"),
        (None, 0, "com.apple.parentalcontrols.check"),
        (279, 0, "com.apple.Finder"),
        (None, 0, "com.apple.PackageKit.InstallStatus"),
        (None, 0, "com.apple.FontWorker"),
        (324, 0, "com.apple.bird"),
        (None, 0, "com.apple.familycontrols.useragent"),
        (None, 0, "com.apple.aos.migrate"),
        (None, 0, "com.apple.universalaccessAuthWarn"),
        (356, 0, "com.apple.nsurlsessiond"),
        (None, 0, "com.apple.syncservices.uihandler"),
        (304, 0, "com.apple.iconservices.iconservicesagent"),
        (None, 0, "com.apple.ManagedClientAgent.agent"),
        (None, 0, "com.apple.screensharing.agent"),
        (None, 0, "com.apple.TMHelperAgent.SetupOffer"),
        (None, 0, "com.apple.AddressBook.SourceSync"),
        (None, 0, "com.apple.familynotificationd"),
        (377, 0, "com.apple.photolibraryd"),
        (None, 0, "com.apple.cfnetwork.cfnetworkagent"),
        (None, 0, "com.apple.xpc.otherbsd"),
        (None, 0, "com.apple.bluetoothUIServer"),
        (None, 0, "com.apple.assistant_service"),
        (None, 0, "com.apple.MRTa"),
        (354, 0, "com.apple.CommCenter"),
        (None, 0, "com.apple.trustd.agent"),
        (None, 0, "com.apple.MailServiceAgent"),
        (None, 0, "com.apple.appkit.xpc.sandboxedServiceRunner"),
        (None, 0, "com.apple.mdworker.mail"),
        (399, 0, "com.apple.mdworker.shared.04000000-0000-0000-0000-000000000000"),
        (375, 0, "com.apple.DataDetectorsDynamicData"),
        (273, 0, "com.apple.cfprefsd.xpc.agent"),
        (None, 0, "com.apple.unmountassistant.useragent"),
        (None, 0, "com.apple.java.InstallOnDemand"),
    ],
}


@pytest.mark.parametrize("name", sorted(LIST), ids=lambda n: n.split("/")[1])
def test_list_capture(name: str) -> None:
    rows = parse_list(capture(name))
    assert [(r.pid, r.status, r.label) for r in rows] == LIST[name]
    assert all(r.status_raw == str(r.status) for r in rows)


def test_an_unrecognised_list_row_is_tolerated_only_when_it_cannot_be_the_label() -> None:
    name = "list/homebrew_services_61_grep_2016.txt"
    text = capture(name) + "warning: homebrew.mxcl.mysql could not be read\n"
    with pytest.raises(ParseError):
        parse_list(text)
    rows = parse_list(text, "homebrew.mxcl.redis")
    assert [(r.pid, r.status, r.label) for r in rows] == LIST[name]
    with pytest.raises(ParseError):
        parse_list(text, "homebrew.mxcl.mysql")


# --- launchctl list <label> (FACTS 3.2) --------------------------------------------------

LIST_LABEL = {
    "list_label/homebrew_services_601_node_exporter.txt": JobState(
        label="homebrew.mxcl.node_exporter", source="list", pid=40425, last_exit_code=0,
        last_exit_raw="0",
        program="/usr/local/opt/node_exporter/bin/node_exporter_brew_services",
        arguments=("/usr/local/opt/node_exporter/bin/node_exporter_brew_services",),
        on_demand=True, stdout_path="/usr/local/var/log/node_exporter.log",
        stderr_path="/usr/local/var/log/node_exporter.err.log",
    ),
}


@pytest.mark.parametrize("name", sorted(LIST_LABEL), ids=lambda n: n.split("/")[1])
def test_list_label_capture(name: str) -> None:
    assert parse_list_label(capture(name)) == LIST_LABEL[name]


# --- ps (FACTS 5.2) ----------------------------------------------------------------------

PS = {
    "ps/macos26_5_2_ps_eo_pid_ppid_lstart_comm.txt": [
        (1, 0, "Wed Aug 26 02:46:32 2026", datetime(2026, 8, 26, 2, 46, 32), "/sbin/launchd"),
        (86, 1, "Wed Aug 26 02:46:35 2026", datetime(2026, 8, 26, 2, 46, 35),
         "/usr/libexec/logd"),
        (87, 1, "Wed Aug 26 02:46:35 2026", datetime(2026, 8, 26, 2, 46, 35),
         "/usr/libexec/smd"),
    ],
}


@pytest.mark.parametrize("name", sorted(PS), ids=lambda n: n.split("/")[1])
def test_ps_capture(name: str) -> None:
    header, *rows = capture(name).splitlines()
    # the STARTED column is 28 wide plus the separator: adv_cmds' LJUST lstart
    assert header.index("COMM") - header.index("STARTED") == 29
    # svcctl asks for uid, user and pgid as well: put them before the captured lstart,
    # keeping the date, its padding and the command exactly as the Mac printed them
    start = header.index("STARTED")
    text = "".join(f"{row[:start]}    0 root         1 {row[start:]}\n" for row in rows)
    got = [(p.pid, p.ppid, p.started_raw, p.started, p.command) for p in parse_ps(text)]
    assert got == PS[name]


def test_every_capture_is_covered() -> None:
    covered = {*PRINT_SERVICE, *PRINT_DOMAIN, *PRINT_DISABLED, *LIST, *LIST_LABEL, *PS}
    assert capture_names() - {"SOURCES.md"} == covered


# --- what the captures mean for the verdicts (FACTS 3.3 corrections) ---------------------

SPEC = ServiceSpec(name="helper", label="yyh.CLI-Pulse.helper.agent", hosts=("mac",),
                   program=("/Applications/CLI Pulse.app/Contents/Helpers/cli_pulse_helper",))


def _verdict(job: JobState) -> Verdict:
    return classify_service(SPEC, "mac", "gui/501/yyh.CLI-Pulse.helper.agent", job, [],
                            assigned=True).verdict


def test_crash_loop_without_successive_crashes() -> None:
    clipulse = PRINT_SERVICE["print_service/clipulse_spawn_scheduled_exconfig_runs22138.txt"]
    assert is_crashlooping(clipulse)
    assert _verdict(clipulse) is Verdict.CRASHLOOP


@pytest.mark.parametrize("name", sorted(PRINT_SERVICE), ids=lambda n: n.split("/")[1])
@pytest.mark.parametrize("crashes", [0, 1, 22138])
def test_successive_crashes_never_decide_a_crash_loop(name: str, crashes: int) -> None:
    job = replace(PRINT_SERVICE[name], successive_crashes=crashes)
    assert is_crashlooping(job) is (job.state == "spawn scheduled")


@pytest.mark.parametrize("state", ["xpcproxy", "spawning", "SIGTERMed", "some new state"])
def test_a_pid_in_any_state_but_running_is_not_ok(state: str) -> None:
    nix = PRINT_SERVICE["print_service/nix_daemon_system_running_macos26_6_2.txt"]
    spec = ServiceSpec(name="nix", label=nix.label, hosts=("mac",),
                       program=("/bin/sh", "-c", nix.arguments[2]))
    row = ("  383     1     0 root       383 Wed Aug 26 02:46:35 2026     /bin/sh -c "
           + nix.arguments[2] + "\n")
    procs = parse_ps(row)

    def verdict(job: JobState) -> Verdict:
        return classify_service(spec, "mac", "system/org.nixos.nix-daemon", job, procs,
                                assigned=True).verdict

    assert verdict(nix) is Verdict.OK
    assert verdict(replace(nix, state=state)) is Verdict.DOWN
