"""``strategy: hybrid`` through `jobctl run`: a map_reduce phase (sum per user)
followed by a sequential phase (a running total over the sums), each phase
with its own processor; only the last phase is published."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: hy
    strategy:
      type: hybrid
      phases:
        - name: sums
          strategy: map_reduce
          partition_by: [user]
          partitions: 4
          partition_size: 1KB
          python: tests.phase_procs:sum_by_user
        - name: totals
          strategy: sequential
          python: tests.phase_procs:running_total
    input: {path: in.csv, format: csv}
    chunking: {bytes: 1KB}
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""


def test_hybrid_map_reduce_then_sequential(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)  # SQLite runs phases in test_custom and test_sequential
    sums: Counter[str] = Counter()
    lines = ["user,amount"]
    for i in range(600):
        user, amount = f"u{(i * 7) % 23:02d}", i % 10
        sums[user] += amount
        lines.append(f"{user},{amount}")
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    table = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    assert dict(zip(table["user"].to_pylist(), table["amount"].to_pylist(), strict=True)) == sums
    assert table["total"].to_pylist() == list(itertools.accumulate(table["amount"].to_pylist()))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("part-")) == ["_SUCCESS"]
    # _SUCCESS reconciles rows per phase: each phase reads what the one before wrote
    phases = manifest["phases"]
    assert [p["phase"] for p in phases] == [0, 1, 2]
    assert phases[0]["rows_in"] == 600 == phases[0]["rows_out"] + phases[0]["rows_rejected"]
    assert phases[1]["rows_in"] == phases[0]["rows_out"]
    assert phases[2]["rows_in"] == phases[1]["rows_out"] == len(sums) == table.num_rows
    status = json.loads(jobctl("status", "hy", "--json", env=env, cwd=tmp_path).stdout)
    assert status["phase"]["label"] == "phase 3/3 totals"
    assert [p["label"] for p in status["phases"]] == [
        "phase 1/3 sums map",
        "phase 2/3 sums reduce",
        "phase 3/3 totals",
    ]
    assert all(p["done"] == p["chunks"] > 0 for p in status["phases"])
    text = jobctl("status", "hy", env=env, cwd=tmp_path).stdout
    assert "  phase 3/3 totals: 4/4 chunks\n" in text  # a part per reduce chunk
    events = jobctl("events", "hy", env=env, cwd=tmp_path).stdout
    assert events.count("phase_started") == 2
    assert "phase 3/3 totals" in events
