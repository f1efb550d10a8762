"""Whole-table steps: ``rename``, ``select``, ``drop``, ``derive``, and the ``cast`` column step.

These reshape the table between column steps, so a job's ``steps:`` can clean
columns, build a new one from them and keep only what the processor needs.
Each checks its argument when the spec is read (the ``check`` given to
:func:`~orchestrator.standardize.registry.register_table`) and names the
missing column at run time, with the columns the table has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.expressions import compile_expression, evaluate
from orchestrator.standardize.registry import register, register_table


def column_names(value: Any, step: str) -> list[str]:
    """One column name or a non-empty list of them."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        raise StandardizeError(f"step {step!r}: expected a column name or a list of them")
    if not all(isinstance(n, str) and n for n in names):
        raise StandardizeError(f"step {step!r}: column names must be non-empty strings")
    return list(dict.fromkeys(names))


def require_columns(table: pa.Table, names: Sequence[str], step: str) -> None:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise StandardizeError(
            f"step {step!r}: no column {', '.join(map(repr, missing))} "
            f"(the table has: {', '.join(table.column_names)})"
        )


def _check_rename(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise StandardizeError("step 'rename': expected a mapping {old_name: new_name}")
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        raise StandardizeError("step 'rename': names must be non-empty strings")
    targets = list(value.values())
    if len(set(targets)) != len(targets):
        raise StandardizeError("step 'rename': two columns renamed to the same name")
    return dict(value)


@register_table("rename", _check_rename)
def rename(table: pa.Table, mapping: Mapping[str, str]) -> pa.Table:
    """Rename columns ``{old: new}``; the others keep their names and places."""
    require_columns(table, list(mapping), "rename")
    names = [mapping.get(name, name) for name in table.column_names]
    if len(set(names)) != len(names):
        raise StandardizeError(f"step 'rename': the result has a column twice: {names}")
    return table.rename_columns(names)


@register_table("select", lambda value: column_names(value, "select"))
def select(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """Keep only these columns, in this order."""
    require_columns(table, names, "select")
    return table.select(list(names))


@register_table("drop", lambda value: column_names(value, "drop"))
def drop(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """Remove these columns."""
    require_columns(table, names, "drop")
    return table.drop_columns(list(names))


def _check_derive(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or set(value) != {"column", "expr"}:
        raise StandardizeError(
            "step 'derive': expected {column: new_name, expr: \"SQL expression\"}"
        )
    column, expr = value["column"], value["expr"]
    if not isinstance(column, str) or not column:
        raise StandardizeError("step 'derive': column must be a non-empty name")
    compile_expression(expr, "step 'derive'")
    return {"column": column, "expr": expr}


@register_table("derive", _check_derive)
def derive(table: pa.Table, spec: Mapping[str, str]) -> pa.Table:
    """Add (or replace) a column computed by a SQL expression over the row's columns."""
    values = evaluate(compile_expression(spec["expr"], "step 'derive'"), table)
    name = spec["column"]
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def _check_cast(options: Mapping[str, Any]) -> None:
    try:
        pa.type_for_alias(str(options["type"]))
    except ValueError:
        raise StandardizeError(
            f"step 'cast': unknown type {options['type']!r} (Arrow names: int64, float64, "
            "string, bool, date32, timestamp[s]...; for dates in other formats use 'date', "
            "for numbers with separators 'number')"
        ) from None


@register("cast", {"type": "string"}, check=_check_cast)
def cast(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Cast to an Arrow type (safely: a value that does not fit fails the chunk, naming it)."""
    target = pa.type_for_alias(str(options["type"]))
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StandardizeError(f"step 'cast' to {target}: {exc}") from None
