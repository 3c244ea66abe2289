"""inventory.yaml -> validated `Inventory`. The only I/O is reading the file it is given."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from svcctl.errors import InventoryError
from svcctl.inventory.nodes import (
    Where,
    compose,
    describe,
    pairs,
    read_bool,
    read_int,
    read_number,
    read_plist_value,
    read_str,
    read_str_list,
)
from svcctl.inventory.release import read_release, resolve_source, token_without_release
from svcctl.model import RELEASE_TOKEN, Domain, HealthCheck, HostSpec, Inventory, ServiceSpec

ENV_VAR = "SVCCTL_INVENTORY"
DEFAULT_NAME = "inventory.yaml"

TOP_KEYS = ("ssh_config", "templates_dir", "defaults", "hosts", "services")
HOST_KEYS = ("domain", "hostname", "user", "port", "ssh_config", "home")
# launchd itself accepts almost any label, but `/` breaks service-targets (FACTS 1.1) and
# whitespace or shell characters make every later command fragile.
LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# plist keys svcctl writes itself; `plist:` may not override them
MANAGED_PLIST_KEYS = frozenset(
    {
        "Label",
        "Program",
        "ProgramArguments",
        "WorkingDirectory",
        "EnvironmentVariables",
        "KeepAlive",
        "RunAtLoad",
        "ThrottleInterval",
        "ExitTimeOut",
        "StandardOutPath",
        "StandardErrorPath",
        "UserName",
        "LimitLoadToSessionType",
    }
)
_KEEPALIVE_BOOL = ("SuccessfulExit", "Crashed", "AfterInitialDemand")
_KEEPALIVE_MAP = ("PathState", "OtherJobEnabled")

Reader = Callable[[Node, Where], object]


def resolve_inventory_path(arg: str | None, env: Mapping[str, str]) -> Path:
    """`--inventory`, else $SVCCTL_INVENTORY, else ./inventory.yaml (relative to the cwd)."""
    return Path(arg or env.get(ENV_VAR) or DEFAULT_NAME).expanduser()


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(
            f"{path}: no such file", hint=f"pass --inventory or set {ENV_VAR}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read: {exc}") from None
    return parse_inventory(text, path.resolve().parent, str(path))


def _absolute(path: str) -> bool:
    """`/...`, or `{{ release }}` and a path under it: a release's root is absolute."""
    return path.startswith("/") or path == RELEASE_TOKEN or path.startswith(RELEASE_TOKEN + "/")


def _abs_path(node: Node, where: Where) -> str:
    value = read_str(node, where, what="an absolute path")
    if not _absolute(value):
        raise where.error(node, f"expected an absolute path, got {value!r}")
    return value


def _keep_alive(node: Node, where: Where) -> object:
    if isinstance(node.value, str) and node.tag.endswith(":bool"):
        return read_bool(node, where)
    if node.tag.endswith(":map"):
        out: dict[str, object] = {}
        for key, _, v in pairs(node, where, _KEEPALIVE_BOOL + _KEEPALIVE_MAP):
            w = where.at(key)
            if key in _KEEPALIVE_BOOL:
                out[key] = read_bool(v, w)
            else:
                out[key] = {k: read_bool(x, w.at(k)) for k, _, x in pairs(v, w, None)}
        return out
    raise where.error(node, f"expected a boolean or a mapping, got {describe(node)}")


def _environment(node: Node, where: Where) -> object:
    out: dict[str, str] = {}
    for key, _, v in pairs(node, where, None):
        value = read_plist_value(v, where.at(key))
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise where.at(key).error(v, f"expected a string or number, got {describe(v)}")
        out[key] = str(value)  # launchd ignores non-string values (FACTS 4)
    return out


def _health(node: Node, where: Where) -> object:
    got = {k: v for k, _, v in pairs(node, where, ("command", "tcp", "url", "timeout"))}
    if sum(k in got for k in ("command", "tcp", "url")) != 1:
        raise where.error(node, "expected exactly one of `command`, `tcp` or `url`")
    cmd = got.get("command")
    url = read_str(got["url"], where.at("url")) if "url" in got else None
    if url is not None and not url.startswith(("http://", "https://")):
        raise where.at("url").error(got["url"], f"expected an http(s) URL, got {url!r}")
    return HealthCheck(
        command=tuple(s for s, _ in read_str_list(cmd, where.at("command"))) if cmd else None,
        tcp_port=read_int(got["tcp"], where.at("tcp"), lo=1, hi=65535) if "tcp" in got else None,
        timeout=read_number(got["timeout"], where.at("timeout")) if "timeout" in got else 5.0,
        url=url,
    )


def _plist(node: Node, where: Where) -> object:
    out = read_plist_value(node, where)
    if not isinstance(out, dict):
        raise where.error(node, f"expected a mapping of plist keys, got {describe(node)}")
    for key, knode, _ in pairs(node, where, None):
        if key in MANAGED_PLIST_KEYS:
            raise where.at(key).error(
                knode, "svcctl writes this key from the service's own settings; set those instead"
            )
    return out


SERVICE_READERS: dict[str, Reader] = {
    "label": read_str,
    "hosts": lambda n, w: read_str_list(n, w, single_ok=True),
    "program": read_str_list,
    "runs": read_str_list,
    "working_directory": _abs_path,
    "environment": _environment,
    "keep_alive": _keep_alive,
    "run_at_load": read_bool,
    "throttle_interval": read_int,
    "exit_timeout": read_int,
    "stdout_path": read_str,
    "stderr_path": read_str,
    "user_name": read_str,
    "match": lambda n, w: read_str(n, w, what="a regular expression"),
    "template": read_str,
    "guard": read_bool,
    "stay_up": read_number,
    "health": _health,
    "plist": _plist,
    "release": read_release,
}
# a service's identity (what it runs, how its processes are told apart) is its own, and so
# is where its code lives
_OWN_KEYS = ("label", "program", "runs", "match", "release")
DEFAULT_KEYS = tuple(k for k in SERVICE_READERS if k not in _OWN_KEYS)
_MERGED = ("environment", "plist")  # defaults and service values are merged, not replaced


def _read_fields(node: Node, where: Where, allowed: tuple[str, ...]) -> dict[str, tuple[Any, Node]]:
    return {k: (SERVICE_READERS[k](v, where.at(k)), v) for k, _, v in pairs(node, where, allowed)}


def _host(name: str, node: Node, where: Where, base: Path) -> HostSpec:
    got = {k: v for k, _, v in pairs(node, where, HOST_KEYS)}
    if "domain" not in got:
        raise where.error(node, "missing `domain` (system, user/<uid> or gui/<uid>)")
    try:
        domain = Domain.parse(read_str(got["domain"], where.at("domain")))
    except ValueError as exc:
        raise where.at("domain").error(got["domain"], str(exc)) from None

    def opt(key: str) -> str | None:
        return read_str(got[key], where.at(key)) if key in got else None

    ssh = opt("ssh_config")
    return HostSpec(
        name,
        domain,
        hostname=opt("hostname"),
        user=opt("user"),
        port=read_int(got["port"], where.at("port"), lo=1, hi=65535) if "port" in got else None,
        ssh_config=(base / Path(ssh).expanduser()) if ssh else None,
        home=opt("home"),
    )


def _service(
    name: str,
    node: Node,
    where: Where,
    *,
    anchor: Node,
    defaults: dict[str, tuple[Any, Node]],
    hosts: Mapping[str, HostSpec],
    file: str,
    base: Path,
) -> ServiceSpec:
    own = _read_fields(node, where, tuple(SERVICE_READERS))
    f = _with_defaults(own, defaults)
    for key in ("label", "program", "hosts"):
        if key not in f:
            raise where.error(anchor, f"missing `{key}`")
    if "release" not in f:
        misuse = token_without_release(name, own, defaults, where, Where(file, "defaults"))
        if misuse is not None:
            raise misuse

    def get(key: str, default: Any = None) -> Any:
        return f[key][0] if key in f else default

    return ServiceSpec(
        name=name,
        # validated in this order: of several mistakes, the first here is the one reported
        label=_label(f["label"], where.at("label")),
        program=_argv(f, where, "program"),
        runs=_argv(f, where, "runs") if "runs" in f else None,
        hosts=_known_hosts(get("hosts"), hosts, where.at("hosts")),
        match=_pattern(f["match"], where.at("match")) if "match" in f else None,
        working_directory=get("working_directory"),
        environment=get("environment", {}),
        keep_alive=get("keep_alive", False),
        run_at_load=get("run_at_load"),
        throttle_interval=get("throttle_interval"),
        exit_timeout=get("exit_timeout"),
        stdout_path=get("stdout_path"),
        stderr_path=get("stderr_path"),
        user_name=get("user_name"),
        template=get("template"),
        guard=get("guard", False),
        stay_up=get("stay_up", 10.0),
        health=get("health"),
        plist_extra=get("plist", {}),
        source=f"{file}:{anchor.start_mark.line + 1}",
        release=resolve_source(f["release"][0], base) if "release" in f else None,
    )


def _with_defaults(
    own: dict[str, tuple[Any, Node]], defaults: dict[str, tuple[Any, Node]]
) -> dict[str, tuple[Any, Node]]:
    """A service's own fields over the defaults; `environment` and `plist` are merged."""
    f = {**defaults, **own}
    for key in _MERGED:
        if key in defaults and key in own:
            f[key] = ({**defaults[key][0], **own[key][0]}, own[key][1])
    return f


def _label(value: tuple[Any, Node], where: Where) -> str:
    label, node = value
    if not LABEL_RE.fullmatch(label):
        raise where.error(
            node, f"{label!r} has characters launchd labels should not (use letters, digits, . _ -)"
        )
    return str(label)


def _known_hosts(
    names: list[tuple[str, Node]], hosts: Mapping[str, HostSpec], where: Where
) -> tuple[str, ...]:
    for i, (h, hnode) in enumerate(names):
        if h not in hosts:
            near = difflib.get_close_matches(h, list(hosts), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise where.at(i).error(hnode, f"unknown host {h!r}{hint}")
    return tuple(h for h, _ in names)


def _argv(f: Mapping[str, tuple[Any, Node]], where: Where, key: str) -> tuple[str, ...]:
    """`program` or `runs`: a non-empty argv whose first word is an absolute path."""
    argv = tuple(s for s, _ in f[key][0])
    if not _absolute(argv[0]):
        raise where.at(key).error(f[key][1], f"{key}[0] must be an absolute path, got {argv[0]!r}")
    return argv


def _pattern(value: tuple[Any, Node], where: Where) -> re.Pattern[str]:
    source, node = value
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise where.error(node, f"invalid regular expression: {exc}") from None
    if pattern.search("") is not None:
        raise where.error(node, f"{source!r} matches every command line")
    return pattern


def parse_inventory(text: str, base: Path, file: str = DEFAULT_NAME) -> Inventory:
    """Validate inventory text; `base` is the folder relative paths are relative to."""
    root = compose(text, file)
    top = Where(file, "")
    if root is None:
        raise top.error(None, "empty inventory: expected `hosts:` and `services:`")
    got = {k: v for k, _, v in pairs(root, top, TOP_KEYS)}
    for key in ("hosts", "services"):
        if key not in got:
            raise top.error(root, f"missing top-level `{key}:`")
    hosts: dict[str, HostSpec] = {}
    for name, knode, v in pairs(got["hosts"], top.at("hosts"), None):
        if not NAME_RE.fullmatch(name):
            raise top.at("hosts").at(name).error(knode, "host names are letters, digits, . _ -")
        hosts[name] = _host(name, v, top.at("hosts").at(name), base)
    defaults = (
        _read_fields(got["defaults"], top.at("defaults"), DEFAULT_KEYS) if "defaults" in got else {}
    )
    services: dict[str, ServiceSpec] = {}
    labels: dict[str, str] = {}
    for name, knode, v in pairs(got["services"], top.at("services"), None):
        w = top.at("services").at(name)
        if not NAME_RE.fullmatch(name):
            raise w.error(knode, "service names are letters, digits, . _ -")
        spec = services[name] = _service(
            name, v, w, anchor=knode, defaults=defaults, hosts=hosts, file=file, base=base
        )
        if spec.label in labels:
            lnode = next(x for k, _, x in pairs(v, w, None) if k == "label")
            raise w.at("label").error(
                lnode, f"label {spec.label!r} is already used by service {labels[spec.label]!r}"
            )
        labels[spec.label] = name

    def where_path(key: str) -> Path | None:
        return base / Path(read_str(got[key], top.at(key))).expanduser() if key in got else None

    return Inventory(
        path=base / Path(file).name,
        hosts=hosts,
        services=services,
        templates_dir=where_path("templates_dir") or base / "templates",
        ssh_config=where_path("ssh_config"),
    )
