"""A service's `release:` block (issue 13) and where `{{ release }}` may appear.

`release:` describes where the service's code lives on the host (ReleaseSpec); the token
`{{ release }}` stands for one concrete release directory, `<root>/releases/<id>`
(svcctl.release.concrete), so it only means something in a service that has a release.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from svcctl.errors import InventoryError
from svcctl.inventory.nodes import Where, describe, pairs, read_int, read_str
from svcctl.model import RELEASE_TOKEN, ReleaseSpec

RELEASE_KEYS = ("root", "source", "keep", "shared")
# the fields for_release rewrites; `health` only in its `command`
TOKEN_KEYS = ("program", "runs", "working_directory", "environment", "stdout_path",
              "stderr_path", "health")
Fields = dict[str, tuple[Any, Node]]  # key -> (value read, its node), as the loader reads them
# top-level names the host keeps beside a release's files (svcctl.release.manifest)
_RESERVED_PREFIX = ".svcctl-"


def read_release(node: Node, where: Where) -> ReleaseSpec:
    """The block as written; `source` stays relative until `resolve_source`."""
    got = {k: v for k, _, v in pairs(node, where, RELEASE_KEYS)}
    for key in ("root", "source"):
        if key not in got:
            raise where.error(node, f"missing `{key}`")
    return ReleaseSpec(
        root=_root(got["root"], where.at("root")),
        source=read_str(got["source"], where.at("source"), what="a directory or a .tar.gz"),
        keep=read_int(got["keep"], where.at("keep"), lo=1) if "keep" in got else 5,
        shared=_shared(got["shared"], where.at("shared")) if "shared" in got else (),
    )


def resolve_source(spec: ReleaseSpec, base: Path) -> ReleaseSpec:
    """`source` made absolute against the inventory's folder; whether it exists is the
    deploy's question, asked when it reads the source."""
    return replace(spec, source=str(base / Path(spec.source).expanduser()))


def _root(node: Node, where: Where) -> str:
    value = read_str(node, where, what="an absolute path")
    if not value.startswith("/"):
        raise where.error(node, f"expected an absolute path, got {value!r}")
    if ".." in value.split("/"):
        raise where.error(node, f"must not contain `..`, got {value!r}")
    _plain(value, node, where)
    root = "/" + posixpath.normpath(value).lstrip("/")  # normpath keeps a leading `//`
    if root == "/":
        raise where.error(node, "must not be `/`: releases/, current and shared/ go in it")
    return root


def _shared(node: Node, where: Where) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        raise where.error(node, f"expected a list of directory names, got {describe(node)}")
    names: list[str] = []
    for i, n in enumerate(node.value):
        w = where.at(i)
        name = read_str(n, w, what="a directory name")
        if "/" in name or name in (".", ".."):
            raise w.error(n, f"expected a name inside the release, without `/`, got {name!r}")
        if name.startswith(_RESERVED_PREFIX):
            raise w.error(n, f"names starting with {_RESERVED_PREFIX!r} are svcctl's own")
        _plain(name, n, w)
        if name in names:
            raise w.error(n, f"{name!r} is listed twice")
        names.append(name)
    return tuple(names)


def _plain(value: str, node: Node, where: Where) -> None:
    # the host's scripts print these paths a line each, and ps shows them inside commands
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise where.error(node, f"must not contain control characters, got {value!r}")
    if RELEASE_TOKEN in value:
        raise where.error(node, f"{RELEASE_TOKEN} names a release, it cannot be part of one")


def find_token(node: Node, where: Where) -> tuple[Node, Where] | None:
    """The first string under `node` holding `{{ release }}`, and its key path."""
    if isinstance(node, ScalarNode):
        return (node, where) if RELEASE_TOKEN in str(node.value) else None
    if isinstance(node, SequenceNode):
        items = [(n, where.at(i)) for i, n in enumerate(node.value)]
    elif isinstance(node, MappingNode):
        items = [(v, where.at(k)) for k, _, v in pairs(node, where, None)]
    else:
        return None
    for n, w in items:
        hit = find_token(n, w)
        if hit is not None:
            return hit
    return None


def token_without_release(
    name: str, own: Fields, defaults: Fields, where: Where, dwhere: Where
) -> InventoryError | None:
    """The error for `{{ release }}` in a service without `release:`, naming the key in the
    service, or in `defaults:` where the value came from there; None when it is not used."""
    for key in TOKEN_KEYS:
        for fields, w in ((own, where.at(key)), (defaults, dwhere.at(key))):
            if key not in fields:
                continue
            value, node = fields[key]
            if key == "environment":  # merged: a default's variable the service sets is moot
                hit = _env_token(value, node, w, own if fields is defaults else {})
            elif key == "health":
                hit = None if value.command is None else find_token(
                    _value_of(node, w, "command"), w.at("command"))
            else:
                hit = find_token(node, w)
            if hit is not None:
                return hit[1].error(hit[0], f"{RELEASE_TOKEN} stands for a release directory, "
                                            f"and service {name!r} has no `release:`")
            if key != "environment":
                break  # the service's own value replaces the default's
    return None


def _env_token(
    env: dict[str, str], node: Node, where: Where, own: Fields
) -> tuple[Node, Where] | None:
    overridden = own["environment"][0] if "environment" in own else {}
    for var, value in env.items():
        if RELEASE_TOKEN in value and var not in overridden:
            return _value_of(node, where, var), where.at(var)
    return None


def _value_of(node: Node, where: Where, key: str) -> Node:
    return next(v for k, _, v in pairs(node, where, None) if k == key)
