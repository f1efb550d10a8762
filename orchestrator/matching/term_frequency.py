"""Term-frequency adjustments: agreeing on "Smith" is weaker evidence than on "Zelwick".

For a pair that agrees exactly on value v, a non-match agrees on v with
probability tf(v)² (tf = the value's share of records) and a match with
probability m_exact × tf(v), so the Bayes factor is m_exact / tf(v) instead of
the field's average m_exact / u_exact. The adjustment added to the exact level's
weight is therefore log2(u_exact / tf(v)): positive for rare values, negative
for common ones (the same rule as Splink's term-frequency adjustments).

Value counts come from Arrow's ``value_counts`` per chunk and add up across
chunks (:func:`merge_value_counts`), so a map_reduce pass can compute them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TF_SCHEMA = pa.schema([("value", pa.string()), ("count", pa.int64())])


def value_counts(values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Non-null value → count, as a (value, count) table."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    counted = pc.value_counts(pc.drop_null(pc.cast(values, pa.string())))
    return pa.table(
        {"value": counted.field("values"), "count": pc.cast(counted.field("counts"), pa.int64())},
        schema=TF_SCHEMA,
    )


def merge_value_counts(parts: Iterable[pa.Table]) -> pa.Table:
    """Sum (value, count) tables from several chunks."""
    tables = list(parts)
    if not tables:
        return TF_SCHEMA.empty_table()
    summed = pa.concat_tables(tables).group_by("value").aggregate([("count", "sum")])
    return summed.rename_columns(["value", "count"]).cast(TF_SCHEMA)


def tf_adjustments(
    pair_values: pa.Array | pa.ChunkedArray,
    counts: pa.Table,
    u_exact: float,
    agrees_exactly: np.ndarray,
) -> np.ndarray:
    """log2(u_exact / tf(v)) for pairs that agree exactly on value v; 0 for the others.

    ``pair_values`` is the (shared) value of each pair, ``counts`` the dataset's
    value counts. A value missing from ``counts`` is treated as seen once.
    """
    if isinstance(pair_values, pa.ChunkedArray):
        pair_values = pair_values.combine_chunks()
    total = float(pc.sum(counts["count"]).as_py() or 0) or 1.0
    where = pc.index_in(pc.cast(pair_values, pa.string()), value_set=counts["value"])
    found = pc.take(counts["count"], where)
    count = pc.fill_null(found, 1).to_numpy(zero_copy_only=False).astype(np.float64)
    adjustment = np.log2(u_exact / (count / total))
    return np.where(np.asarray(agrees_exactly, dtype=bool), adjustment, 0.0)


def u_exact_from_counts(counts: pa.Table) -> float:
    """Σ tf(v)²: the chance two random records agree on this field (nulls left out)."""
    values = counts["count"].to_numpy().astype(np.float64)
    total = values.sum()
    return float(((values / total) ** 2).sum()) if total else 0.0
