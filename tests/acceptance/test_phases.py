"""Jobs of two phases through `jobctl run`: type dedupe (a map_reduce)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.acceptance.cli import jobctl

SPEC = """version: 1
jobs:
  - name: dd
    type: dedupe
    params: {key: email, normalize: [lower, trim]}
    input: {path: in.csv, format: csv}
    chunking: {bytes: 2KB}
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""


def test_dedupe_by_a_normalized_key_runs_in_two_phases(tmp_path: Path, env: dict[str, str]) -> None:
    lines = ["id,email"]
    for i in range(300):
        email = f"user{i % 70}@x.com"
        lines.append(f"{i},{'  ' + email.upper() + ' ' if i % 3 else email}")
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    table = pq.read_table(tmp_path / "out" / manifest["parts"][0]["file"])
    tables = [pq.read_table(tmp_path / "out" / p["file"]) for p in manifest["parts"]]
    keys = [e.strip().lower() for t in tables for e in t.column("email").to_pylist()]
    assert sorted(keys) == sorted({f"user{i}@x.com" for i in range(70)})
    assert table.num_rows > 0
    events = jobctl("events", "dd", env=env, cwd=tmp_path)
    assert events.stdout.count("phase_started") == 1
