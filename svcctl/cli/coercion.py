"""Parameter coercion without pydantic, for the values svcctl's commands actually get.

typer 0.29 coerces every parameter through a pydantic `TypeAdapter`, built even for an
option left at its `None` default: importing pydantic and building the adapters was about
150 ms of the 450 ms of CPU a `svcctl audit` of one host costs (issue 12). Nearly every
value svcctl sees is one that the adapter would hand back unchanged, or convert in one
obvious way: a `str`, a list of `str`, an in-range `int` or `float` (or a plain decimal
string of one), a path.

`install()` puts a lazy runtime parameter in front of typer's own: those values are
converted here, by the same rules; anything else (another type, a parser, choices, a
value that does not look plain, any exception on the fast path) goes to typer's own
coercion, built only then, so its errors and edge cases stay exactly typer's.
`tests/cli/test_coercion.py` runs both on every parameter of every command and compares.

Only typer versions this was checked against are patched (`VERIFIED`); any other keeps
typer's coercion, correct and slower, and the test above fails until it is re-checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

VERIFIED = ("0.29.",)

_MISS = object()
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,17})")  # what int() and pydantic read alike
_DECIMAL_POINT = re.compile(r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")  # and float()


def verified(version: str = typer.__version__) -> bool:
    return version.startswith(VERIFIED)


def _fast(descriptor: Any, value: Any, param: Any, ctx: Any) -> Any:
    """`value` coerced as typer would, or _MISS when that is not plain enough here."""
    from typer._param_types import coerce_cli_path, routes_to_path

    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if info.parser is not None or descriptor.is_file or descriptor.is_choice:
        return _MISS
    if annotation is str:
        return value if type(value) is str else _MISS
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        if isinstance(value, list | tuple) and all(type(v) is str for v in value):
            return list(value)
        return _MISS
    if annotation is int or annotation is float:
        plain = _DECIMAL if annotation is int else _DECIMAL_POINT
        if type(value) is str and plain.fullmatch(value):
            value = annotation(value)
        if type(value) is not annotation:
            return _MISS
        low, high = info.min, info.max
        in_range = (low is None or value >= low) and (high is None or value <= high)
        return value if in_range else _MISS
    if annotation is Path and routes_to_path(annotation, info) and info.path_type is None:
        if type(value) is not str:
            return _MISS
        # typer converts the str to a Path (through pydantic), then checks it: given a
        # Path, its own checker skips the conversion and does the rest itself
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    return _MISS


def install() -> bool:
    """Route typer's parameter coercion through the fast path; False (nothing changed)
    when the installed typer is not one this was checked against."""
    if not verified():
        return False
    import typer.core
    from typer._coercion import RuntimeParam, build_runtime_param

    names = vars(typer.core)  # the name typer's parameters call, bound at its import
    if names.get("build_runtime_param") is not build_runtime_param:
        return bool(getattr(names.get("build_runtime_param"), "svcctl_lazy", False))

    @dataclass(frozen=True)
    class LazyRuntimeParam(RuntimeParam):
        descriptor: Any = None
        _real: list[Any] = field(default_factory=list)

        def real(self) -> Any:
            if not self._real:
                self._real.append(build_runtime_param(self.descriptor))
            return self._real[0]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                out = _fast(self.descriptor, value, param, ctx)
            except Exception:  # typer's own coercion says what is wrong
                out = _MISS
            if out is _MISS:
                return self.real()._coerce_value(value, param=param, ctx=ctx)
            return out

    def lazy(descriptor: Any) -> Any:
        return LazyRuntimeParam(parameter_info=descriptor.parameter_info,
                                annotation=descriptor.annotation, descriptor=descriptor)

    lazy.svcctl_lazy = True  # type: ignore[attr-defined]
    lazy.original = build_runtime_param  # type: ignore[attr-defined]
    names["build_runtime_param"] = lazy
    return True
