"""Text and flags without Pydantic: the start-up cost of every `jobctl` command.

Typer (0.2x) coerces each parsed value through a Pydantic ``TypeAdapter``,
``--help`` and flags left out included. A command line gives text, which a
``str`` parameter takes unchanged, and a flag is already a bool; yet the first
adapter imports Pydantic and builds a schema, which takes longer than the
whole query of ``jobctl status JOB --json``. After
:func:`plain_params_without_pydantic`, ``str`` and ``bool`` parameters return
a value of exactly their type as it is and hand any other value to Typer's
coercion, so a command receives the values Typer would give it. Paths,
numbers, enums and lists keep Typer's coercion.

It wraps a Typer internal (``typer.core.build_runtime_param``); with a Typer
that has none, it does nothing and Typer coerces everything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: annotations whose values of exactly that type Typer's adapters return unchanged
_PLAIN_TYPES = (str, bool)


def plain_params_without_pydantic() -> None:
    """Make Typer build pass-through coercions for ``str`` and ``bool``
    parameters (see the module docstring). Idempotent."""
    try:
        import typer.core as typer_core
        from typer._coercion import RuntimeParam
    except ImportError:  # another Typer: it coerces as it likes
        return
    found = getattr(typer_core, "build_runtime_param", None)
    if found is None or getattr(found, "plain_params", False):
        return
    typer_build: Callable[[Any], Any] = found

    class PlainParam(RuntimeParam):
        """A value of the annotated type as it is; any other by Typer."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation:
                return value
            return typer_build(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        if (
            descriptor.annotation in _PLAIN_TYPES
            and descriptor.file_annotation is None
            and descriptor.parameter_info.parser is None
        ):
            return PlainParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
        return typer_build(descriptor)

    build_runtime_param.plain_params = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build_runtime_param
