"""A dataset profile: per-chunk summaries merged into the figures a report shows.

:func:`summarize` turns one chunk into a JSON-able partial (every column's
:class:`~.sketch.ColumnSummary`, and the duplicate-key counter);
:func:`merge` folds partials together, in any order; :func:`figures` turns
the merged result into plain numbers and lists (``report.json``), which the
HTML and Markdown renderers only lay out.

Duplicates by ``key``: the exact count of every key hash while at most
:data:`EXACT_KEYS` distinct keys were seen; beyond that, ``rows - distinct``
estimated by an HLL sketch (reported as an estimate, with no count of the
keys that repeat). A row with a null in its key is nobody's duplicate.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from typing import Any

import datasketches as ds
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.processors.report.sketch import HLL_LG_K, ColumnSummary
from orchestrator.shuffle.keys import key_table, row_hashes

EXACT_KEYS = 20_000
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20


def summarize(table: pa.Table, key: Sequence[str]) -> dict[str, Any]:
    columns = [ColumnSummary.of(name, table.column(name)).to_dict() for name in table.column_names]
    partial: dict[str, Any] = {"rows": table.num_rows, "chunks": 1, "columns": columns}
    if key:
        keys_only = key_table(table, key)
        valid = pc.is_valid(keys_only.column(0))
        for column in keys_only.columns[1:]:
            valid = pc.and_(valid, pc.is_valid(column))
        keys_only = keys_only.filter(valid)  # a row with a null in its key is nobody's duplicate
        hashes = row_hashes(keys_only)
        counts = pc.value_counts(hashes)
        keys = counts.field("values").to_pylist()
        sketch = ds.hll_sketch(HLL_LG_K)
        for h in keys:
            sketch.update(h)
        exact = None
        if len(keys) <= EXACT_KEYS:
            exact = dict(zip(keys, counts.field("counts").to_pylist(), strict=True))
        partial["dups"] = {
            "rows": keys_only.num_rows,
            "exact": exact,
            "hll": base64.b64encode(sketch.serialize_compact()).decode(),
        }
    return partial


class Merged:
    """Partials folded together."""

    def __init__(self) -> None:
        self.rows = 0
        self.chunks = 0
        self.columns: dict[str, ColumnSummary] = {}
        self.order: list[str] = []
        self.key_counts: Counter[int] | None = Counter()
        self.key_hll = ds.hll_union(HLL_LG_K)
        self.has_key = False
        self.key_rows = 0

    def add(self, partial: dict[str, Any]) -> None:
        self.rows += int(partial["rows"])
        self.chunks += int(partial["chunks"])
        for d in partial["columns"]:
            summary = ColumnSummary.from_dict(d)
            if summary.name in self.columns:
                self.columns[summary.name].merge(summary)
            else:
                self.columns[summary.name] = summary
                self.order.append(summary.name)
        dups = partial.get("dups")
        if dups is not None:
            self.has_key = True
            self.key_rows += int(dups["rows"])
            self.key_hll.update(ds.hll_sketch.deserialize(base64.b64decode(dups["hll"])))
            if self.key_counts is not None and dups["exact"] is not None:
                self.key_counts.update({int(k): int(v) for k, v in dups["exact"].items()})
                if len(self.key_counts) > EXACT_KEYS:
                    self.key_counts = None
            else:
                self.key_counts = None


def merge(partials: Sequence[dict[str, Any]]) -> Merged:
    merged = Merged()
    for partial in partials:
        merged.add(partial)
    return merged


def figures(merged: Merged, title: str, key: Sequence[str]) -> dict[str, Any]:
    """The report's content as plain JSON-able data."""
    out: dict[str, Any] = {
        "title": title,
        "rows": merged.rows,
        "column_count": len(merged.order),
        "chunks": merged.chunks,
        "columns": [_column(merged.columns[name], merged.rows) for name in merged.order],
    }
    if merged.has_key:
        out["duplicates"] = _duplicates(merged, key)
    return out


def _column(s: ColumnSummary, rows: int) -> dict[str, Any]:
    distinct, exact = s.distinct()
    col: dict[str, Any] = {
        "name": s.name,
        "type": s.type,
        "kind": s.kind,
        "rows": s.rows,
        "nulls": s.nulls,
        "null_fraction": s.nulls / rows if rows else 0.0,
        "distinct": distinct,
        "distinct_exact": exact,
        "min": s.min,
        "max": s.max,
        "top_values": [list(t) for t in s.top_values()],
    }
    if s.kind == "number":
        col["mean"] = s.total / s.values if s.values else None
        col["sum"] = s.total
        qs = s.quantiles(QUANTILES)
        col["quantiles"] = (
            {f"p{round(q * 100):02d}": v for q, v in zip(QUANTILES, qs, strict=True)} if qs else {}
        )
        col["quantiles_exact"] = s.quantiles_exact
        col["histogram"] = [list(b) for b in s.histogram(HISTOGRAM_BINS) or []]
    if s.kind == "string" and s.len_min is not None:
        col["length"] = {
            "min": s.len_min,
            "max": s.len_max,
            "mean": s.len_total / s.values if s.values else None,
        }
        col["patterns"] = [list(p) for p in s.top_patterns()]
    return col


def _duplicates(merged: Merged, key: Sequence[str]) -> dict[str, Any]:
    counts = merged.key_counts
    if counts is not None:
        return {
            "key": list(key),
            "distinct_keys": len(counts),
            "rows_with_key": merged.key_rows,
            "duplicate_rows": merged.key_rows - len(counts),
            "repeated_keys": sum(1 for n in counts.values() if n > 1),
            "exact": True,
        }
    distinct = round(merged.key_hll.get_result().get_estimate())
    return {
        "key": list(key),
        "distinct_keys": distinct,
        "rows_with_key": merged.key_rows,
        "duplicate_rows": max(0, merged.key_rows - distinct),
        "repeated_keys": None,
        "exact": False,
    }
