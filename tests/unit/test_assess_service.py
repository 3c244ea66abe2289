"""Audit's pure judgement (svcctl.assess.service) over real launchctl output.

The launchctl texts are real captures (../shared/launchd/captures, SOURCES.md there): the
nix-daemon running in `system` (pid 383) and a `gui/501` listing with
net.jwpconsulting.postgresql at pid 887. The ps rows beside them are written in BSD ps's
layout (FACTS 5.2) for those pids. What each case expects was worked out by hand from the
captures and the verdict rules (README, `svcctl audit --help`).
"""

from __future__ import annotations

import json
from dataclasses import replace

from svcctl.assess.exits import Output
from svcctl.assess.service import (
    ProbeOutputs,
    ServiceOutputs,
    assess_host,
    read_foreign,
    read_job,
)
from svcctl.model import (
    Domain,
    DomainKind,
    FenceRecord,
    Finding,
    HostSpec,
    ServiceSpec,
    Verdict,
)
from svcctl.ops.audit import plan_probe
from tests.unit.captures import capture

NIX_LABEL = "org.nixos.nix-daemon"
NIX_BIN = "/nix/store/65ghpdw6n9vawhzx8bzqym2zmzrz4dmc-nix-2.34.7+1/bin/nix-daemon"
NIX_PRINT = capture("print_service/nix_daemon_system_running_macos26_6_2.txt")
NIX = ServiceSpec("nix-daemon", NIX_LABEL, ("builder",),
                  ("/bin/sh", "-c", f"/bin/wait4path /nix/store && exec {NIX_BIN}"),
                  keep_alive=True, runs=(NIX_BIN,))  # the sh execs the daemon: pid 383 runs it
SYSTEM = Domain(DomainKind.SYSTEM)
BUILDER = HostSpec("builder", SYSTEM)
DAEMON_PLIST = f"/Library/LaunchDaemons/{NIX_LABEL}.plist"

PG_LABEL = "net.jwpconsulting.postgresql"
PG_BIN = "/opt/homebrew/opt/postgresql@16/bin/postgres"
GUI_LISTING = capture("print_domain/fish_gui501_elided.txt")
PG = ServiceSpec("postgresql", PG_LABEL, ("mini",),
                 (PG_BIN, "-D", "/opt/homebrew/var/postgresql@16"), keep_alive=True)
MINI = HostSpec("mini", Domain(DomainKind.USER, 501), home="/Users/ops")

LAUNCHD_ROW = "    1     0     0 root              1 Mon Jun  2 08:01:12 2025     /sbin/launchd"
NIX_ROW = f"  383     1     0 root            383 Mon Jun  2 08:01:15 2025     {NIX_BIN}"
NIX_STRAY = f" 9120  9100     0 root           9100 Tue Jun  3 10:00:00 2025     {NIX_BIN}"
PG_ROW = (f"  887     1   501 ops             887 Mon Jun  2 08:02:00 2025     "
          f"{PG_BIN} -D /opt/homebrew/var/postgresql@16")
NOT_LOADED: Output = (113, "", "Could not find service \"x\" in domain for port\n")


def ps(*rows: str) -> Output:
    """The probe's ps output: the rows, then its (here empty) cwd and real-path parts."""
    return 0, "\n".join([LAUNCHD_ROW, *rows]) + "\n--- cwd\n--- real\n", ""


def nix(job: Output = (0, NIX_PRINT, ""), places: str = "", guard: str | None = None,
        table: Output | None = None) -> ProbeOutputs:
    mine = ServiceOutputs(job, places, guard)
    return ProbeOutputs(table or ps(NIX_ROW), {}, {"nix-daemon": mine})


def one(spec: HostSpec, svc: ServiceSpec, outputs: ProbeOutputs) -> Finding:
    [finding] = assess_host(spec, [svc], outputs)
    return finding


def test_launchd_running_its_own_instance_is_ok() -> None:
    f = one(BUILDER, NIX, nix())
    assert f.verdict is Verdict.OK, f.detail
    assert f.job is not None and f.job.pid == 383
    [inst] = f.instances
    assert (inst.proc.pid, inst.managed, inst.owner) == (383, True, f"system/{NIX_LABEL}")
    # a KeepAlive daemon in `system` comes back after a reboot; nothing else is loaded
    assert (f.reboot, f.elsewhere, f.plists, f.fence) == (None, (), (), None)


def test_a_second_copy_beside_launchds_is_a_duplicate() -> None:
    f = one(BUILDER, NIX, nix(table=ps(NIX_ROW, NIX_STRAY)))
    assert f.verdict is Verdict.DUPLICATE
    assert sorted((i.proc.pid, i.managed) for i in f.instances) == [(383, True), (9120, False)]


def test_its_own_plist_on_the_assigned_host_is_no_second_copy() -> None:
    f = one(BUILDER, NIX, nix(places=f"plist {DAEMON_PLIST}\n"))
    assert (f.verdict, f.plists) == (Verdict.OK, (DAEMON_PLIST,))


def test_a_host_it_is_not_assigned_to_with_its_plist_is_unfenced_and_with_a_record_fenced(
) -> None:
    other = HostSpec("spare", SYSTEM)
    f = one(other, NIX, nix(job=NOT_LOADED, table=ps(), places=f"plist {DAEMON_PLIST}\n"))
    assert f.verdict is Verdict.UNFENCED
    assert f.detail.startswith("not assigned to spare, but installed: ")
    assert f.hint == "svcctl fence nix-daemon --host spare"
    record = FenceRecord("nix-daemon", NIX_LABEL, "spare", "ann@ci", "2026-12-01T10:00:00Z",
                         "moved to builder", ((DAEMON_PLIST, DAEMON_PLIST + ".fenced"),))
    f = one(other, NIX, nix(job=NOT_LOADED, table=ps(), places="fence\n" + record.dumps()))
    assert (f.verdict, f.fence) == (Verdict.FENCED, record)
    f = one(other, NIX, nix(job=NOT_LOADED, table=ps()))
    assert (f.verdict, f.detail) == (Verdict.OK, "not assigned here, and not running")


def test_launchctl_failures_leave_the_service_uninspectable() -> None:
    f = one(BUILDER, NIX, nix(job=(127, "", "sh: launchctl: command not found\n")))
    assert f.verdict is Verdict.UNINSPECTABLE
    assert f.detail == "launchctl not found on builder: it is not a macOS host"
    assert f.hint is not None and "inventory hostname or ssh_config" in f.hint
    f = one(BUILDER, NIX, nix(job=(5, "", "Input/output error\n")))
    assert (f.verdict, f.detail) == (
        Verdict.UNINSPECTABLE, f"launchctl print system/{NIX_LABEL} exited 5: Input/output error")
    assert f.hint == f"on builder, `launchctl print system/{NIX_LABEL}` shows the error"
    f = one(BUILDER, NIX, nix(job=(0, "Bad request.\n", "")))
    assert f.verdict is Verdict.UNINSPECTABLE
    assert f.detail.startswith(f"cannot read launchctl print system/{NIX_LABEL}: ")


def test_ps_that_fails_or_cannot_be_read_leaves_every_service_uninspectable() -> None:
    outputs = ProbeOutputs((1, "", "ps: sysctl: Operation not permitted\n"), {}, {})
    findings = assess_host(BUILDER, [NIX, PG], outputs)
    assert [(f.service, f.verdict) for f in findings] == [
        ("nix-daemon", Verdict.UNINSPECTABLE), ("postgresql", Verdict.UNINSPECTABLE)]
    assert findings[0].detail == "ps failed (1): ps: sysctl: Operation not permitted"
    [f] = assess_host(BUILDER, [NIX], ProbeOutputs((0, "PID TT STAT\n", ""), {}, {}))
    assert f.detail.startswith("ps output unreadable: ps line 1: unexpected row")


def test_the_label_loaded_in_gui_beside_the_hosts_own_domain() -> None:
    """The real gui/501 listing holds the label at pid 887; the host's domain is user/501."""
    def outputs(table: Output) -> ProbeOutputs:
        return ProbeOutputs(table, {"gui/501": (0, GUI_LISTING, ""), "system": NOT_LOADED},
                            {"postgresql": ServiceOutputs(NOT_LOADED, "")})

    f = one(MINI, PG, outputs(ps(PG_ROW)))
    assert f.elsewhere == (f"gui/501/{PG_LABEL}",)
    [inst] = f.instances
    assert (inst.proc.pid, inst.owner, inst.managed) == (887, f"gui/501/{PG_LABEL}", False)
    assert f.verdict is Verdict.STRAY  # runs, but not as the job in user/501
    # idle there, nothing running: still a duplicate waiting to happen (FACTS 1.4)
    f = one(MINI, PG, outputs(ps()))
    assert f.verdict is Verdict.DUPLICATE
    assert f.detail.startswith(f"also loaded in gui/501/{PG_LABEL}, idle or not; ")
    # on a host it is not assigned to, launchd's own job: a fence takes it out for good
    f = one(HostSpec("spare", MINI.domain, home="/Users/ops"), PG, outputs(ps(PG_ROW)))
    assert (f.verdict, f.hint) == (Verdict.UNEXPECTED, "svcctl fence postgresql --host spare")


def test_a_user_domain_agent_notes_that_a_reboot_does_not_bring_it_back() -> None:
    f = one(MINI, PG, ProbeOutputs(ps(), {}, {"postgresql": ServiceOutputs(NOT_LOADED, "")}))
    assert f.reboot is not None and "domain: system" in f.reboot


def test_read_job_and_read_foreign_on_their_own() -> None:
    assert read_job("builder", f"system/{NIX_LABEL}", NOT_LOADED) is None
    job = read_job("builder", f"system/{NIX_LABEL}", (0, NIX_PRINT, ""))
    assert job is not None and (job.pid, job.program) == (383, "/bin/sh")
    listings = {"gui/501": (0, GUI_LISTING, ""), "user/501": (112, "", "no such domain\n")}
    [(target, found)] = read_foreign("mini", PG_LABEL, listings).items()
    assert (target, found.pid, found.domain_raw) == (f"gui/501/{PG_LABEL}", 887, "gui/501")
    assert read_foreign("mini", "com.example.absent", listings) == {}


def test_the_guard_record_names_a_holder_the_table_already_counts() -> None:
    guarded = replace(NIX, guard=True)
    record = {"pid": 383, "started": 1748851275.0, "command": [NIX_BIN, "--daemon"],
              "host": "builder", "since": "2025-06-02T08:01:15Z"}
    f = one(BUILDER, guarded, nix(guard=json.dumps(record)))
    assert f.verdict is Verdict.OK
    assert f.detail.startswith(
        f"guard lock held by pid 383 since 2025-06-02T08:01:15Z ({NIX_BIN} --daemon); ")
    # a pid the table does not call an instance, or no record at all: nothing is said
    plain = one(BUILDER, guarded, nix()).detail
    for text in (json.dumps({**record, "pid": 4242}), "", "{"):
        assert one(BUILDER, guarded, nix(guard=text)).detail == plain


def test_the_plan_sorts_the_batchs_outputs_by_what_each_command_asked() -> None:
    """ops.audit's probe plan hands the assessment each output under its own name."""
    guarded = replace(PG, guard=True)
    plan = plan_probe(MINI, [guarded, NIX])
    results: list[Output] = []
    for i, argv in enumerate(plan.commands):
        lock = argv[-1].endswith(".lock")
        results.append((1 if lock and "svcctl-deploy" in argv[-1] else 0, f"out {i}",
                        " ".join(argv[:3]) if argv[0] == "launchctl" else ""))
    got = plan.outputs(results)
    assert got.ps == results[-1]
    assert {t: err for t, (_, _, err) in got.listings.items()} == {
        "gui/501": "launchctl print gui/501", "system": "launchctl print system"}
    pg, nx = got.services["postgresql"], got.services["nix-daemon"]
    assert pg.job[2] == f"launchctl print user/501/{PG_LABEL}"
    assert nx.job[2] == f"launchctl print user/501/{NIX_LABEL}"
    assert pg.guard is not None and nx.guard is None  # only a guarded service's record
    places_at = [i for i, argv in enumerate(plan.commands) if argv[-1].endswith(".plist")]
    assert (pg.places, nx.places) == tuple(f"out {i}" for i in places_at)
