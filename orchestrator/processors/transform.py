"""``type: transform``: SQL over Arrow rows with DuckDB, per chunk or per key.

DuckDB runs in the worker process and reads the chunk's Arrow table in place
(registered as the view ``chunk``, no copy), so a per-chunk query costs what
the query costs. Params (checked by :func:`check_params`, at validate too):

- ``sql``: a ``SELECT ... FROM chunk``. Without ``partition_by`` it runs on
  each chunk (filters, projections, per-row expressions, joins against
  ``tables``). With ``partition_by`` the job is a map_reduce
  (``spec/strategy.py``): rows are shuffled by those columns and ``sql`` runs
  once per reduce partition, over every row of its keys, so a ``GROUP BY``
  or a window ``PARTITION BY`` over those keys is exact dataset-wide.
- ``map_sql``: with ``partition_by``, an optional per-chunk query run before
  the shuffle (project, filter, pre-join a dimension); its output is what
  ``sql`` sees as ``chunk``.
- ``tables``: ``{name: path}`` of small Parquet, CSV or Arrow files (dimension
  tables) loaded once per worker process by :func:`setup`, joinable by name.

The worker runs :func:`setup` once per job (``ctx.resources`` holds the
DuckDB connection with the tables in it).
DuckDB is given one thread: jobctl already runs one worker per core.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from orchestrator.errors import ProcessorError
from orchestrator.processors.base import ChunkContext, SetupContext, partition_wise

#: The view name a query reads the rows from.
CHUNK_VIEW = "chunk"
PARAMS = ("sql", "map_sql", "partition_by", "tables", "step")
#: ``step`` is set by the planner on the map phase of a keyed transform.
MAP_STEP = "map"
TABLE_FORMATS = (".parquet", ".csv", ".arrow", ".feather")


def check_params(params: Mapping[str, Any]) -> None:
    """Shape of the params, and each query parsed by DuckDB (binding needs the
    input's schema: ``processors/transform_check.py`` does it at validate)."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ProcessorError(
            f"transform params: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(PARAMS[:4])})"
        )
    for key in ("sql", "map_sql"):
        value = params.get(key)
        if key == "sql" and value is None:
            raise ProcessorError("transform needs params.sql: a SELECT ... FROM chunk")
        if value is not None:
            parse_problem = sql_parse_problem(value)
            if parse_problem:
                raise ProcessorError(f"transform params.{key}: {parse_problem}")
    if params.get("map_sql") is not None and not params.get("partition_by"):
        raise ProcessorError("transform params.map_sql needs params.partition_by (the shuffle key)")
    tables = params.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise ProcessorError("transform params.tables must map a table name to a file path")
    for name, path in tables.items():
        if not str(name).isidentifier() or str(name).lower() == CHUNK_VIEW:
            raise ProcessorError(f"transform params.tables: {name!r} is not a usable table name")
        if not isinstance(path, str) or not path.lower().endswith(TABLE_FORMATS):
            raise ProcessorError(
                f"transform params.tables.{name}: expected a path ending in "
                f"{', '.join(TABLE_FORMATS)}, got {path!r}"
            )


def sql_parse_problem(sql: Any) -> str | None:
    """Why DuckDB cannot parse ``sql`` as one statement, or None."""
    if not isinstance(sql, str) or not sql.strip():
        return "must be a non-empty SQL query"
    try:
        statements = scratch_connection().extract_statements(sql)
    except duckdb.Error as exc:
        return one_line(exc)
    if len(statements) != 1:
        return f"must be one query, found {len(statements)} statements"
    return None


def one_line(exc: BaseException) -> str:
    """DuckDB's message on one line (it quotes the SQL's own line and points at it)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def read_table(path: str) -> pa.Table:
    """A dimension table from a local Parquet, CSV or Arrow IPC file."""
    lower = path.lower()
    if lower.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if lower.endswith(".csv"):
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path)
    with pa.memory_map(path) as source:
        return pa.ipc.open_file(source).read_all()


@functools.lru_cache(maxsize=1)
def _database() -> duckdb.DuckDBPyConnection:
    """The process's one in-memory DuckDB database, with one thread.

    Opening a database costs 50-75 ms (its buffer manager, catalog and
    settings), a cursor on it microseconds: `jobctl run` of one keyed
    transform opened six (parse three times, bind twice, the columns its sql
    names), 0.3 s before its first chunk, and each worker two more before
    its first. Every user gets its own cursor (:func:`scratch_connection`):
    registered views are the cursor's own, so nothing leaks between jobs.
    """
    return duckdb.connect(":memory:", config={"threads": 1})


def scratch_connection() -> duckdb.DuckDBPyConnection:
    """A fresh connection (a cursor) on the process's shared database."""
    return _database().cursor()


def connection(tables: Mapping[str, Any]) -> duckdb.DuckDBPyConnection:
    """A connection of one thread with ``tables`` loaded as named tables
    (a cursor on the shared database: views and tables registered on it are its own)."""
    con = scratch_connection()
    for name, path in tables.items():
        if not os.path.exists(str(path)):
            raise ProcessorError(f"transform params.tables.{name}: no such file {path}")
        con.register(str(name), read_table(str(path)))
    return con


def setup(ctx: SetupContext) -> dict[str, Any]:
    """Once per worker process: the connection and the dimension tables."""
    return {"duckdb": connection(ctx.params.get("tables") or {})}


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, table: pa.Table) -> pa.Table:
    """``sql`` over ``table`` as the view ``chunk``, the result as Arrow."""
    con.register(CHUNK_VIEW, table)
    try:
        relation = con.sql(sql)
        if relation is None:
            raise ProcessorError("transform sql must be a query that returns rows")
        out: pa.Table = (
            relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        )
        return out
    finally:
        con.unregister(CHUNK_VIEW)


@partition_wise
def transform(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    params = ctx.params
    sql = params["map_sql"] if params.get("step") == MAP_STEP else params["sql"]
    resources = ctx.resources or {}
    con = resources.get("duckdb")
    if con is None:  # called without setup (in-process use): a connection for this call
        con = connection(params.get("tables") or {})
    return run_sql(con, sql, table)
