"""Service spec -> launchd plist bytes, through a jinja2 template, checked as data.

Templates never paste text: every value is placed by the `plist` filter, which writes
XML elements with plistlib, so `& < > " '`, non-ASCII, newlines and shell syntax are
always escaped right. The result is parsed back and must equal the intended values.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from markupsafe import Markup

from svcctl import places
from svcctl.errors import RenderError
from svcctl.model import Domain, ServiceSpec

AGENT_TEMPLATE = "launch-agent.plist.j2"
DAEMON_TEMPLATE = "launch-daemon.plist.j2"
PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
# Homebrew's list: one plist loads in gui/<uid> and, thanks to Background, in user/<uid>
# too; an Aqua-only agent fails there with 134 (FACTS 1.4).
SESSION_TYPES = ("Aqua", "Background", "LoginWindow", "StandardIO", "System")
_XML_HEAD = '<plist version="1.0">\n'
_MARKUP_LINE = re.compile(r"\t*<(?!/string>|/key>)")


def _check_text(value: object) -> None:
    # XML turns a carriage return into a newline; refuse rather than change a value
    if isinstance(value, str) and "\r" in value:
        raise ValueError(f"a carriage return cannot survive a plist: {value[:40]!r}")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_text(k)
            _check_text(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_text(v)


def plist_xml(value: object) -> Markup:
    """The `plist` filter: a Python value as one plist XML element."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises its own "'x' is undefined" here
    _check_text(value)
    data = list(value) if isinstance(value, tuple) else value
    if isinstance(data, Mapping):
        data = dict(data)
    text = plistlib.dumps(data).decode("utf-8")  # type: ignore[arg-type]
    body = text[text.index(_XML_HEAD) + len(_XML_HEAD) : text.rindex("\n</plist>")]
    # indent nested lines one level, as the template places the element one tab in;
    # a line starting with `<` is markup (text has `<` escaped), except a string's close
    lines = body.split("\n")
    lines[1:] = ["\t" + x if _MARKUP_LINE.match(x) else x for x in lines[1:]]
    return Markup("\n".join(lines))  # noqa: S704 -- plistlib escaped every value


def plist_key(name: str) -> Markup:
    """The `plist_key` filter: `<key>name</key>`, escaped."""
    return Markup("<key>{}</key>").format(name)


# `guard: true` wraps ProgramArguments in svcctl's singleton guard, which svcctl
# deploy installs beside the plists it manages (svcctl.guard, runbooks/guard.md).
GUARD_PYTHON = "/usr/bin/python3"
GUARD_SUBPATH = "Library/Application Support/svcctl/svcctl-guard"
# A guarded job refused by the lock exits 75; KeepAlive brings it back when the holder
# is gone, but a long throttle keeps launchd from re-spawning it every 10 s meanwhile.
GUARD_THROTTLE = 60


def guard_wrapper_path(service: ServiceSpec, domain: Domain, home: str | None) -> PurePosixPath:
    """Where the guard wrapper lives on the host: beside the user's or the system's Library."""
    if domain.is_system:
        return PurePosixPath("/") / GUARD_SUBPATH
    if not home:
        raise RenderError(
            f"service {service.name}: guard: true needs the home directory of uid "
            f"{domain.uid} to place the guard wrapper (set `home:` on the host)"
        )
    return PurePosixPath(home) / GUARD_SUBPATH


def program_argv(service: ServiceSpec, domain: Domain, home: str | None) -> list[str]:
    """ProgramArguments: the program, wrapped in the guard when the service asks for it."""
    if not service.guard:
        return list(service.program)
    wrapper = str(guard_wrapper_path(service, domain, home))
    return [GUARD_PYTHON, wrapper, service.name, "--", *service.program]


def plist_values(service: ServiceSpec, domain: Domain, home: str | None = None) -> dict[str, Any]:
    """The plist svcctl means to install, as data; the template must produce exactly this."""
    if service.user_name and not domain.is_system:
        raise RenderError(
            f"service {service.name}: user_name applies to LaunchDaemons in the system "
            f"domain only, not {domain.target} (FACTS 4)"
        )
    out: dict[str, Any] = {**service.plist_extra, "Label": service.label}
    out["ProgramArguments"] = program_argv(service, domain, home)
    throttle = service.throttle_interval
    if throttle is None and service.guard:
        throttle = GUARD_THROTTLE
    optional = {
        "WorkingDirectory": service.working_directory,
        "EnvironmentVariables": dict(service.environment) or None,
        "RunAtLoad": service.run_at_load,
        "ThrottleInterval": throttle,
        "ExitTimeOut": service.exit_timeout,
        "StandardOutPath": service.stdout_path,
        "StandardErrorPath": service.stderr_path,
        "UserName": service.user_name,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    ka = service.keep_alive
    out["KeepAlive"] = ka if isinstance(ka, bool) else dict(ka)
    if not domain.is_system:
        out["LimitLoadToSessionType"] = list(SESSION_TYPES)
    return out


def make_environment(templates_dir: Path | None) -> jinja2.Environment:
    """Templates next to the inventory first, then the package defaults."""
    dirs = [d for d in (templates_dir, PACKAGE_TEMPLATES) if d is not None]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # XML; `plist` output is Markup and is not escaped twice
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plist"] = plist_xml
    env.filters["plist_key"] = plist_key
    return env


def template_for(service: ServiceSpec, domain: Domain) -> str:
    return service.template or (DAEMON_TEMPLATE if domain.is_system else AGENT_TEMPLATE)


@dataclass(frozen=True)
class RenderedPlist:
    data: bytes
    values: dict[str, Any]
    template: str


def render_plist(
    service: ServiceSpec, domain: Domain, templates_dir: Path | None = None,
    *, home: str | None = None,
) -> RenderedPlist:
    name = template_for(service, domain)
    values = plist_values(service, domain, home)
    managed = {"Label", "ProgramArguments", "KeepAlive", "LimitLoadToSessionType"}
    context = {
        "service": service,
        "domain": domain,
        "label": service.label,
        "program": values["ProgramArguments"],
        "working_directory": service.working_directory,
        "environment": dict(service.environment),
        "keep_alive": values["KeepAlive"],
        "run_at_load": service.run_at_load,
        "throttle_interval": values.get("ThrottleInterval"),
        "exit_timeout": service.exit_timeout,
        "stdout_path": service.stdout_path,
        "stderr_path": service.stderr_path,
        "user_name": service.user_name,
        "session_types": list(SESSION_TYPES),
        "extra": {k: v for k, v in service.plist_extra.items() if k not in managed},
    }
    try:
        text = make_environment(templates_dir).get_template(name).render(context)
    except jinja2.TemplateNotFound:
        where = f"{templates_dir} or the package defaults" if templates_dir else "the package"
        raise RenderError(
            f"service {service.name}: template {name!r} not found in {where}"
        ) from None
    except (jinja2.TemplateError, ValueError, TypeError, OverflowError) as exc:
        raise RenderError(f"service {service.name}: template {name}: {exc}") from None
    data = text.encode("utf-8")
    validate_plist(data, values, service=service.name, template=name, domain=domain)
    return RenderedPlist(data, values, name)


def _fail(service: str, template: str, problem: str) -> RenderError:
    return RenderError(f"service {service}: template {template}: {problem}")


def validate_plist(
    data: bytes, expected: Mapping[str, Any], *, service: str, template: str, domain: Domain
) -> dict[str, Any]:
    """Parse rendered bytes as a plist and hold them to the intended values."""
    try:
        got = plistlib.loads(data)
    except Exception as exc:  # plistlib raises InvalidFileException, ExpatError, ValueError...
        raise _fail(service, template, f"not a valid plist: {exc}") from None
    if not isinstance(got, dict):
        raise _fail(service, template, "the plist's root is not a dictionary")
    args = got.get("ProgramArguments")
    if not (isinstance(args, list) and args and all(isinstance(a, str) for a in args)):
        raise _fail(service, template, "ProgramArguments must be a non-empty list of strings")
    if not args[0].startswith("/"):
        raise _fail(service, template, f"the program path {args[0]!r} is not absolute")
    problem = _wrong_value(got, expected)
    if problem is not None:
        raise _fail(service, template, problem)
    sessions = got.get("LimitLoadToSessionType", "Aqua")  # Aqua is launchd's default
    sessions = [sessions] if isinstance(sessions, str) else sessions
    if domain.kind.value == "user" and "Background" not in sessions:
        raise _fail(
            service,
            template,
            "LimitLoadToSessionType lacks Background, so the agent "
            "cannot load into user/<uid> (error 134, FACTS 1.4)",
        )
    return got


_KINDS: dict[str, tuple[type, ...]] = {
    "KeepAlive": (bool, dict),
    "RunAtLoad": (bool,),
    "ThrottleInterval": (int,),
    "ExitTimeOut": (int,),
    "EnvironmentVariables": (dict,),
    "Label": (str,),
}


def _wrong_value(got: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """The first key of a rendered plist with the wrong type, or not the intended value."""
    for key, types in _KINDS.items():
        if key in got and not isinstance(got[key], types):
            return f"{key} has the wrong type {type(got[key]).__name__}"
    for key, want in expected.items():
        if key not in got:
            return f"the template leaves out {key}"
        if got[key] != want:
            return f"{key} renders as {got[key]!r}, not {want!r}"
    return None


def plist_path_for(service: ServiceSpec, domain: Domain, home: str | None) -> PurePosixPath:
    """Where the plist belongs on the host (svcctl.places, FACTS 1.2)."""
    try:
        return places.plist_path(service.label, domain, home)
    except places.NoHomeError as exc:
        raise RenderError(f"service {service.name}: {exc}") from None
