"""Typed reads of YAML nodes, each failure one line: `file:line: dotted.key: problem`.

Working on `yaml.compose` nodes rather than loaded data keeps every value's line number,
so an error names the exact line a user must fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection
from dataclasses import dataclass

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from svcctl.errors import InventoryError

_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


@dataclass(frozen=True)
class Where:
    """The file being read and the dotted key path of a node in it."""

    file: str
    path: str

    def at(self, key: str | int) -> Where:
        if isinstance(key, int):
            return Where(self.file, f"{self.path}[{key}]")
        return Where(self.file, f"{self.path}.{key}" if self.path else key)

    def error(self, node: Node | None, problem: str) -> InventoryError:
        line = node.start_mark.line + 1 if node is not None else 1
        key = f" {self.path}:" if self.path else ""
        return InventoryError(f"{self.file}:{line}:{key} {problem}")


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = scalar(node, Where("", ""))
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"  # the error stays one short line


def scalar(node: Node, where: Where) -> object:
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except (ConstructorError, ValueError, OverflowError) as exc:
        raise where.error(node, f"unreadable value: {exc}".splitlines()[0]) from None


def pairs(
    node: Node, where: Where, allowed: Collection[str] | None
) -> list[tuple[str, Node, Node]]:
    """(key, key node, value node) of a mapping; unknown and repeated keys are errors."""
    if not isinstance(node, MappingNode):
        raise where.error(node, f"expected a mapping, got {describe(node)}")
    out: list[tuple[str, Node, Node]] = []
    seen: set[str] = set()
    for knode, vnode in node.value:
        if not (isinstance(knode, ScalarNode) and knode.tag == _STR):
            raise where.error(knode, f"keys must be strings, got {describe(knode)}")
        key = str(knode.value)
        if key in seen:
            raise where.at(key).error(knode, "repeated key (YAML would silently keep the last)")
        if allowed is not None and key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = (
                f" (did you mean {near[0]!r}?)"
                if near
                else f" (known: {', '.join(sorted(allowed))})"
            )
            raise where.at(key).error(knode, f"unknown key{hint}")
        seen.add(key)
        out.append((key, knode, vnode))
    return out


def read_str(node: Node, where: Where, *, what: str = "a string") -> str:
    if isinstance(node, ScalarNode) and node.tag == _STR and str(node.value):
        if "\0" in node.value:
            raise where.error(node, "must not contain a NUL character")
        return str(node.value)
    raise where.error(node, f"expected {what}, got {describe(node)}")


def read_bool(node: Node, where: Where) -> bool:
    if isinstance(node, ScalarNode) and node.tag == _BOOL:
        return bool(scalar(node, where))
    raise where.error(node, f"expected true or false, got {describe(node)}")


def read_int(node: Node, where: Where, *, lo: int = 0, hi: int | None = None) -> int:
    if isinstance(node, ScalarNode) and node.tag == _INT:
        value = scalar(node, where)
        assert isinstance(value, int)
        if value >= lo and (hi is None or value <= hi):
            return value
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise where.error(node, f"expected an integer {bound}, got {value}")
    raise where.error(node, f"expected an integer, got {describe(node)}")


def read_number(node: Node, where: Where) -> float:
    if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
        value = scalar(node, where)
        assert isinstance(value, int | float)
        if value >= 0 and math.isfinite(value):
            return float(value)
    raise where.error(node, f"expected a number of seconds, got {describe(node)}")


def read_str_list(node: Node, where: Where, *, single_ok: bool = False) -> list[tuple[str, Node]]:
    if single_ok and isinstance(node, ScalarNode):
        return [(read_str(node, where), node)]
    if not isinstance(node, SequenceNode) or not node.value:
        raise where.error(node, f"expected a non-empty list of strings, got {describe(node)}")
    return [(read_str(n, where.at(i)), n) for i, n in enumerate(node.value)]


def read_plist_value(node: Node, where: Where) -> object:
    """Any YAML value plistlib can write: strings, numbers, booleans, lists, mappings."""
    if isinstance(node, MappingNode):
        return {k: read_plist_value(v, where.at(k)) for k, _, v in pairs(node, where, None)}
    if isinstance(node, SequenceNode):
        return [read_plist_value(n, where.at(i)) for i, n in enumerate(node.value)]
    value = scalar(node, where)
    if isinstance(value, str | bool | int | float) and not (
        isinstance(value, int) and abs(value) >= 2**63
    ):
        return value
    raise where.error(
        node, f"expected a string, number, boolean, list or mapping, got {describe(node)}"
    )


def compose(text: str, file: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise InventoryError(f"{file}:{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{file}: invalid YAML: {str(exc).splitlines()[0]}") from None
