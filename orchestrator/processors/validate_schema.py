"""The ``schema:`` of ``type: validate``: a type and a nullability per column.

A value that cannot be read as its declared type does not fail the chunk: its
row is rejected (``_rule: schema``) and the valid rows leave with the declared
types. The cast is vectorized: the whole column at once when every value
fits, else a vectorized pre-check (a number pattern for integers and floats,
the strict ``date`` parser for ``date32``) and, for other types, one Python
cast per *distinct* failing candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.processors.validate_rules import RuleError

_INTEGER = r"^\s*[+-]?\d+\s*$"
_FLOAT = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$|^\s*[+-]?(?:inf|nan)\s*$"


def parse_schema(raw: Any) -> dict[str, dict[str, Any]]:
    """``{column: type}`` or ``{column: {type, nullable}}`` to ``{column: {type, nullable}}``."""
    if not isinstance(raw, Mapping) or not raw:
        raise RuleError("schema: expected a mapping {column: type} or {column: {type, nullable}}")
    out: dict[str, dict[str, Any]] = {}
    for column, spec in raw.items():
        entry = {"type": spec, "nullable": True} if isinstance(spec, str) else spec
        if not isinstance(entry, Mapping) or set(entry) - {"type", "nullable"}:
            raise RuleError(f"schema.{column}: expected a type or {{type: ..., nullable: ...}}")
        type_name = entry.get("type", "string")
        nullable = entry.get("nullable", True)
        try:
            pa.type_for_alias(str(type_name))
        except ValueError:
            raise RuleError(
                f"schema.{column}: unknown type {type_name!r} "
                "(Arrow names: int64, float64, string, bool, date32, timestamp[s]...)"
            ) from None
        if not isinstance(nullable, bool):
            raise RuleError(f"schema.{column}: nullable must be true or false")
        out[str(column)] = {"type": str(type_name), "nullable": nullable}
    return out


def cast_column(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """``values`` as ``target`` and a mask of the values that could not be (never null)."""
    if values.type == target:
        return values, pa.array([False] * len(values), pa.bool_())
    try:
        cast = pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        cast = _cast_per_value(values, target)
    failed = pc.and_(pc.is_valid(values), pc.is_null(cast))
    return cast, pc.fill_null(failed, False)


def _cast_per_value(values: pa.Array, target: pa.DataType) -> pa.Array:
    text = values
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        pattern = None
        if pa.types.is_integer(target):
            pattern = _INTEGER
        elif pa.types.is_floating(target):
            pattern = _FLOAT
        elif pa.types.is_date32(target):
            from orchestrator.standardize.dates import parse_dates

            return parse_dates(values, ["%Y-%m-%d"])
        if pattern is not None:
            fits = pc.match_substring_regex(values, pattern, ignore_case=True)
            text = pc.utf8_trim_whitespace(pc.if_else(fits, values, pa.scalar(None, values.type)))
            try:
                return pc.cast(text, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass  # an integer too large for the type: value by value below
    encoded = text.dictionary_encode()
    distinct = encoded.dictionary
    cast = []
    for index in range(len(distinct)):
        try:
            cast.append(pc.cast(distinct.slice(index, 1), target)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            cast.append(None)
    return pa.array(cast, type=target).take(encoded.indices)
