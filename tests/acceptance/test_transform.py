"""type: transform through `jobctl run`: SQL per chunk, and dataset-wide SQL
(GROUP BY, a window over the key, a join with a dimension table) as a
map_reduce, each equal to DuckDB over the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

PER_CHUNK = """version: 1
jobs:
  - name: big-orders
    type: transform
    params:
      sql: SELECT id, qty * price AS total FROM chunk WHERE qty > 2
    input: {path: sales.csv, format: csv}
    chunking: {bytes: 2KB}
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""

KEYED = """version: 1
jobs:
  - name: by-region
    type: transform
    params:
      tables: {regions: regions.csv}
      map_sql: SELECT s.*, r.region FROM chunk s JOIN regions r USING (region_id)
      partition_by: region
      sql: |
        SELECT region, count(*) AS orders, sum(qty * price) AS revenue,
               count(DISTINCT id % 7) AS buckets
        FROM chunk GROUP BY region
    input: {path: sales.csv, format: csv}
    chunking: {bytes: 2KB}
    output: {path: by-region/, format: parquet}
    executor: {local: {workers: 2}}
  - name: ranked
    type: transform
    params:
      partition_by: region_id
      sql: >-
        SELECT id, region_id, row_number() OVER (PARTITION BY region_id ORDER BY id) AS rn
        FROM chunk
    input: {path: sales.csv, format: csv}
    chunking: {bytes: 2KB}
    output: {path: ranked/, format: parquet}
    executor: {local: {workers: 2}}
"""


def _write_sales(tmp_path: Path) -> None:
    lines = ["id,region_id,qty,price"]
    for i in range(600):
        lines.append(f"{i},{i * 7 % 13},{i % 5},{100 + i % 37}")
    (tmp_path / "sales.csv").write_text("\n".join(lines) + "\n")
    regions = ["region_id,region"] + [
        f"{r},{'north' if r % 3 else 'south'}-{r % 4}" for r in range(12)
    ]
    (tmp_path / "regions.csv").write_text("\n".join(regions) + "\n")


def _output(folder: Path) -> pa.Table:
    manifest = json.loads((folder / "_SUCCESS").read_text())
    return pa.concat_tables(pq.read_table(folder / p["file"]) for p in manifest["parts"])


def _duckdb(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    sales = str(tmp_path / "sales.csv")
    regions = str(tmp_path / "regions.csv")
    return sorted(con.sql(sql.format(sales=sales, regions=regions)).fetchall())


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted(zip(*(c.to_pylist() for c in table.columns), strict=True))


def test_sql_per_chunk_equals_duckdb_over_the_whole_file(tmp_path: Path, sqlite_url: str) -> None:
    _write_sales(tmp_path)
    (tmp_path / "jobs.yaml").write_text(PER_CHUNK)
    env = cli_env(tmp_path, sqlite_url)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert len(manifest["parts"]) > 1  # really chunked
    expected = _duckdb(tmp_path, "SELECT id, qty * price FROM '{sales}' WHERE qty > 2")
    assert _rows(_output(tmp_path / "out")) == expected


def test_group_by_and_window_over_a_key_equal_duckdb_over_the_whole_file(
    tmp_path: Path, pg_url: str
) -> None:
    env = cli_env(tmp_path, pg_url)  # PostgreSQL here; the other tests run on SQLite
    _write_sales(tmp_path)
    (tmp_path / "jobs.yaml").write_text(KEYED)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    grouped = _duckdb(
        tmp_path,
        "SELECT r.region, count(*), sum(qty * price), count(DISTINCT id % 7) "
        "FROM '{sales}' s JOIN '{regions}' r USING (region_id) GROUP BY r.region",
    )
    assert len(grouped) == 8  # region_id 12 has no region: its rows drop out in the join
    assert _rows(_output(tmp_path / "by-region")) == grouped
    ranked = _duckdb(
        tmp_path,
        "SELECT id, region_id, row_number() OVER (PARTITION BY region_id ORDER BY id) "
        "FROM '{sales}'",
    )
    assert _rows(_output(tmp_path / "ranked")) == ranked
    status = jobctl("status", "by-region", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr


def test_sql_errors_are_refused_at_validate_with_the_spec_line(
    tmp_path: Path, sqlite_url: str
) -> None:
    _write_sales(tmp_path)
    env = cli_env(tmp_path, sqlite_url)
    (tmp_path / "syntax.yaml").write_text(PER_CHUNK.replace("SELECT id,", "SELEC id,"))
    result = jobctl("validate", "syntax.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "syntax.yaml:6:" in result.stderr and "params.sql" in result.stderr
    assert "syntax error" in result.stderr
    (tmp_path / "bind.yaml").write_text(PER_CHUNK.replace("qty * price", "qty * cost"))
    result = jobctl("validate", "bind.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "bind.yaml:6:12:" in result.stderr and "params.sql" in result.stderr
    assert '"cost" not found' in result.stderr
    keyed = KEYED.replace("partition_by: region\n", "partition_by: area\n")
    (tmp_path / "key.yaml").write_text(keyed)
    result = jobctl("validate", "key.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "params.partition_by" in result.stderr and "area" in result.stderr
