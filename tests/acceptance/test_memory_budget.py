"""A map_reduce reduce within the worker's memory budget
(``strategy.memory_budget``): a partition too big for it is split by sub-hash
into several reduce chunks; a key too frequent to split (30% of the rows) is
refused with a message naming the key, never read past the budget."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: sums
    python: tests.phase_procs:sum_by_user
    strategy:
      type: map_reduce
      partition_by: [user]
      partitions: 2
      memory_budget: 256KB
    input: {path: in.csv, format: csv}
    chunking: {bytes: 64KB}
    output: {path: out/, format: parquet}
    retries: {max_attempts: 2, backoff: {base: 0s, max: 0s}}
    executor: {local: {workers: 2}}
"""
PAD = "x" * 60


def _write(tmp_path: Path, hot_share: float) -> dict[str, int]:
    sums: Counter[str] = Counter()
    lines = ["user,amount,pad"]
    rows = 4000
    for i in range(rows):
        user = "hot" if i < rows * hot_share else f"u{i % 997:03d}"
        sums[user] += i % 7
        lines.append(f"{user},{i % 7},{PAD}")
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    return dict(sums)


def test_a_partition_over_the_budget_is_split(tmp_path: Path, sqlite_url: str) -> None:
    env = cli_env(tmp_path, sqlite_url)
    sums = _write(tmp_path, hot_share=0.0)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    table = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    assert dict(zip(table["user"].to_pylist(), table["amount"].to_pylist(), strict=True)) == sums
    reduce = json.loads(jobctl("status", "sums", "--json", env=env, cwd=tmp_path).stdout)["phase"]
    assert reduce["label"] == "phase 2/2 reduce"
    assert reduce["chunks"] > 2  # two partitions, each over the budget: split


def test_a_key_too_big_for_the_budget_is_refused_naming_it(tmp_path: Path, sqlite_url: str) -> None:
    env = cli_env(tmp_path, sqlite_url)
    _write(tmp_path, hot_share=0.3)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 1
    status = json.loads(jobctl("status", "sums", "--json", env=env, cwd=tmp_path).stdout)
    assert status["state"] == "failed"
    errors = " ".join(str(c["error"]) for c in status["failed_chunks"])
    assert "user='hot'" in errors, errors
    assert "one key cannot be split across reduce chunks" in errors
    assert all(c["attempts"] == 1 for c in status["failed_chunks"])  # deterministic: no retry
    assert not (tmp_path / "out").exists()
