"""kill -9 of the coordinator of a report job while its map phase runs; ``jobctl
resume`` publishes what DuckDB computes over the whole input, with the
HTML/JSON/Markdown files the reduce chunk wrote beside its part. (A keyed
transform is the same map_reduce, whose kill and resume the dedupe and
identity_match fault tests cover.)"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl
from tests.acceptance.test_report import _customers
from tests.fault.test_identity_kill import kill_a_run_during

SPEC = """version: 1
jobs:
  - name: profile
    type: report
    params: {key: email}
    input: {path: customers.parquet}
    chunking: {rows: 100}
    output: {path: report/, format: parquet}
    executor: {local: {workers: 2}}
"""


def test_kill_9_in_the_map_phase_then_resume(tmp_path: Path, pg_url: str) -> None:
    table = _customers(2000)
    pq.write_table(table, tmp_path / "customers.parquet", row_group_size=100)
    (tmp_path / "jobs.yaml").write_text(SPEC)
    env = cli_env(tmp_path, pg_url)
    job_id = kill_a_run_during(tmp_path, env, 0)
    out = tmp_path / "report"
    assert not out.exists()  # nothing published by the dead run
    resumed = jobctl("resume", str(job_id), env=env, cwd=tmp_path, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "_SUCCESS").read_text())
    con = duckdb.connect()
    con.register("t", table)
    assert [f["file"] for f in manifest["files"]] == ["report.html", "report.json", "report.md"]
    fig = json.loads((out / "report.json").read_text())
    assert fig["rows"] == 2000 and fig["chunks"] == 20
    for c in fig["columns"]:
        [(nulls, distinct)] = con.execute(
            f"SELECT count(*) - count({c['name']}), count(DISTINCT {c['name']}) FROM t"
        ).fetchall()
        assert (c["nulls"], c["distinct"]) == (nulls, distinct), c["name"]
    [(dups,)] = con.execute(
        "SELECT count(email) - count(DISTINCT email) FROM t WHERE email IS NOT NULL"
    ).fetchall()
    assert fig["duplicates"]["duplicate_rows"] == dups
