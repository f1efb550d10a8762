"""Issue 20's real-world cases, each through the planner and the worker runtime:
no silent loss, no silent corruption, the types pyarrow sees."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from orchestrator.spec.model import ChunkingSpec, CsvOptions, InputSpec, JobSpec, OutputSpec
from tests.corpus.convert import ChunkFailed, convert

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "files"


def convert_spec(
    path: Path, out: Path, fmt: str = "parquet", chunk_bytes: int | None = 200, **csv: object
) -> JobSpec:
    chunking = ChunkingSpec(rows=None, bytes=chunk_bytes) if chunk_bytes else ChunkingSpec(rows=1)
    return JobSpec(
        name="convert",
        type="convert",
        input=InputSpec(path=str(path), csv=CsvOptions(**csv)),  # type: ignore[arg-type]
        chunking=chunking,
        output=OutputSpec(path=str(out), format=fmt),
    )


def test_a_damaged_parquet_row_group_fails_its_chunk_naming_file_and_group(
    tmp_path: Path,
) -> None:
    """ARROW-GH-41317: a column chunk holds fewer values than its row group claims;
    Arrow's batch reader yields nothing for that group, without an error."""
    damaged = CORPUS / "parquet" / "ARROW-GH-41317.parquet"
    spec = convert_spec(damaged, tmp_path / "out", chunk_bytes=None)
    with pytest.raises(ChunkFailed, match=r"ARROW-GH-41317.parquet: row group 0 declares 3 rows"):
        convert(spec, tmp_path / "staging")


def test_cr_only_csv_across_many_chunks_equals_one_pyarrow_read(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    rows = [f"{i},name {i},{i * 0.5}" for i in range(300)]
    path.write_bytes(("id,name,score\r" + "\r".join(rows) + "\r").encode())
    table, results = convert(convert_spec(path, tmp_path / "out"), tmp_path / "staging")
    assert len(results) > 10
    assert table is not None
    assert table.equals(pacsv.read_csv(path))
