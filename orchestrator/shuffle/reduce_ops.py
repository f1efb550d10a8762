"""Built-in reduce steps on one partition: exact dedup and group-by aggregation.

They run on the table :func:`~orchestrator.shuffle.manifest.read_partition`
returns, which holds every row of its keys, so a per-partition result is the
global result for those keys and the concatenation over partitions equals a
single-process run.

polars does the key work (``is_first_distinct`` / ``group_by`` over the
normalized keys, several times faster than ``pyarrow.Table.group_by``). Dedup
only computes a row mask with polars and filters the original Arrow table, so
the output keeps the input's exact schema; aggregation casts its results back
to the types ``pyarrow.Table.group_by`` gives, so both are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from orchestrator.errors import ProcessorError
from orchestrator.shuffle.keys import NORMALIZERS, hash_ready, key_table

KEEP: tuple[str, ...] = ("first", "last")
NULL_KEYS: tuple[str, ...] = ("keep", "dedupe")
#: pyarrow aggregation names this module implements, with their result types.
AGGREGATIONS: tuple[str, ...] = (
    "count",
    "count_all",
    "sum",
    "min",
    "max",
    "mean",
    "count_distinct",
)


def check_dedupe_params(params: Mapping[str, Any]) -> tuple[list[str], list[str], str, str]:
    """``key``, ``normalize``, ``keep``, ``null_keys`` of a dedupe step; raises
    ProcessorError naming the bad parameter."""
    key = params.get("key")
    if isinstance(key, str):
        key = [key]
    if not key or not all(isinstance(k, str) and k for k in key):
        raise ProcessorError("dedupe needs params.key: a column name or a list of them")
    normalize = params.get("normalize") or []
    if isinstance(normalize, str):
        normalize = [normalize]
    bad = [n for n in normalize if n not in NORMALIZERS]
    if bad:
        raise ProcessorError(
            f"dedupe params.normalize: unknown {', '.join(map(str, bad))} "
            f"(use {', '.join(NORMALIZERS)})"
        )
    keep = params.get("keep", "first")
    if keep not in KEEP:
        raise ProcessorError(f"dedupe params.keep must be one of {', '.join(KEEP)}, not {keep!r}")
    null_keys = params.get("null_keys", "keep")
    if null_keys not in NULL_KEYS:
        raise ProcessorError(
            f"dedupe params.null_keys must be one of {', '.join(NULL_KEYS)}, not {null_keys!r}"
        )
    return list(key), list(normalize), str(keep), str(null_keys)


def dedupe(
    table: pa.Table,
    key: Sequence[str],
    normalize: Sequence[str] = (),
    keep: str = "first",
    null_keys: str = "keep",
) -> pa.Table:
    """The rows of ``table`` whose normalized ``key`` was not seen before
    (``keep: first``; ``last`` keeps the last occurrence), in table order.

    ``null_keys: keep`` (the default) keeps every row with a null in its key:
    a missing e-mail address is not a duplicate of another missing one.
    """
    if table.num_rows == 0:
        return table
    keys = key_table(table, key, normalize)
    frame = pl.from_arrow(hash_ready(keys), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    struct = pl.struct(pl.all())
    distinct = struct.is_first_distinct() if keep == "first" else struct.is_last_distinct()
    if null_keys == "keep":
        distinct = distinct | pl.any_horizontal(pl.all().is_null())
    mask = frame.select(distinct.alias("m")).to_series().to_arrow()
    return table.filter(mask)


def aggregate(
    table: pa.Table, keys: Sequence[str], aggregations: Sequence[tuple[Any, str]]
) -> pa.Table:
    """``pyarrow.Table.group_by(keys).aggregate(aggregations)`` computed by polars:
    same column names (``{column}_{function}``) and types, groups in first-seen order.

    ``aggregations`` are ``(column, function)`` with function one of
    :data:`AGGREGATIONS` (``count`` counts non-null values, ``count_all`` rows;
    ``count_all`` takes ``[]`` as its column, as in pyarrow).
    """
    exprs: list[pl.Expr] = []
    names: list[str] = []
    for column, function in aggregations:
        if function not in AGGREGATIONS:
            raise ProcessorError(
                f"aggregation {function!r} is not supported (use {', '.join(AGGREGATIONS)})"
            )
        name = "count_all" if function == "count_all" else f"{column}_{function}"
        col = pl.col(column) if isinstance(column, str) else pl.first()
        expr = {
            "count": col.count(),
            "count_all": pl.len(),
            "sum": pl.when(col.count() > 0).then(col.sum()),  # all null: null, as pyarrow
            "min": col.min(),
            "max": col.max(),
            "mean": col.mean(),
            "count_distinct": col.drop_nulls().n_unique(),  # nulls not counted, as pyarrow
        }[function]
        exprs.append(expr.alias(name))
        names.append(name)
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    out = frame.group_by(list(keys), maintain_order=True).agg(exprs).to_arrow()
    expected = pa.schema(
        [table.schema.field(k) for k in keys]
        + [
            _result_field(table.schema, c, f, n)
            for (c, f), n in zip(aggregations, names, strict=True)
        ]
    )
    return pa.table([out.column(f.name).cast(f.type) for f in expected], schema=expected)


def _result_field(schema: pa.Schema, column: Any, function: str, name: str) -> pa.Field:
    """The type pyarrow's group_by gives ``function`` over ``column``."""
    if function in ("count", "count_all", "count_distinct"):
        return pa.field(name, pa.int64())
    t = schema.field(column).type
    if function == "mean":
        return pa.field(name, pa.float64())
    if function == "sum" and pa.types.is_integer(t):
        return pa.field(name, pa.uint64() if pa.types.is_unsigned_integer(t) else pa.int64())
    if function == "sum" and pa.types.is_floating(t):
        return pa.field(name, pa.float64())
    return pa.field(name, t)
