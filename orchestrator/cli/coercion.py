"""Command-line values without Pydantic: the start-up cost of every `jobctl` command.

Typer (0.2x) coerces each parsed value through a Pydantic ``TypeAdapter``,
built for every parameter when a command line is parsed, ``--help`` and
options left out included. The first adapter imports Pydantic and builds a
schema: 60-80 ms, longer than the whole query of ``jobctl status JOB
--json`` and a fifth of the time `jobctl run` takes to start its first chunk.
Yet click has already turned the text into what most parameters want.

After :func:`plain_params_without_pydantic`, a parameter whose annotation is
``str``, ``bool``, ``int``, ``float`` or ``Path`` (or one of them ``| None``)
takes a value that already has that type as it is, and text for a ``Path``
as ``Path(text)``, which is what Typer's adapter returns for them. Any other
value, and every parameter of another type (lists, enums...), goes to
Typer's own coercion, built the first time such a value arrives, so a command
receives exactly the values Typer would give it and reports the same errors.

It wraps a Typer internal (``typer.core.build_runtime_param``); with a Typer
that has none, it does nothing and Typer coerces everything itself.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: annotations whose values of exactly that type Typer's adapters return unchanged
_PLAIN_TYPES: tuple[type, ...] = (str, bool, int, float, Path)


def _plain_type(annotation: Any) -> type | None:
    """``X`` for an annotation ``X`` or ``X | None`` with X in :data:`_PLAIN_TYPES`."""
    if annotation in _PLAIN_TYPES:
        return typing.cast(type, annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] in _PLAIN_TYPES:
            return typing.cast(type, args[0])
    return None


def plain_params_without_pydantic() -> None:
    """Make Typer build lazy coercions with fast paths for plain values (see
    the module docstring). Idempotent."""
    try:
        import typer.core as typer_core
        from typer._coercion import RuntimeParam
    except ImportError:  # another Typer: it coerces as it likes
        return
    found = getattr(typer_core, "build_runtime_param", None)
    if found is None or getattr(found, "plain_params", False):
        return
    typer_build: Callable[[Any], Any] = found

    class LazyParam(RuntimeParam):
        """Plain values as they are; anything else by Typer's coercion, built
        on first use."""

        def __init__(self, descriptor: Any) -> None:
            super().__init__(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
            self._descriptor = descriptor
            self._plain = _plain_type(descriptor.annotation)
            self._typer: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            plain = self._plain
            if plain is not None:
                if type(value) is plain:
                    return value
                if plain is Path and type(value) is str:
                    return Path(value)
            if self._typer is None:
                self._typer = typer_build(self._descriptor)
            return self._typer._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        plain = (
            getattr(descriptor, "file_annotation", None) is None
            and getattr(getattr(descriptor, "parameter_info", None), "parser", None) is None
        )
        if plain:
            try:
                return LazyParam(descriptor)
            except (TypeError, AttributeError):  # a Typer whose internals moved on
                pass
        return typer_build(descriptor)

    build_runtime_param.plain_params = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build_runtime_param
