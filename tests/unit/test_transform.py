"""type: transform in-process: params checks, the implied map_reduce, SQL over a chunk."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import ProcessorError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.processors.base import ChunkContext, SetupContext
from orchestrator.processors.transform import check_params, setup, transform
from orchestrator.processors.transform_check import bind_problems
from orchestrator.spec.loader import load_spec_text

CHUNK = ChunkDescriptor(seq=0, kind="sequence", path=None, start=0, stop=1, est_rows=1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs params.sql"),
        ({"sql": "SELECT 1; SELECT 2"}, "one query, found 2"),
        ({"sql": "SELECT * FROM chunk", "filter": 1}, "unknown key(s) filter"),
        ({"sql": "SELECT * FROM chunk", "map_sql": "SELECT 1"}, "needs params.partition_by"),
        ({"sql": "SELECT 1", "tables": {"chunk": "a.parquet"}}, "not a usable table name"),
        ({"sql": "SELECT 1", "tables": {"dim": "a.xlsx"}}, "expected a path ending in"),
    ],
)
def test_bad_params_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(ProcessorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_params(params)


def test_a_chunk_joined_with_a_dimension_table_loaded_once(tmp_path: Path) -> None:
    pq.write_table(pa.table({"k": [1, 2], "name": ["one", "two"]}), tmp_path / "dim.parquet")
    params = {
        "sql": "SELECT c.v, d.name FROM chunk c JOIN dim d USING (k) ORDER BY c.v",
        "tables": {"dim": str(tmp_path / "dim.parquet")},
    }
    check_params(params)
    resources = setup(SetupContext(params, "j"))
    chunk = pa.table({"k": [2, 1, 3, 2], "v": [10, 20, 30, 40]})
    ctx = ChunkContext(params=params, chunk=CHUNK, job_name="j", resources=resources)
    out = transform(chunk, ctx)
    con = duckdb.connect()
    con.register("chunk", chunk)
    dim = tmp_path / "dim.parquet"
    expected = con.sql(
        f"SELECT c.v, d.name FROM chunk c JOIN '{dim}' d USING (k) ORDER BY c.v"
    ).fetchall()
    assert list(zip(out["v"].to_pylist(), out["name"].to_pylist(), strict=True)) == expected
    assert bind_problems(params, chunk.schema) == []
    assert bind_problems({**params, "sql": "SELECT nope FROM chunk"}, chunk.schema)[0][0] == "sql"


def test_partition_by_makes_a_map_reduce_whose_map_runs_map_sql(tmp_path: Path) -> None:
    text = """version: 1
jobs:
  - name: t
    type: transform
    params:
      partition_by: [k]
      map_sql: SELECT * FROM chunk
      sql: SELECT k, count(*) FROM chunk GROUP BY k
      tables: {d: dim.csv}
    input: {path: in.parquet}
    output: {path: out/}
"""
    [job] = load_spec_text(text, str(tmp_path / "jobs.yaml")).jobs
    assert job.strategy == "map_reduce"
    assert job.params["tables"] == {"d": str(tmp_path / "dim.csv")}
    options = job.strategy_options or {}
    assert options["partition_by"] == ("k",) or list(options["partition_by"]) == ["k"]
    assert options["map"]["type"] == "transform" and options["map"]["params"]["step"] == "map"
