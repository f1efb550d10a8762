"""Cast a chunk's output to the output's declared schema (``output.schema``), or say why not.

The parts of one output must share one schema. When the spec declares it,
each part is cast to it before it is written: a safe cast (int32 -> int64,
int64 -> string, a null column -> any type) passes; a cast that would lose or
invent data (text -> int64, float -> int64 with a fraction), a missing or an
undeclared column fails the chunk with the column and both types named.
Without a declaration the publish-time check (dispatch/reconcile.py) still
refuses parts that disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from orchestrator.errors import JobctlError


class OutputSchemaError(JobctlError):
    """A chunk's output does not fit ``output.schema``."""


def declared_schema(columns: Mapping[str, str]) -> pa.Schema:
    """``{column: arrow type name}`` as a schema, in the declared order."""
    return pa.schema([(name, pa.type_for_alias(type_name)) for name, type_name in columns.items()])


def cast_to(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, order and types (see the module docstring)."""
    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        raise OutputSchemaError(
            f"the output has column(s) {extra} that output.schema does not declare"
        )
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            raise OutputSchemaError(
                f"output.schema declares column {field.name!r} ({field.type}); the output has none"
            )
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise OutputSchemaError(
                    f"column {field.name!r} is {column.type} but output.schema declares "
                    f"{field.type}, and it cannot be cast safely: {exc}"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
