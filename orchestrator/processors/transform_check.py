"""Binding a transform's queries against the job's input before anything is stored.

The spec reader parses the SQL (``spec/transform_params.py``); whether it
*binds* — its columns exist, its functions take those types, its tables are
there — depends on the input, which only the machine has. So ``validate``
(``preflight.py``) runs each query here on an empty table with the input's
schema (from the first input file: a Parquet or Arrow footer, a CSV's first
MiB) and the dimension tables' schemas: DuckDB binds and plans it, nothing is
read. A keyed transform's ``sql`` is bound against what ``map_sql`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from orchestrator.processors.transform import one_line, run_sql
from orchestrator.spec.model import InputSpec

#: Bytes of a CSV read to learn its columns.
CSV_SAMPLE_BYTES = 1 << 20


def input_schema(spec: InputSpec) -> pa.Schema | None:
    """The schema of the first input file (None: no files yet, or a sequence)."""
    from orchestrator.errors import PlanningError
    from orchestrator.planning.discover import discover_inputs

    if spec.sequence is not None or not spec.path:
        return None
    try:
        found = discover_inputs(spec)
    except PlanningError:
        return None  # reported where the input is planned
    path, fmt = found[0]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path)
    if fmt == "csv":
        return _csv_schema(path, spec)
    with pa.memory_map(path) as source:
        return pa.ipc.open_file(source).schema


def _csv_schema(path: str, spec: InputSpec) -> pa.Schema:
    import pyarrow.csv as pacsv

    csv = spec.csv
    with open(path, "rb") as f:
        head = f.read(CSV_SAMPLE_BYTES)
    if len(head) == CSV_SAMPLE_BYTES:
        head = head[: head.rfind(b"\n") + 1] or head
    table = pacsv.read_csv(
        pa.BufferReader(head),
        read_options=pacsv.ReadOptions(
            encoding=csv.encoding, autogenerate_column_names=not csv.header
        ),
        parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, quote_char=csv.quote_char),
        convert_options=pacsv.ConvertOptions(
            column_types={k: pa.type_for_alias(v) for k, v in csv.column_types.items()}
        ),
    )
    return table.schema


def bind_problems(params: Mapping[str, Any], schema: pa.Schema) -> list[tuple[str, str]]:
    """``(param, message)`` for each query that does not bind against ``schema``."""
    from orchestrator.processors.transform import connection

    tables = params.get("tables") or {}
    try:
        con = connection(tables)
    except Exception as exc:
        return [("tables", str(exc))]
    rows = schema.empty_table()
    if params.get("map_sql") is not None:
        try:
            rows = run_sql(con, str(params["map_sql"]), rows)
        except duckdb.Error as exc:
            return [("map_sql", one_line(exc))]
    try:
        out = run_sql(con, str(params["sql"]), rows)
    except duckdb.Error as exc:
        return [("sql", one_line(exc))]
    missing = [k for k in _keys(params) if k not in rows.schema.names]
    if missing:
        where = "map_sql's result" if params.get("map_sql") is not None else "the input"
        return [("partition_by", f"column(s) {', '.join(missing)} not in {where}")]
    del out
    return []


def _keys(params: Mapping[str, Any]) -> list[str]:
    key = params.get("partition_by") or []
    return [key] if isinstance(key, str) else [str(k) for k in key]
