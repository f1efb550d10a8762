"""Issue 20 through the real `jobctl run`: what a user sees for real-world files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tests.acceptance.cli import jobctl
from tests.acceptance.test_run import read_output, spec_text

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "files"


def test_cr_only_csv_with_a_bad_row_rejected_publishes_every_row_and_the_reject(
    tmp_path: Path, env: dict[str, str]
) -> None:
    rows = [f"{i},name {i}" for i in range(200)]
    rows[150] = "150,name 150,EXTRA"
    data = tmp_path / "mac.csv"
    data.write_bytes(("id,name\r" + "\r".join(rows) + "\r").encode())
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: mac
              type: convert
              input: {path: mac.csv, csv: {bad_rows: reject}}
              chunking: {bytes: 300B}
              output: {path: out/, format: parquet}
              executor: {local: {workers: 2}}
            """
        )
    )
    result = jobctl("run", str(spec), env=env)
    assert result.returncode == 0, result.stderr
    table, manifest = read_output(tmp_path / "out")
    assert len(manifest["parts"]) > 5
    assert table.column("id").to_pylist() == [i for i in range(200) if i != 150]
    assert manifest["schema"] == [
        {"name": "id", "type": "int64", "nullable": True},
        {"name": "name", "type": "string", "nullable": True},
    ]
    [reject] = manifest["rejects"]
    rejected = pacsv.read_csv(tmp_path / "out" / reject["file"]).to_pylist()
    assert rejected == [
        {
            "file": str(data),
            "line": 152,
            "expected_fields": 2,
            "found_fields": 3,
            "text": "150,name 150,EXTRA",
        }
    ]


def test_a_damaged_parquet_file_fails_naming_the_row_group_and_publishes_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    shutil.copy(CORPUS / "parquet" / "ARROW-GH-41317.parquet", tmp_path / "damaged.parquet")
    assert pq.ParquetFile(tmp_path / "damaged.parquet").metadata.num_rows == 5
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: damaged
              type: convert
              input: {path: damaged.parquet}
              chunking: {rows: 1}
              output: {path: out/, format: parquet}
              retries: {max_attempts: 1}
              executor: {local: {workers: 2}}
            """
        )
    )
    result = jobctl("run", str(spec), env=env)
    assert result.returncode == 1, result.stderr
    assert not (tmp_path / "out").exists()
    doc = json.loads(jobctl("status", "damaged", "--json", env=env).stdout)
    assert doc["state"] == "failed"
    [failed] = doc["failed_chunks"]
    assert "row group 0 declares 3 rows but only 0 could be decoded" in failed["error"]
