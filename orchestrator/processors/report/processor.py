"""``type: report``: a dataset profile, summarized per chunk and merged in a final phase.

The job is a map_reduce whose shuffle key is a constant (``spec/strategy.py``
implies it): the map step (``step: map``) turns each chunk into one row
holding its summary (:func:`~.profile.summarize`: exact counts and
mergeable sketches, never the rows), and the single reduce chunk merges
those rows and writes the report. Memory is bounded by a chunk on the map
side and by the summaries (a few hundred KB per chunk) on the reduce side.

Output: the part is one row per column (name, type, nulls, distinct, min,
max, mean, quantiles); beside it, published into the output folder and
listed in ``_SUCCESS``, ``report.html`` (self-contained, inline SVG),
``report.json`` (every figure) and ``report.md``. Params: ``key`` (columns
whose repeated values count as duplicates), ``title``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from orchestrator.errors import ProcessorError
from orchestrator.processors.base import ChunkContext
from orchestrator.processors.report.profile import figures, merge, summarize
from orchestrator.processors.report.render_html import render_html
from orchestrator.processors.report.render_text import render_json, render_markdown

PARAMS = ("key", "title", "step")
MAP_STEP = "map"
#: The constant shuffle key of the map step's rows.
REPORT_KEY = "_report"
FILES = ("report.html", "report.json", "report.md")


def keys_of(params: Mapping[str, Any]) -> list[str]:
    key = params.get("key") or []
    return [key] if isinstance(key, str) else [str(k) for k in key]


def check_params(params: Mapping[str, Any]) -> None:
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ProcessorError(
            f"report params: unknown key(s) {', '.join(unknown)} (known: key, title)"
        )
    key = params.get("key")
    if key is not None and not (
        isinstance(key, str)
        or (isinstance(key, list) and key and all(isinstance(k, str) for k in key))
    ):
        raise ProcessorError("report params.key must be a column or a list of columns")
    title = params.get("title")
    if title is not None and not isinstance(title, str):
        raise ProcessorError("report params.title must be text")


def report(table: pa.Table, ctx: ChunkContext) -> pa.Table | None:
    params = ctx.params
    key = keys_of(params)
    if params.get("step") == MAP_STEP:
        missing = [k for k in key if k not in table.column_names]
        if missing:
            raise ProcessorError(f"report params.key: no column {', '.join(missing)} in the input")
        partial = json.dumps(summarize(table, key), separators=(",", ":")).encode()
        return pa.table(
            {REPORT_KEY: pa.array([0], pa.int8()), "summary": pa.array([partial], pa.binary())}
        )
    if table.num_rows == 0:
        return None  # a reduce chunk without summaries (the job had no input rows)
    partials = [json.loads(b) for b in table.column("summary").to_pylist()]
    fig = figures(merge(partials), str(params.get("title") or f"Profile of {ctx.job_name}"), key)
    ctx.files.update(
        {
            "report.html": render_html(fig).encode(),
            "report.json": render_json(fig).encode(),
            "report.md": render_markdown(fig).encode(),
        }
    )
    return profile_table(fig)


def profile_table(fig: dict[str, Any]) -> pa.Table:
    """One row per column: the figures a query over the output wants."""
    cols = fig["columns"]

    def q(c: dict[str, Any], name: str) -> float | None:
        return (c.get("quantiles") or {}).get(name)

    return pa.table(
        {
            "column": pa.array([c["name"] for c in cols], pa.string()),
            "type": pa.array([c["type"] for c in cols], pa.string()),
            "rows": pa.array([c["rows"] for c in cols], pa.int64()),
            "nulls": pa.array([c["nulls"] for c in cols], pa.int64()),
            "distinct": pa.array([c["distinct"] for c in cols], pa.int64()),
            "distinct_exact": pa.array([c["distinct_exact"] for c in cols], pa.bool_()),
            "min": pa.array([_text(c.get("min")) for c in cols], pa.string()),
            "max": pa.array([_text(c.get("max")) for c in cols], pa.string()),
            "mean": pa.array([c.get("mean") for c in cols], pa.float64()),
            "p05": pa.array([q(c, "p05") for c in cols], pa.float64()),
            "p50": pa.array([q(c, "p50") for c in cols], pa.float64()),
            "p95": pa.array([q(c, "p95") for c in cols], pa.float64()),
        }
    )


def _text(v: Any) -> str | None:
    return None if v is None else str(v)
