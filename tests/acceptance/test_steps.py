"""Preprocessing ``steps:`` through `jobctl run`: run in the workers, before the processor."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: clean
    type: convert
    input: {path: people.csv, format: csv, csv: {types: strict}}
    chunking: {bytes: 1KB}
    steps:
      - null_tokens: "*"
      - collapse_whitespace: [name]
      - title: [name]
      - email: {columns: email, plus: true}
      - phone: {columns: phone, region: US, into: phone_e164}
      - date: {columns: born, formats: ["%Y-%m-%d", "%d/%m/%Y"]}
      - derive: {column: label, expr: "name || ' <' || email || '>'"}
      - select: [name, email, phone_e164, born, label]
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""


def test_steps_clean_every_chunk_before_the_processor(tmp_path: Path, sqlite_url: str) -> None:
    env = cli_env(tmp_path, sqlite_url)  # steps run in the worker: one store is enough
    lines = ["name,email,phone,born,junk"]
    for i in range(60):
        email = f" User{i}+tag@Example.com " if i % 2 else "N/A"
        lines.append(f"  ann   lee{i} ,{email},(415) 555-{2600 + i:04d},{10 + i % 18}/03/1990,x")
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert len(manifest["parts"]) > 1  # several chunks, each cleaned by a worker
    rows = [
        row
        for part in manifest["parts"]
        for row in pq.read_table(tmp_path / "out" / part["file"]).to_pylist()
    ]
    assert len(rows) == 60
    for i, row in enumerate(rows):
        email = f"user{i}@example.com" if i % 2 else None
        name = f"Ann Lee{i}"
        assert row["name"] == name
        assert row["email"] == email
        assert row["phone_e164"] == f"+1415555{2600 + i:04d}"
        assert row["born"].isoformat() == f"1990-03-{10 + i % 18:02d}"
        assert row["label"] == (None if email is None else f"{name} <{email}>")
    assert list(rows[0]) == ["name", "email", "phone_e164", "born", "label"]
