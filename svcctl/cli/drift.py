"""`svcctl render` and `svcctl diff`: what svcctl would install, and where hosts drift from it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from svcctl.cli import common
from svcctl.errors import BadInputError

if TYPE_CHECKING:
    from svcctl.assess.drift import DiffReport, HostDiff
    from svcctl.model import Inventory, ServiceSpec

DIFF_SCHEMA = "svcctl.diff/1"

RENDER_HELP = """Print the plist svcctl would upload for SERVICE on a host, byte for byte.

The host (default: the service's first host) decides the domain, hence the template
(LaunchAgent or LaunchDaemon). For a service with a `release:`, the plist names one
concrete release, `<root>/releases/<id>`, wherever the inventory says `{{ release }}`:
--release ID, by default the id a deploy of its source would get (the source's git commit,
plus -dirty, or a .tar.gz's sha256, shortened).

Exit codes: 0 printed; 2 bad input (unknown service or host, template error, a release
source that cannot be read, --release for a service without a release).

Example: svcctl render shiva --host tesseract | plutil -lint -
"""

DIFF_HELP = """Compare the rendered plist, the installed file and the job launchd has loaded.

For each host (default: the service's hosts) one SSH round trip reads the file at its
LaunchAgents/LaunchDaemons path and `launchctl print <domain>/<label>`. Every key where
any two of the three disagree is listed: a fixed file that was never re-bootstrapped
shows as installed/loaded drift, since launchd keeps its own copy. For a service with a
`release:`, the rendered side names one concrete release: --release ID, by default the id
its source gives (what a deploy would ship).

Exit codes: 0 no drift; 1 drift (including not installed, not loaded, unreachable);
2 bad input.

Example: svcctl diff shiva --host tesseract --json
"""


def _service(inv: Inventory, name: str) -> ServiceSpec:
    return inv.services[common.pick_services(inv, [name])[0]]


def _concrete(spec: ServiceSpec, given: str | None) -> ServiceSpec:
    """The service bound to release `given`, or to its source's id; as it is without one."""
    from svcctl.release.concrete import for_release
    from svcctl.release.manifest import check_id

    if spec.release is None:
        if given is not None:
            raise BadInputError(f"service {spec.name!r} has no release: in the inventory; "
                                "--release is for one that has")
        return spec
    if given is not None:
        return for_release(spec, check_id(given))
    from svcctl.release.source import open_source, release_id

    with open_source(Path(spec.release.source)) as source:
        return for_release(spec, release_id(source, None))


def register(app: typer.Typer) -> None:
    @app.command(help=RENDER_HELP)
    def render(
        service: str = typer.Argument(..., help="Service name from the inventory."),
        host: str | None = typer.Option(
            None, "--host", "-H", help="Render for this host [default: the service's first]."),
        release: str | None = typer.Option(
            None, "--release", metavar="ID",
            help="For a service with a release: name this one [default: its source's id]."),
        inventory: Path | None = common.InventoryOption,
    ) -> None:
        from svcctl.render import render_plist

        inv = common.load(inventory)
        spec = _concrete(_service(inv, service), release)
        if host is None and not spec.hosts:
            raise BadInputError(f"service {service!r} has no hosts; pass --host")
        name = common.pick_hosts(inv, [host or spec.hosts[0]])[0]
        host_spec = inv.hosts[name]
        data = render_plist(spec, host_spec.domain, inv.templates_dir, home=host_spec.home).data
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    @app.command(help=DIFF_HELP)
    def diff(
        service: str = typer.Argument(..., help="Service name from the inventory."),
        host: list[str] = common.HostOption,
        as_json: bool = common.JsonOption,
        release: str | None = typer.Option(
            None, "--release", metavar="ID",
            help="For a service with a release: render this one [default: its source's id, "
            "what a deploy would ship]."),
        inventory: Path | None = common.InventoryOption,
        accept_new_host_key: bool = common.AcceptNewOption,
    ) -> None:
        from svcctl.ops.diff import run_diff

        inv = common.load(inventory)
        # a release service renders for one concrete release, as deploy would (never the
        # `{{ release }}` token, which no installed file ever holds)
        spec = _concrete(_service(inv, service), release)
        hosts = common.pick_hosts(inv, host or list(spec.hosts))
        if not hosts:
            raise BadInputError(f"service {service!r} has no hosts; pass --host")
        report = run_diff(common.run_context(inv, accept_new_host_key), spec, hosts)
        typer.echo(diff_json(report) if as_json else diff_text(report))
        raise typer.Exit(0 if report.ok else 1)


# -- rendering the report ---------------------------------------------------------------


def _loaded_state(h: HostDiff) -> str:
    if h.loaded_detail:
        return f"UNREADABLE ({h.loaded_detail})"
    if h.loaded is None:
        return f"NOT LOADED in {h.domain}"
    pid = f", pid {h.loaded.pid}" if h.loaded.pid is not None else ""
    return f"loaded in {h.domain} (state {h.loaded.state or '?'}{pid})"


def _installed_state(h: HostDiff) -> str:
    if h.installed == "missing":
        return "MISSING (not installed)"
    if h.installed == "unreadable":
        return f"UNREADABLE ({h.installed_detail})"
    return "present"


def _cell(value: Any) -> str:
    from svcctl.assess.drift import UNKNOWN

    if value is UNKNOWN:
        return "?"
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _host_text(h: HostDiff) -> list[str]:
    out = [f"== {h.host}  {h.path}"]
    if not h.reachable:
        return [*out, f"  UNREACHABLE: {h.error}"]
    out.append(f"  installed: {_installed_state(h)}")
    out.append(f"  loaded:    {_loaded_state(h)}")
    table = [("KEY", "RENDERED", "INSTALLED", "LOADED", "DIFFER")]
    table += [(r.key, _cell(r.rendered), _cell(r.installed), _cell(r.loaded),
               ", ".join(r.differ)) for r in h.rows]
    if h.rows:
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
            out.append("  " + "  ".join([*cells, row[4]]).rstrip())
    elif h.installed == "present" and h.loaded is not None:
        out.append("  no drift: installed and loaded both match the render")
    return out


def diff_text(report: DiffReport) -> str:
    lines: list[str] = []
    for h in report.hosts:
        lines += [*_host_text(h), ""]
    drifting = sum(1 for h in report.hosts if h.drift)
    verdict = "no drift" if report.ok else f"drift on {drifting} of {len(report.hosts)} host(s)"
    lines.append(f"diff {report.service} ({report.label}): {verdict}")
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    from svcctl.assess.drift import UNKNOWN

    return None if value is UNKNOWN else value


def diff_json(report: DiffReport) -> str:
    from svcctl.assess.drift import UNKNOWN

    doc = {
        "schema": DIFF_SCHEMA,
        "ok": report.ok,
        "service": report.service,
        "label": report.label,
        "hosts": [
            {
                "host": h.host,
                "reachable": h.reachable,
                "error": h.error,
                "domain": h.domain,
                "path": h.path,
                "drift": h.drift,
                "installed": h.installed,
                "installed_detail": h.installed_detail,
                "loaded": h.loaded is not None,
                "loaded_pid": h.loaded.pid if h.loaded else None,
                "loaded_state": h.loaded.state if h.loaded else None,
                "loaded_detail": h.loaded_detail,
                "differences": [
                    {
                        "key": r.key,
                        "rendered": r.rendered,
                        "installed": r.installed,
                        "loaded": _json_value(r.loaded),
                        "loaded_shown": r.loaded is not UNKNOWN,
                        "differ": list(r.differ),
                    }
                    for r in h.rows
                ],
            }
            for h in report.hosts
        ],
    }
    return json.dumps(doc, indent=2, default=str)
