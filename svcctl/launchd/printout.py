"""Parsers for `launchctl print` (service and domain) and `print-disabled` (FACTS 2.6, 2.7, 3.3).

Apple says print output "is NOT API in any sense", so these parsers read only what FACTS
shows in real captures and ignore every line they do not understand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from svcctl.errors import ParseError
from svcctl.launchd.listing import concerns, to_int
from svcctl.model import Domain, DomainKind, JobState, ListEntry


def _split_target(target: str) -> tuple[Domain | None, str]:
    m = re.fullmatch(r"(system|(?:user|gui)/\d+)/(.+)", target)
    if m is None:
        return None, target.rsplit("/", 1)[-1]
    return Domain.parse(m.group(1)), m.group(2)


def _parse_domain_field(value: str) -> tuple[Domain | None, int | None]:
    # `gui/501 [100007]` carries the ASID; 10.10 printed `com.apple.xpc.launchd.domain.system`
    m = re.fullmatch(r"(\S+)(?: \[(\d+)\])?", value.strip())
    if m is None:
        return None, None
    asid = int(m.group(2)) if m.group(2) else None
    if m.group(1).endswith("launchd.domain.system"):
        return Domain(DomainKind.SYSTEM), asid
    try:
        return Domain.parse(m.group(1)), asid
    except ValueError:
        return None, asid


# --- launchctl print (FACTS 3.3, 2.7) ---------------------------------------------------

_PROP = re.compile(r"(\s+)(\S.*?) =(?: (.*))?")


@dataclass
class _PrintDoc:
    target: str
    props: dict[str, str]
    blocks: dict[str, list[str]]


def _split_print(text: str, what: str) -> _PrintDoc:
    """Top-level `key = value` lines and raw block bodies of one `X = { ... }` document.

    Only lines at the first property indent count as top-level: nested blocks repeat
    `state` and `pid` deeper (FACTS 3.3). A block ends at a `}` line with the exact indent
    of its opening line, so arguments ending in `{` or `}` cannot derail the nesting.
    """
    lines = text.split("\n")
    start = next((n for n, line in enumerate(lines) if line.strip()), None)
    head = re.fullmatch(r"(\S+) = \{\s*", lines[start]) if start is not None else None
    if start is None or head is None:
        raise ParseError(f"{what}: expected a `<target> = {{` header line")
    doc = _PrintDoc(head.group(1), {}, {})
    stack: list[tuple[str, str]] = []  # (block key, indent of its opening line)
    top_indent: str | None = None
    for line in lines[start + 1 :]:
        if stack:
            _block_line(doc, stack, line)
            continue
        if line.rstrip() == "}":
            return doc
        m = _PROP.fullmatch(line.rstrip())
        if m is None:
            continue  # blank lines and elisions are not properties
        indent, key, value = m.group(1), m.group(2), m.group(3) or ""
        top_indent = indent if top_indent is None else top_indent
        if indent == top_indent:
            _top_property(doc, stack, indent, key, value)
    raise ParseError(f"{what}: output ended before the closing `}}` of {doc.target}")


def _block_line(doc: _PrintDoc, stack: list[tuple[str, str]], line: str) -> None:
    """One line inside an open block: a top-level block keeps its body lines raw."""
    key, indent = stack[-1]
    if line.rstrip() == indent + "}":
        stack.pop()
        return
    if len(stack) == 1:
        doc.blocks[key].append(line)
        if key == "arguments":
            return  # an argument ending in `{` opens nothing
    if line.rstrip().endswith("{"):
        stack.append(("", line[: len(line) - len(line.lstrip())]))


def _top_property(
    doc: _PrintDoc, stack: list[tuple[str, str]], indent: str, key: str, value: str
) -> None:
    if value == "{":
        doc.blocks[key] = []
        stack.append((key, indent))
    elif value.startswith("{") and value.endswith("}"):
        doc.blocks[key] = [value[1:-1].strip()]  # a block printed on one line
    else:
        doc.props[key] = value.strip()


def _parse_env(lines: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in lines:
        # one-line blocks may hold several `K => v` pairs
        for pair in re.split(r"\s+(?=\S+ => )", line.strip()):
            k, sep, v = pair.partition(" => ")
            if sep:
                env[k.strip()] = v.strip()
    return env


def _parse_arguments(lines: list[str]) -> tuple[str, ...]:
    # an argument holding a newline continues on an unindented line (FACTS 3.3 pitfalls)
    if not lines:
        return ()
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    args: list[str] = []
    for line in lines:
        if args and indent and not line.startswith(indent):
            args[-1] += "\n" + line
        else:
            args.append(line.removeprefix(indent))
    return tuple(args)


def _last_exit(value: str | None) -> int | None:
    # `(never exited)`, `0`, or `75: EX_TEMPFAIL` on newer macOS (FACTS 3.3)
    m = re.match(r"-?\d+", value or "")
    return int(m.group()) if m else None


def parse_print(text: str) -> JobState:
    """`launchctl print <domain>/<label>`: top-level properties only (FACTS 3.3)."""
    doc = _split_print(text, "launchctl print")
    p, b = doc.props, doc.blocks
    domain, label = _split_target(doc.target)
    field_domain, asid = _parse_domain_field(p.get("domain", ""))

    def num(key: str) -> int | None:
        return to_int(p[key], f"launchctl print {key}") if key in p else None

    sig = re.search(r"(\d+)\s*$", p.get("last terminating signal", ""))
    return JobState(
        label=label,
        source="print",
        domain=field_domain or domain,
        domain_raw=p.get("domain"),
        pid=num("pid"),
        state=p.get("state"),
        runs=num("runs"),
        last_exit_code=_last_exit(p.get("last exit code")),
        last_exit_raw=p.get("last exit code"),
        last_signal=int(sig.group(1)) if sig else None,
        successive_crashes=num("successive crashes"),
        path=p.get("path"),
        job_type=p.get("type"),
        program=p.get("program"),
        arguments=_parse_arguments(b.get("arguments", [])),
        environment=_parse_env(b.get("environment", [])),
        working_directory=p.get("working directory"),
        stdout_path=p.get("stdout path"),
        stderr_path=p.get("stderr path"),
        minimum_runtime=num("minimum runtime"),
        exit_timeout=num("exit timeout"),
        properties=tuple(s.strip() for s in p.get("properties", "").split("|") if s.strip()),
        asid=num("asid") if "asid" in p else asid,
    )


_SERVICE_LINE = re.compile(r"\s*(-|-?\d+)\s+(\S+)\s+(\S.*?)\s*")


def parse_service_line(line: str) -> ListEntry:
    """One line of a domain's `services = {` block: `9682   (pe) \\tlabel` (FACTS 2.7)."""
    m = _SERVICE_LINE.fullmatch(line)
    if m is None:
        raise ParseError(f"launchctl print <domain>: bad services line {line[:80]!r}")
    pid = None if m.group(1) in ("-", "0") else int(m.group(1))
    status = int(m.group(2)) if re.fullmatch(r"-?\d+", m.group(2)) else None
    return ListEntry(m.group(3), pid, status, m.group(2))


def parse_print_domain(text: str, label: str | None = None) -> list[ListEntry]:
    """The `services = {` rows of `launchctl print <domain>` (FACTS 2.7).

    With `label`, a row this parser does not recognise is skipped when it cannot concern
    that label (`concerns`); without, every such row is a ParseError.
    """
    doc = _split_print(text, "launchctl print <domain>")
    if "services" not in doc.blocks:
        raise ParseError(f"launchctl print <domain>: no services block for {doc.target}")
    out: list[ListEntry] = []
    for line in doc.blocks["services"]:
        if not line.strip():
            continue
        try:
            out.append(parse_service_line(line))
        except ParseError:
            if concerns(line, label):
                raise
    return out


# --- print-disabled (FACTS 2.6) ---------------------------------------------------------

# Ventura and later say enabled/disabled; before, `true` meant *disabled*.
_DISABLED_WORDS = {"disabled": True, "true": True, "enabled": False, "false": False}


def parse_print_disabled(text: str) -> dict[str, bool]:
    """label -> disabled. A label missing from the result is enabled."""
    out: dict[str, bool] = {}
    inside = False
    for n, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not inside:
            inside = s == "disabled services = {"
            continue
        if s == "}":
            return out
        m = re.fullmatch(r'"(.*)" => (\S+)', s)
        if m is None or m.group(2) not in _DISABLED_WORDS:
            raise ParseError(f"launchctl print-disabled line {n}: unexpected {s[:80]!r}")
        out[m.group(1)] = _DISABLED_WORDS[m.group(2)]
    raise ParseError("launchctl print-disabled: no complete `disabled services = {` block")
