"""Column expressions written as SQL (``first || ' ' || last``, ``amount >= 0``).

A ``derive`` step and a validate ``expression`` rule both take one SQL
expression over the row's columns. It is compiled by Polars' SQL parser
(``polars.sql_expr``) into a Polars expression and evaluated vectorized on the
columns it names: no Python is evaluated, and the parser knows no table
functions, so an expression cannot read files or run statements (a ``;`` is a
parse error). Compiling needs no data, so a bad expression is refused when
the spec is read, and the columns it names are known then too.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from orchestrator.standardize.errors import StandardizeError


@dataclass(frozen=True)
class Expression:
    """A compiled SQL expression and the input columns it reads."""

    text: str
    expr: pl.Expr
    columns: tuple[str, ...]


def compile_expression(text: str, what: str = "expression") -> Expression:
    """Parse ``text``; a syntax error or an unsupported function is a StandardizeError."""
    if not isinstance(text, str) or not text.strip():
        raise StandardizeError(f"{what}: expected a SQL expression, e.g. \"first || ' ' || last\"")
    try:
        expr = pl.sql_expr(text)
        columns = tuple(dict.fromkeys(expr.meta.root_names()))
    except pl.exceptions.PolarsError as exc:
        raise StandardizeError(f"{what} {text!r}: {exc}") from None
    return Expression(text, expr, columns)


def evaluate(expression: Expression, table: pa.Table) -> pa.Array:
    """The expression's value for every row of ``table``, as one Arrow array.

    Only the named columns cross into Polars; Polars' large/view strings come
    back as plain ``string`` so the column fits beside the table's others.
    """
    missing = [c for c in expression.columns if c not in table.column_names]
    if missing:
        have = ", ".join(table.column_names)
        raise StandardizeError(
            f"expression {expression.text!r} names column(s) {', '.join(missing)} "
            f"that the table does not have (it has: {have})"
        )
    frame = pl.from_arrow(table.select(list(expression.columns)), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    try:
        if frame.width == 0:  # a constant expression: give it the table's length
            frame = pl.DataFrame({"__rows": pl.int_range(table.num_rows, eager=True)})
        result = frame.select(expression.expr.alias("__value")).to_arrow().column(0)
    except pl.exceptions.PolarsError as exc:
        raise StandardizeError(f"expression {expression.text!r}: {exc}") from None
    array = result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result
    if len(array) == 1 and table.num_rows != 1:  # a scalar result: one per row
        array = pa.repeat(array[0], table.num_rows)
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array
