"""Publish-time checks: rows of each CSV input add up; parts of an output share a schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.dispatch.reconcile import (
    ReconcileError,
    check_csv_rows,
    check_schema,
    part_schema,
)
from orchestrator.planning.fingerprint import fingerprint
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import CsvOptions
from orchestrator.states import ChunkState
from orchestrator.store.base import ChunkRecord


def committed(seq: int, path: Path, rows_in: int) -> ChunkRecord:
    desc = ChunkDescriptor(seq=seq, kind="csv", path=str(path), start=0, stop=1, est_rows=1)
    return ChunkRecord(
        id=seq, job_id=1, seq=seq, phase=0, state=ChunkState.SUCCEEDED, descriptor=desc,
        attempts=1, infra_attempts=0, fencing_token=1, lease_owner=None, lease_expires_at=None,
        rows_in=rows_in, rows_out=rows_in, rows_rejected=0, bytes_out=0, checksum=None,
        part_file=None, error=None, checkpoint=None, updated_at=datetime.now(UTC),
    )  # fmt: skip


def test_chunks_that_read_fewer_rows_than_the_file_holds_fail_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"a,b\r1,2\r3,4\r5,6\r")
    inputs = [fingerprint(str(path), "csv")]
    check_csv_rows([committed(0, path, 2), committed(1, path, 1)], inputs, CsvOptions())
    with pytest.raises(
        ReconcileError, match=rf"^{path}: the chunks read 2 rows but the file holds 3"
    ):
        check_csv_rows([committed(0, path, 2)], inputs, CsvOptions())


def test_parts_that_disagree_on_a_column_type_are_refused_naming_both(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1], "v": ["a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": ["x"], "v": ["b"]}), tmp_path / "b.parquet")
    schema = check_schema(None, part_schema(tmp_path / "a.parquet", "parquet"), "part-00000")
    assert schema is not None and schema.names == ["id", "v"]
    with pytest.raises(
        ReconcileError, match="part-00001: column 'id' is string, but earlier parts have int64"
    ):
        check_schema(schema, part_schema(tmp_path / "b.parquet", "parquet"), "part-00001")


def test_a_declared_output_schema_casts_safely_or_fails_naming_column_and_types(
    tmp_path: Path,
) -> None:
    from orchestrator.spec.model import ChunkingSpec, InputSpec, JobSpec, OutputSpec
    from tests.corpus.convert import ChunkFailed, convert

    source = tmp_path / "in.csv"
    source.write_text("id,code\n" + "".join(f"{i},{i}\n" for i in range(50)) + "50,X1\n")

    def spec(schema: dict[str, str]) -> JobSpec:
        return JobSpec(
            name="declared",
            type="convert",
            input=InputSpec(path=str(source), csv=CsvOptions(column_types={"code": "string"})),
            chunking=ChunkingSpec(rows=None, bytes=100),
            output=OutputSpec(path=str(tmp_path / "out"), schema=schema),
        )

    table, _ = convert(spec({"id": "int64", "code": "string"}), tmp_path / "a")
    assert table is not None and table.schema.types == [pa.int64(), pa.string()]
    table, _ = convert(spec({"code": "large_string", "id": "float64"}), tmp_path / "b")
    assert table is not None and table.column_names == ["code", "id"]
    declared = r"column 'code' is string but output\.schema declares int64"
    with pytest.raises(ChunkFailed, match=declared):
        convert(spec({"id": "int64", "code": "int64"}), tmp_path / "c")
    with pytest.raises(ChunkFailed, match=r"column\(s\) \['code'\] that output\.schema does not"):
        convert(spec({"id": "int64"}), tmp_path / "d")
