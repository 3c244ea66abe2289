"""`svcctl diff`: the rendered plist vs the installed file vs the job launchd has loaded.

Per host: one connection and ONE remote command (`cat <plist>` and `launchctl print
<domain>/<label>`, batched by `launchd.build_batch`); hosts run in parallel. The comparison
itself is `render.diff_plists`, run twice: against the rendered values (what svcctl would
install) and against the installed file (what a bootstrap would load). This module only
sequences the I/O and lines the three sides up, key by key, for the report.
"""

from __future__ import annotations

import plistlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from svcctl.errors import HostError, ParseError
from svcctl.host.base import Host
from svcctl.launchd import build_batch, parse_print, print_argv, split_batch
from svcctl.model import HostSpec, Inventory, JobState, ServiceSpec
from svcctl.render import Difference, diff_plists, plist_path_for, render_plist

NOT_LOADED = {112, 113}  # no such domain / no such service (FACTS 2.7)
R_I, R_L, I_L = "rendered/installed", "rendered/loaded", "installed/loaded"


class _Unknown:
    """A value launchctl print does not show (e.g. RunAtLoad): neither equal nor different."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Row:
    """One key on the three sides; `differ` names the pairs that disagree (R_I, R_L, I_L).

    None means absent on that side; UNKNOWN that launchd does not show the key.
    """

    key: str
    rendered: Any
    installed: Any
    loaded: Any
    differ: tuple[str, ...]


@dataclass(frozen=True)
class HostDiff:
    host: str
    domain: str
    path: str
    reachable: bool = True
    error: str | None = None
    installed: str = "present"  # present | missing | unreadable
    installed_detail: str = ""
    loaded: JobState | None = None
    loaded_detail: str = ""  # why the job could not be read, if it could not
    rows: tuple[Row, ...] = ()

    @property
    def inspected(self) -> bool:
        return self.reachable and not self.loaded_detail and self.installed != "unreadable"

    @property
    def drift(self) -> bool:
        """Anything but a present file and a loaded job that both match the render."""
        return (not self.inspected or self.installed != "present" or self.loaded is None
                or bool(self.rows))


@dataclass(frozen=True)
class DiffReport:
    service: str
    label: str
    rendered: bytes  # of the first host; every host's own render is in its rows
    hosts: tuple[HostDiff, ...]

    @property
    def ok(self) -> bool:
        return not any(h.drift for h in self.hosts)


@dataclass(frozen=True)
class _Target:
    spec: HostSpec
    rendered: dict[str, Any]
    data: bytes
    path: str


def parse_installed(text: str) -> dict[str, Any]:
    """The installed file (as `cat` printed it) as plist data; ParseError if it is not one."""
    if text.startswith("bplist"):
        raise ParseError("a binary plist; convert it with `plutil -convert xml1` to compare it")
    try:
        data = plistlib.loads(text.encode("utf-8", errors="surrogateescape"))
    except Exception as exc:  # plistlib raises InvalidFileException, ExpatError, ValueError...
        raise ParseError(f"not a valid plist: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("the plist's root is not a dictionary")
    return data


def _lookup_plist(values: Mapping[str, Any] | None, key: str, path: str) -> Any:
    if values is None:
        return None
    if key == "path":
        return path
    if key == "program":
        args = values.get("ProgramArguments") or [None]
        return values.get("Program") or args[0]
    head, dot, sub = key.partition(".")
    if dot:
        inner = values.get(head)
        return inner.get(sub) if isinstance(inner, Mapping) else None
    return values.get(key)


_LOADED_FIELDS = {
    "path": "path",
    "program": "program",
    "Label": "label",
    "WorkingDirectory": "working_directory",
    "StandardOutPath": "stdout_path",
    "StandardErrorPath": "stderr_path",
    "ExitTimeOut": "exit_timeout",
}


def _lookup_loaded(job: JobState | None, key: str) -> Any:
    if job is None:
        return None
    if key == "ProgramArguments":
        return list(job.arguments) or UNKNOWN
    if key.startswith("EnvironmentVariables."):
        return job.environment.get(key.partition(".")[2])
    field = _LOADED_FIELDS.get(key)
    return getattr(job, field) if field else UNKNOWN


def _keys(d: Difference) -> list[str]:
    """The report's keys for one difference: plist names, one row per differing sub-key."""
    if d.where == "loaded":
        if d.key.startswith("environment."):
            return ["EnvironmentVariables." + d.key.partition(".")[2]]
        return ["ProgramArguments" if d.key == "arguments" else d.key]
    if isinstance(d.expected, Mapping) and isinstance(d.actual, Mapping):
        subs = sorted(set(d.expected) | set(d.actual), key=str)
        return [f"{d.key}.{k}" for k in subs if d.expected.get(k) != d.actual.get(k)]
    return [d.key]


def compare(rendered: Mapping[str, Any], installed: Mapping[str, Any] | None,
            loaded: JobState | None, path: str) -> tuple[Row, ...]:
    """Pure: the three sides lined up, one row per key where any two of them differ."""
    pairs: dict[str, set[str]] = {}
    for d in diff_plists(rendered, installed, loaded, path=path):
        if d.key not in ("(file)", "(job)"):
            for key in _keys(d):
                pairs.setdefault(key, set()).add(R_I if d.where == "installed" else R_L)
    if installed is not None:
        # what a bootstrap of today's file would load vs what launchd holds (FACTS 2.1)
        for d in diff_plists(installed, installed, loaded, path=path):
            if d.where == "loaded" and d.key != "(job)":
                for key in _keys(d):
                    pairs.setdefault(key, set()).add(I_L)
    return tuple(
        Row(key, _lookup_plist(rendered, key, path), _lookup_plist(installed, key, path),
            _lookup_loaded(loaded, key), tuple(p for p in (R_I, R_L, I_L) if p in found))
        for key, found in sorted(pairs.items())
    )


def assess(target: _Target, outputs: Sequence[tuple[int, str, str]]) -> HostDiff:
    """Pure: the probe's two outputs (cat, launchctl print) -> the host's drift."""
    spec, label = target.spec, str(target.rendered["Label"])
    (cat_rc, cat_out, cat_err), (rc, out, err) = outputs
    installed: dict[str, Any] | None = None
    state, state_detail = "present", ""
    if cat_rc != 0:
        missing = "No such file" in cat_err
        state = "missing" if missing else "unreadable"
        state_detail = "" if missing else f"cat exited {cat_rc}: {cat_err.strip()[:200]}"
    else:
        try:
            installed = parse_installed(cat_out)
        except ParseError as exc:
            state, state_detail = "unreadable", exc.message
    job: JobState | None = None
    job_detail = ""
    if rc == 0:
        try:
            job = parse_print(out)
        except ParseError as exc:
            job_detail = f"cannot read launchctl print: {exc.message}"
    elif rc not in NOT_LOADED:
        job_detail = (f"launchctl print {spec.domain.service_target(label)} exited {rc}: "
                      f"{err.strip()[:200]}")
    rows = compare(target.rendered, installed, job, target.path)
    return HostDiff(spec.name, spec.domain.target, target.path, installed=state,
                    installed_detail=state_detail, loaded=job, loaded_detail=job_detail,
                    rows=rows)


def plan_targets(inv: Inventory, service: ServiceSpec,
                 host_names: Sequence[str]) -> list[_Target]:
    """Render for every host first: a bad template or inventory fails before any SSH."""
    out = []
    for name in host_names:
        spec = inv.hosts[name]
        r = render_plist(service, spec.domain, inv.templates_dir, home=spec.home)
        path = str(plist_path_for(service, spec.domain, spec.home))
        # the rendered bytes as data (render_plist checked them), so keys a custom
        # template adds are compared too
        out.append(_Target(spec, plistlib.loads(r.data), r.data, path))
    return out


def diff_host(target: _Target, host: Host, timeout: float = 30.0) -> HostDiff:
    batch = build_batch([["cat", target.path],
                         print_argv(target.spec.domain, str(target.rendered["Label"]))])
    try:
        result = host.run(batch.argv, timeout=timeout)
        outputs = split_batch(batch, result.stdout)
    except (HostError, ParseError) as exc:
        return HostDiff(target.spec.name, target.spec.domain.target, target.path,
                        reachable=False, error=exc.one_line())
    finally:
        host.close()
    return assess(target, outputs)


def run_diff(inv: Inventory, service: ServiceSpec, host_names: Sequence[str],
             connect: Callable[[HostSpec], Host], *, concurrency: int = 8,
             timeout: float = 30.0) -> DiffReport:
    targets = plan_targets(inv, service, host_names)

    def one(target: _Target) -> HostDiff:
        try:
            host = connect(target.spec)
        except HostError as exc:
            return HostDiff(target.spec.name, target.spec.domain.target, target.path,
                            reachable=False, error=exc.one_line())
        return diff_host(target, host, timeout)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets)))) as pool:
        diffs = tuple(pool.map(one, targets))
    first = targets[0].data if targets else b""
    return DiffReport(service.name, service.label, first, diffs)
