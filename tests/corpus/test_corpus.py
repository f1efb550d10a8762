"""Real public files nobody on the project wrote, converted as a user would.

Every conversion (CSV -> Parquet, Parquet -> Parquet, Parquet -> CSV) runs the
real planner and worker runtime (tests/corpus/convert.py) with chunks small
enough that each file is cut several times, and is compared with pyarrow
reading the same file whole: same rows, same values, same order, same types.
A file pyarrow refuses must be refused too, with one line. Origins and
licences of the files: tests/corpus/files/MANIFEST.md.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import JobctlError
from orchestrator.io.parts import csv_write_options
from orchestrator.io.readers import count_csv_records
from orchestrator.spec.model import ChunkingSpec, CsvOptions, InputSpec, JobSpec, OutputSpec
from tests.corpus.convert import ChunkFailed, convert

FILES = Path(__file__).parent / "files"
CSV_FILES = sorted(
    p for d in ("csv-jl", "csv-spectrum") for p in (FILES / d).iterdir() if p.suffix != ".md"
)
PARQUET_FILES = sorted((FILES / "parquet").glob("*.parquet"))

#: Files where jobctl deliberately differs from a whole-file pyarrow read, and why.
KNOWN: dict[str, str] = {}
"""Files where jobctl deliberately differs from a whole-file pyarrow read (none now).
UTF-16 files are read as pyarrow reads them (as UTF-8, NULs and all):
transcoding them is not done."""


def job(path: Path, out: Path, fmt: str, in_fmt: str, chunk_bytes: int) -> JobSpec:
    rows = 1
    if in_fmt == "parquet":
        # a file whose footer cannot be read: the planner says so
        with contextlib.suppress(pa.ArrowException, OSError):
            rows = max(1, pq.ParquetFile(path).metadata.num_rows // 10)  # groups get split
    return JobSpec(
        name="corpus",
        type="convert",
        input=InputSpec(path=str(path), format=in_fmt),
        chunking=ChunkingSpec(rows=None, bytes=chunk_bytes)
        if in_fmt == "csv"
        else ChunkingSpec(rows=rows),
        output=OutputSpec(
            path=str(out), format=fmt, compression="zstd" if fmt == "parquet" else "none"
        ),
    )


def via_parquet(table: pa.Table) -> pa.Table:
    """What a Parquet part holds for ``table`` (timestamp[s] becomes [ms], and so on)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return pq.ParquetFile(pa.BufferReader(sink.getvalue())).read()


def as_text(data: pa.Buffer | str) -> list[tuple[str | None, ...]]:
    """A CSV's rows with every value as text (or None: empty, or a null marker)."""

    def source() -> pa.NativeFile:
        return pa.BufferReader(data) if isinstance(data, pa.Buffer) else pa.OSFile(data)

    with pacsv.open_csv(source()) as reader:
        names = reader.schema.names
    options = pacsv.ConvertOptions(
        strings_can_be_null=True, column_types={name: pa.string() for name in names}
    )
    table = pacsv.read_csv(source(), convert_options=options)
    return [tuple(row) for row in zip(*(c.to_pylist() for c in table.columns), strict=True)]


def without_nan(table: pa.Table) -> pa.Table:
    """``table`` with NaN as the text "NaN" in float columns (NaN != NaN would fail equals)."""
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            text = pc.cast(column, pa.string()) if not pa.types.is_float16(column.type) else None
            if text is None:
                text = pc.cast(pc.cast(column, pa.float32()), pa.string())
            column = text
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def run(spec: JobSpec, staging: Path) -> tuple[pa.Table | None, list[dict], str | None]:
    """(output, results, None) or (None, [], the one-line refusal)."""
    try:
        table, results = convert(spec, staging)
    except (ChunkFailed, JobctlError) as exc:
        return None, [], str(exc)
    return table, results, None


def tally(
    outcome: Callable[[Path, Path], str], files: list[Path], tmp: Path
) -> tuple[Counter[str], list[str]]:
    """(files per outcome, the files that went wrong and how); printed for the report."""
    outcomes: Counter[str] = Counter()
    problems = []
    for index, path in enumerate(files):
        try:
            outcomes[outcome(path, tmp / str(index))] += 1
        except AssertionError as exc:
            problems.append(f"{path.name}: {str(exc).splitlines()[0][:300]}")
    print(len(files), "files:", dict(outcomes), *problems, sep="\n")  # pytest -s shows it
    return outcomes, problems


def outcome_csv(path: Path, tmp: Path) -> str:
    empty = False
    try:
        reference: pa.Table | None = pacsv.read_csv(path)
    except pa.ArrowException as exc:
        reference = None
        empty = "Empty CSV file" in str(exc)
    size = path.stat().st_size
    table, results, refusal = run(job(path, tmp / "o", "parquet", "csv", max(1, size // 5)), tmp)
    if refusal is not None:
        assert "\n" not in refusal and path.name in refusal, refusal
        if reference is None:
            return "refused (pyarrow refuses too)"
        assert path.name in KNOWN, f"{path.name}: refused but pyarrow reads it: {refusal}"
        assert refusal.startswith(str(path)) or str(path) in refusal, refusal
        return KNOWN[path.name]
    if empty:  # blank, or a header line without a line end: no records, no output
        assert table is None or table.num_rows == 0, path.name
        assert count_csv_records(str(path), CsvOptions(), size) == 0
        return "no rows (pyarrow: 'Empty CSV file')"
    assert reference is not None, f"{path.name}: converted, but pyarrow refuses the file"
    if reference.num_rows == 0:
        assert table is None or table.num_rows == 0
        return "same (no rows)"
    assert table is not None, path.name
    expected = via_parquet(reference)
    assert table.schema == expected.schema, f"{path.name}: {table.schema} != {expected.schema}"
    assert table.equals(expected), path.name
    assert sum(r["rows_in"] for r in results) == reference.num_rows
    # the publish-time reconciliation agrees (dispatch/reconcile.py)
    assert count_csv_records(str(path), CsvOptions(), size) == reference.num_rows
    return f"same ({'cut' if len(results) > 1 else 'one chunk'})"


def test_every_csv_file_converts_as_pyarrow_reads_it_whole(tmp_path: Path) -> None:
    outcomes, problems = tally(outcome_csv, CSV_FILES, tmp_path)
    assert problems == []
    assert outcomes["same (cut)"] > 60


def outcome_parquet(path: Path, tmp: Path) -> str:
    try:
        reference: pa.Table | None = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError):
        reference = None
    table, results, refusal = run(job(path, tmp / "p", "parquet", "parquet", 0), tmp / "pp")
    if refusal is not None:
        assert "\n" not in refusal and path.name in refusal, refusal
        assert reference is None, f"{path.name}: refused but pyarrow reads it: {refusal}"
        return "refused (pyarrow refuses too)"
    assert reference is not None, f"{path.name}: converted, but pyarrow refuses the file"
    got = table if table is not None else reference.schema.empty_table()
    assert got.schema == reference.schema, path.name
    assert without_nan(got).equals(without_nan(reference)), path.name
    # Parquet -> CSV: the parts read back as text equal the whole table written once
    table, results, refusal = run(job(path, tmp / "c", "csv", "parquet", 0), tmp / "cc")
    try:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(reference, sink, csv_write_options(reference))
        whole: pa.Buffer | None = sink.getvalue()
    except pa.ArrowException:
        whole = None
    if whole is None:
        assert refusal is not None and "\n" not in refusal, path.name
        return "parquet same; csv refused (nested types)"
    assert refusal is None, f"{path.name}: {refusal}"
    parts = [Path(r["part_file"]) for r in results if r["part_file"]]
    rows = [row for part in parts for row in as_text(str(part))] if reference.num_rows else []
    expected = as_text(whole) if reference.num_rows else []
    assert rows == expected, path.name
    return f"same ({'cut' if len(results) > 1 else 'one chunk'})"


def test_every_parquet_file_converts_as_pyarrow_reads_it_whole(tmp_path: Path) -> None:
    outcomes, problems = tally(outcome_parquet, PARQUET_FILES, tmp_path)
    assert problems == []
    assert outcomes["same (cut)"] > 10


@pytest.mark.parametrize(
    "name",
    [
        "test_mac_line_endings.csv",
        "Sacramentorealestatetransactions.csv",
        "SalesJan2009.csv",
        "TechCrunchcontinentalUSA.csv",
    ],
)
def test_cr_only_exports_are_read_whole(name: str, tmp_path: Path) -> None:
    path = FILES / "csv-jl" / name
    assert b"\n" not in path.read_bytes()
    assert outcome_csv(path, tmp_path) == "same (cut)"
