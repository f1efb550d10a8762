"""Issue 20's real-world cases, each through the planner and the worker runtime:
no silent loss, no silent corruption, the types pyarrow sees."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import PlanningError
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
        output=OutputSpec(
            path=str(out), format=fmt, compression="zstd" if fmt == "parquet" else "none"
        ),
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


def test_one_column_parquet_with_nulls_to_csv_and_back_keeps_every_row(tmp_path: Path) -> None:
    source = tmp_path / "one.parquet"
    values = pa.table({"v": pa.array([1, None, 3, None, None, 6], pa.int64())})
    pq.write_table(values, source, row_group_size=2)
    table, _results = convert(convert_spec(source, tmp_path / "out", "csv", None), tmp_path / "s")
    assert table is not None
    assert table.column("v").to_pylist() == [1, None, 3, None, None, 6]


def test_a_ragged_row_is_one_line_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.planning import schema

    monkeypatch.setattr(schema, "WHOLE_FILE_BYTES", 100)  # the row is outside the sample
    monkeypatch.setattr(schema, "PIECE_BYTES", 20)
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"a,b,c\n" + b"".join(b"%d,x,y\n" % i for i in range(40)) + b"1,2,3,4\n")
    with pytest.raises(ChunkFailed) as failed:
        convert(convert_spec(path, tmp_path / "out"), tmp_path / "staging")
    message = str(failed.value)
    assert message == f"BadCsvRow: {path} line 42: expected 3 fields, found 4: '1,2,3,4'"


def test_a_ragged_row_inside_the_plan_time_sample_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(PlanningError, match=rf"^{path} line 3: expected 3 fields, found 2"):
        convert(convert_spec(path, tmp_path / "out", chunk_bytes=None), tmp_path / "staging")


def test_bad_rows_reject_keeps_the_chunk_and_lists_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(
        b"a,b,c\n" + b"".join(b"%d,x,y\n" % i for i in range(40)) + b"1,2,3,4\n9,x,y\n"
    )
    spec = convert_spec(path, tmp_path / "out", bad_rows="reject")
    table, results = convert(spec, tmp_path / "staging")
    assert table is not None
    assert table.column("a").to_pylist() == [*range(40), 9]
    assert sum(r["rows_rejected"] for r in results) == 1
    assert sum(r["rows_in"] for r in results) == 42
    rejects = [p for p in (tmp_path / "staging").iterdir() if p.name.endswith(".rejects.csv")]
    assert [pacsv.read_csv(p).to_pylist() for p in rejects] == [
        [
            {
                "file": str(path),
                "line": 42,
                "expected_fields": 3,
                "found_fields": 4,
                "text": "1,2,3,4",
            }
        ]
    ]


def numbers_then_text(path: Path, rows: int = 400) -> None:
    """A column of integers that turns to text after the first chunks."""
    lines = [
        f"{i},{i if i < rows - 5 else 'Once upon a time'},{'' if i < 100 else i}"
        for i in range(rows)
    ]
    path.write_text("id,story,late\n" + "\n".join(lines) + "\n")


def test_types_see_the_whole_small_file_as_pyarrow_does(tmp_path: Path) -> None:
    path = tmp_path / "drift.csv"
    numbers_then_text(path)
    table, results = convert(convert_spec(path, tmp_path / "out"), tmp_path / "staging")
    assert len(results) > 10
    assert table is not None
    whole = pacsv.read_csv(path)
    assert whole.schema.field("story").type == pa.string()
    assert whole.schema.field("late").type == pa.int64()  # empty in the first chunk
    assert table.equals(whole)


def test_a_value_outside_the_sample_fails_by_policy_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.planning import schema

    monkeypatch.setattr(schema, "WHOLE_FILE_BYTES", 100)  # "large": only sampled
    monkeypatch.setattr(schema, "SAMPLE_PIECES", 2)
    monkeypatch.setattr(schema, "PIECE_BYTES", 50)
    path = tmp_path / "drift.csv"
    numbers_then_text(path, rows=4000)
    spec = convert_spec(path, tmp_path / "out", chunk_bytes=2000)
    # row 3995's text sits in the last chunk, after the sampled prefix of the last piece
    with pytest.raises(ChunkFailed) as failed:
        convert(spec, tmp_path / "staging")
    assert str(failed.value) == (
        f"BadCsvValue: {path} line 3997: column 'story' value 'Once upon a time' is not "
        "int64 (the type inferred at plan time); declare the column's type with "
        "input.csv.column_types, or set input.csv.types: widen"
    )
    table, _ = convert(
        convert_spec(path, tmp_path / "out", chunk_bytes=2000, types="widen"), tmp_path / "w"
    )
    assert table is not None and table.equals(pacsv.read_csv(path))
    declared = convert_spec(
        path, tmp_path / "out", chunk_bytes=2000, column_types={"story": "string"}
    )
    table, _ = convert(declared, tmp_path / "d")
    assert table is not None and table.column("story").type == pa.string()


def test_strict_types_only_what_is_declared(tmp_path: Path) -> None:
    path = tmp_path / "drift.csv"
    numbers_then_text(path)
    spec = convert_spec(path, tmp_path / "out", types="strict", column_types={"id": "int32"})
    table, _ = convert(spec, tmp_path / "staging")
    assert table is not None
    assert table.schema.types == [pa.int32(), pa.string(), pa.string()]


def test_latin1_input_read_as_utf8_gets_a_hint_not_a_binary_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nJosé,Zürich\nRené,Köln\n".encode("latin-1"))
    with pytest.raises(PlanningError, match=r"set input\.csv\.encoding: latin-1"):
        convert(convert_spec(path, tmp_path / "out"), tmp_path / "staging")
    table, _ = convert(convert_spec(path, tmp_path / "out", encoding="latin-1"), tmp_path / "s")
    assert table is not None and table.column("city").to_pylist() == ["Zürich", "Köln"]
