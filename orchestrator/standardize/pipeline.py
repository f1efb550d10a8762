"""A job's ``steps:``: standardization steps run on the chunk's table, in order.

The spec writes each step as a one-key mapping::

    steps:
      - trim: [name, email]                        # a column step on these columns
      - null_tokens: "*"                           # ... on every text column
      - phone: {columns: phone, region: GB, into: phone_e164}   # with options
      - rename: {dob: birth_date}                  # whole-table steps
      - derive: {column: full_name, expr: "first || ' ' || last"}
      - select: [full_name, email, phone_e164, birth_date]

:func:`parse_entry` turns one entry into its canonical form (stored with the
job, sent to workers); :func:`next_columns` follows the column names through
the list where they are known (after a ``select``, or from the input's
header), so a step naming a column that cannot exist is refused at validate;
:func:`apply_pipeline` runs the list on a table in the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.expressions import compile_expression
from orchestrator.standardize.registry import get_step, resolve_options
from orchestrator.standardize.table_steps import column_names, require_columns

#: ``columns: "*"``: every text column of the table when the step runs.
ALL_TEXT = "*"

Entry = dict[str, Any]


def parse_entry(raw: Any) -> Entry:
    """The canonical form of one spec entry (see the module docstring)."""
    if isinstance(raw, str):
        step = get_step(raw, scope=None)
        if step.scope == "column":
            raise StandardizeError(
                f"step {raw!r} needs its columns: write {{{raw}: [column, ...]}} "
                f'(or {{{raw}: "*"}} for every text column)'
            )
        raise StandardizeError(f"step {raw!r} needs an argument: write {{{raw}: ...}}")
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise StandardizeError(
            "write a step as a one-key mapping, e.g. {trim: [name]} or "
            "{phone: {columns: [phone], region: US}}"
        )
    ((name, arg),) = raw.items()
    step = get_step(str(name), scope=None)
    if step.scope == "table":
        assert step.table_check is not None
        return {"step": step.name, "arg": step.table_check(arg)}
    options = dict(arg) if isinstance(arg, Mapping) else {"columns": arg}
    if "columns" not in options:
        raise StandardizeError(f"step {step.name!r}: name its columns (columns: [...])")
    columns = options.pop("columns")
    into = options.pop("into", None)
    columns = [ALL_TEXT] if columns == ALL_TEXT else column_names(columns, step.name)
    if into is not None and (not isinstance(into, str) or not into or len(columns) != 1):
        raise StandardizeError(
            f"step {step.name!r}: 'into' names one new column, for a step on one column"
        )
    if into is not None and columns == [ALL_TEXT]:
        raise StandardizeError(f"step {step.name!r}: 'into' needs one named column, not \"*\"")
    return {
        "step": step.name,
        "columns": columns,
        "into": into,
        "options": resolve_options(step.name, options),
    }


def parse_pipeline(entries: Sequence[Any]) -> list[Entry]:
    """Every entry parsed; the error names the 1-based step number."""
    out = []
    for index, raw in enumerate(entries):
        try:
            out.append(parse_entry(raw))
        except StandardizeError as exc:
            raise StandardizeError(f"step {index + 1}: {exc}") from None
    return out


def next_columns(entry: Entry, known: list[str] | None) -> list[str] | None:
    """The columns after ``entry`` (None: not known); raises for a column that is
    known not to exist."""
    name = entry["step"]
    if name == "select":
        if known is not None:
            _require(known, entry["arg"], name)
        return list(entry["arg"])
    if name == "derive":
        if known is not None:
            _require(known, list(compile_expression(entry["arg"]["expr"]).columns), name)
            column = entry["arg"]["column"]
            return known if column in known else [*known, column]
        return None
    if known is None:
        return None
    if name == "drop":
        _require(known, entry["arg"], name)
        return [c for c in known if c not in entry["arg"]]
    if name == "rename":
        _require(known, list(entry["arg"]), name)
        return [entry["arg"].get(c, c) for c in known]
    if entry["columns"] != [ALL_TEXT]:
        _require(known, entry["columns"], name)
    into = entry.get("into")
    return known if into is None or into in known else [*known, into]


def _require(known: Sequence[str], names: Sequence[str], step: str) -> None:
    missing = [n for n in names if n not in known]
    if missing:
        raise StandardizeError(
            f"step {step!r}: no column {', '.join(map(repr, missing))} at this point "
            f"(columns here: {', '.join(known)})"
        )


def _text_columns(table: pa.Table) -> list[str]:
    def is_text(t: pa.DataType) -> bool:
        if pa.types.is_dictionary(t):
            return is_text(t.value_type)
        return pa.types.is_string(t) or pa.types.is_large_string(t)

    return [f.name for f in table.schema if is_text(f.type)]


def apply_pipeline(table: pa.Table, entries: Sequence[Entry]) -> pa.Table:
    """Run canonical entries (:func:`parse_entry`) on ``table``, in order."""
    for entry in entries:
        step = get_step(entry["step"], scope=None)
        if step.scope == "table":
            assert step.table_func is not None
            table = step.table_func(table, entry["arg"])
            continue
        columns = entry["columns"]
        columns = _text_columns(table) if columns == [ALL_TEXT] else columns
        require_columns(table, columns, step.name)
        for column in columns:
            values = step.func(table.column(column).combine_chunks(), entry["options"])
            target = entry.get("into") or column
            if target in table.column_names:
                table = table.set_column(table.column_names.index(target), target, values)
            else:
                table = table.append_column(target, values)
    return table
