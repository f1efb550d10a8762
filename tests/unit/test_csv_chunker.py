"""CSV chunks: every record read exactly once, whatever the quoting and the cut sizes."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import PlanningError
from orchestrator.io.readers import iter_chunk_batches, read_chunk
from orchestrator.planning import csv_chunker
from orchestrator.planning.csv_chunker import UTF8_BOM, plan_csv_chunks
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import ChunkingSpec, CsvOptions

DEFAULT_CSV = CsvOptions()
PROPERTY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def by_bytes(n: int) -> ChunkingSpec:
    return ChunkingSpec(rows=None, bytes=n)


def as_strings(names: list[str]) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in names])


def read_whole(path: Path, names: list[str], csv: CsvOptions = DEFAULT_CSV) -> list[tuple]:
    """The reference: one pyarrow read of the whole file, every column as string."""
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            autogenerate_column_names=not csv.header, encoding=csv.encoding
        ),
        parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=as_strings(names)),
    )
    return [tuple(row.values()) for row in table.to_pylist()]


def read_chunks(
    chunks: list[ChunkDescriptor], names: list[str], csv: CsvOptions = DEFAULT_CSV
) -> list[tuple]:
    rows: list[tuple] = []
    for chunk in chunks:
        table = read_chunk(chunk, csv, schema=as_strings(names))
        assert table.column_names == names
        rows.extend(tuple(row.values()) for row in table.to_pylist())
    return rows


def assert_well_formed(chunks: list[ChunkDescriptor], size: int) -> None:
    """Non-empty, contiguous, in order, numbered 0..n-1, ending at the end of the file."""
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.kind == "csv"
        assert chunk.start < chunk.stop
        assert chunk.est_rows >= 1
    for before, after in itertools.pairwise(chunks):
        assert before.stop == after.start
    if chunks:
        assert chunks[-1].stop == size


# --- generated files ---------------------------------------------------------

TOKENS = ["a", "b", "Z", "1", " ", ",", '"', "\n", "\r\n", "\r", "é", "\t"]
values = st.lists(st.sampled_from(TOKENS), max_size=6).map("".join)


def quote(value: str, force: bool, ncols: int) -> str:
    needs = any(ch in value for ch in ',"\r\n') or (ncols == 1 and value == "")
    if needs or force:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None, list[str], list[tuple[str, ...]]]:
    """(file bytes, raw header line or None, column names, expected rows) of an RFC 4180 file."""
    ncols = draw(st.integers(1, 4))
    rows = draw(
        st.lists(st.tuples(*[values] * ncols), min_size=1, max_size=25),
    )
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header = draw(st.booleans())
    fancy_header = draw(st.booleans())
    names = [f"c{i}" for i in range(ncols)] if header else [f"f{i}" for i in range(ncols)]
    if header and fancy_header:
        names[0] = 'c0,\n"x"'  # a header cell with a comma, a newline and quotes

    lines: list[str] = []
    if header:
        lines.append(",".join(quote(n, False, ncols) for n in names))
    for row in rows:
        forced = draw(st.lists(st.booleans(), min_size=ncols, max_size=ncols))
        lines.append(",".join(quote(v, f, ncols) for v, f in zip(row, forced, strict=True)))
    text = ""
    for i, line in enumerate(lines):
        text += line
        if i < len(lines) - 1:
            text += eol * (1 + draw(st.sampled_from([0, 0, 0, 1, 2])))  # blank lines
    # pyarrow cannot read a one-record file without a final newline (the reference fails).
    if draw(st.booleans()) or len(lines) == 1:
        text += eol
    data = text.encode()
    if draw(st.booleans()):
        data = UTF8_BOM + data
    raw_header = lines[0] + eol if header else None
    return data, raw_header, names, rows


@PROPERTY
@given(
    generated=csv_files(),
    chunk_bytes=st.integers(1, 200),
    block_size=st.sampled_from([1, 2, 3, 7, 64, 1 << 20]),
    memory_map=st.booleans(),
)
def test_chunks_concatenate_to_the_whole_file(
    tmp_path: Path, generated: tuple, chunk_bytes: int, block_size: int, memory_map: bool
) -> None:
    data, raw_header, names, expected = generated
    path = tmp_path / "gen.csv"
    path.write_bytes(data)
    csv = CsvOptions(header=raw_header is not None)

    whole = read_whole(path, names, csv)
    assert whole == expected  # the generator writes what it claims

    chunks = plan_csv_chunks(
        str(path), csv, by_bytes(chunk_bytes), block_size=block_size, memory_map=memory_map
    )
    assert_well_formed(chunks, len(data))
    assert read_chunks(chunks, names, csv) == whole
    assert all(c.header == raw_header for c in chunks)


@PROPERTY
@given(generated=csv_files(), rows=st.integers(1, 10))
def test_row_targets_also_cover_every_record(tmp_path: Path, generated: tuple, rows: int) -> None:
    data, raw_header, names, expected = generated
    path = tmp_path / "gen.csv"
    path.write_bytes(data)
    csv = CsvOptions(header=raw_header is not None)
    chunks = plan_csv_chunks(str(path), csv, ChunkingSpec(rows=rows))
    assert_well_formed(chunks, len(data))
    assert read_chunks(chunks, names, csv) == expected


@PROPERTY
@given(generated=csv_files(), chunk_bytes=st.integers(1, 200), memory_map=st.booleans())
def test_quote_counting_shared_among_threads_cuts_the_same(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    generated: tuple,
    chunk_bytes: int,
    memory_map: bool,
) -> None:
    data, raw_header, _, _ = generated
    path = tmp_path / "gen.csv"
    path.write_bytes(data * 40)  # the header lines become records: fine for cutting
    csv = CsvOptions(header=raw_header is not None)

    def plan(threads: int) -> list[ChunkDescriptor]:
        monkeypatch.setattr(csv_chunker, "PLAN_THREADS", threads)
        monkeypatch.setattr(csv_chunker, "PARALLEL_PIECE", 16)
        return plan_csv_chunks(
            str(path), csv, by_bytes(chunk_bytes * 20), block_size=500, memory_map=memory_map
        )

    assert plan(3) == plan(1)


# --- specific layouts --------------------------------------------------------


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_header_is_stored_raw_in_every_chunk_and_skipped_by_chunk_zero(tmp_path: Path) -> None:
    data = UTF8_BOM + b'id,"note\nwith newline"\r\n\r\n1,a\r\n2,b\r\n3,c\r\n'
    path = write(tmp_path, data)
    chunks = plan_csv_chunks(path, CsvOptions(), by_bytes(1))
    assert len(chunks) == 3
    assert {c.header for c in chunks} == {'id,"note\nwith newline"\r\n'}
    assert data[chunks[0].start : chunks[0].stop] == b"1,a\r\n"
    table = read_chunk(chunks[2])
    assert table.column_names == ["id", "note\nwith newline"]
    assert table.to_pylist() == [{"id": 3, "note\nwith newline": "c"}]


@pytest.mark.parametrize(
    "data",
    [b"", UTF8_BOM, b"a,b\n", b"a,b", b"\n\r\n", UTF8_BOM + b"a,b\r\n\r\n"],
    ids=["empty", "bom-only", "header-only", "header-no-eol", "blank-lines", "bom-header"],
)
def test_files_without_records_have_no_chunks(tmp_path: Path, data: bytes) -> None:
    assert plan_csv_chunks(write(tmp_path, data), CsvOptions(), by_bytes(1)) == []


def test_headerless_files_get_the_same_generated_names_in_every_chunk(tmp_path: Path) -> None:
    path = write(tmp_path, b"1,x\n2,y\n3,z")
    chunks = plan_csv_chunks(path, CsvOptions(header=False), by_bytes(2))
    tables = [read_chunk(c, CsvOptions(header=False)) for c in chunks]
    assert [t.column_names for t in tables] == [["f0", "f1"]] * 3
    assert chunks[0].header is None
    assert pa.concat_tables(tables).to_pylist() == [
        {"f0": 1, "f1": "x"},
        {"f0": 2, "f1": "y"},
        {"f0": 3, "f1": "z"},
    ]


@pytest.mark.parametrize("memory_map", [True, False])
def test_a_quoted_field_longer_than_many_blocks(tmp_path: Path, memory_map: bool) -> None:
    big = "line\n" * 50_000 + 'say ""hi""\r\n' * 10_000
    data = f'k,v\n1,"{big}"\n2,short\n3,"{big}"\n'.encode()
    path = write(tmp_path, data)
    chunks = plan_csv_chunks(
        path, CsvOptions(), by_bytes(1), block_size=100_000, memory_map=memory_map
    )
    assert len(chunks) == 3
    rows = read_chunks(chunks, ["k", "v"])
    assert rows == read_whole(Path(path), ["k", "v"])
    assert rows[0] == ("1", big.replace('""', '"'))


def test_rows_target_uses_the_measured_record_size(tmp_path: Path) -> None:
    data = b"n,text\n" + b"".join(b"%05d,abcdefgh\n" % i for i in range(1000))
    path = write(tmp_path, data)
    chunks = plan_csv_chunks(path, CsvOptions(), ChunkingSpec(rows=100))
    assert len(chunks) == 10
    assert all(c.est_rows == 100 for c in chunks)
    assert [read_chunk(c).num_rows for c in chunks] == [100] * 10


def test_types_are_inferred_per_chunk_unless_a_schema_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b\n1,x\n2,y\n")
    chunk = plan_csv_chunks(path, CsvOptions(), by_bytes(1 << 20))[0]
    assert read_chunk(chunk).schema.field("a").type == pa.int64()
    forced = pa.schema([("a", pa.string())])
    assert read_chunk(chunk, schema=forced).column("a").to_pylist() == ["1", "2"]
    assert read_chunk(chunk, columns=["b"]).column_names == ["b"]
    batches = list(iter_chunk_batches(chunk, batch_size=1))
    assert [b.num_rows for b in batches] == [1, 1]


def test_other_delimiters_and_ascii_compatible_encodings(tmp_path: Path) -> None:
    text = 'name\tcity\nJosé\t"Zürich\nHB"\nLéa\tBâle\n'
    path = write(tmp_path, text.encode("latin-1"), "in.tsv")
    csv = CsvOptions(delimiter="\t", encoding="latin-1")
    chunks = plan_csv_chunks(path, csv, by_bytes(1))
    assert len(chunks) == 2
    assert read_chunks(chunks, ["name", "city"], csv) == [("José", "Zürich\nHB"), ("Léa", "Bâle")]


def test_another_quote_character(tmp_path: Path) -> None:
    data = b"k,v\n1,'a\nb,''c'''\n2,\"x\n3,'\n\n'\n"
    path = write(tmp_path, data)
    csv = CsvOptions(quote_char="'")
    chunks = plan_csv_chunks(path, csv, by_bytes(1))
    assert [data[c.start : c.stop] for c in chunks] == [
        b"1,'a\nb,''c'''\n",
        b'2,"x\n',
        b"3,'\n\n'\n",
    ]
    rows = read_chunks(chunks, ["k", "v"], csv)
    assert rows == [("1", "a\nb,'c'"), ("2", '"x'), ("3", "\n\n")]


def test_utf16_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(PlanningError, match="utf-16"):
        plan_csv_chunks(path, CsvOptions(encoding="utf-16"), by_bytes(1))


def test_a_file_truncated_after_planning_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, b"a\n1\n2\n3\n")
    last = plan_csv_chunks(path, CsvOptions(), by_bytes(1))[-1]
    Path(path).write_bytes(b"a\n1\n")
    with pytest.raises(PlanningError, match="changed since it was planned"):
        read_chunk(last)


def test_a_50_mb_file_round_trips(tmp_path: Path) -> None:
    rng = random.Random(42)
    words = ["alpha", "beta", 'say ""hi""', "x,y", "multi\nline", "multi\r\nline", ""]
    lines = ["id,name,note,amount"]
    for i in range(470_000):
        note = rng.choice(words)
        if any(ch in note for ch in ',"\n'):
            note = f'"{note}"'
        lines.append(f"{i},user{rng.randrange(10**6)},{note},{rng.random():.6f}")
    data = ("\r\n".join(lines) + "\r\n").encode()
    data = data * 3  # the repeated header lines become data rows of strings
    assert len(data) > 48 * 1024 * 1024
    path = write(tmp_path, data)
    names = ["id", "name", "note", "amount"]

    chunks = plan_csv_chunks(path, CsvOptions(), by_bytes(1 << 20), block_size=3 * (1 << 20) + 1)
    assert_well_formed(chunks, len(data))
    streamed = plan_csv_chunks(path, CsvOptions(), by_bytes(1 << 20), memory_map=False)
    assert streamed == chunks
    assert len(chunks) >= 45
    schema = as_strings(names)
    got = pa.concat_tables(read_chunk(c, schema=schema) for c in chunks)
    whole = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=schema),
    )
    assert got.num_rows == whole.num_rows == 3 * 470_000 + 2
    assert got.equals(whole)


def test_cr_only_file_across_many_chunks_equals_one_pyarrow_read(tmp_path: Path) -> None:
    """Classic Mac / Excel exports end lines with a lone \\r: they are cut, not planned empty."""
    rows = [f'{i},"line {i}\rstill {i}"' if i % 7 == 0 else f"{i},t{i}" for i in range(500)]
    lines = ["id,text", *rows]
    path = tmp_path / "mac.csv"
    path.write_bytes(("\r".join(lines) + "\r").encode())
    chunks = plan_csv_chunks(str(path), DEFAULT_CSV, by_bytes(300))
    assert len(chunks) > 10
    assert_well_formed(chunks, path.stat().st_size)
    assert read_chunks(chunks, ["id", "text"]) == read_whole(path, ["id", "text"])
    assert len(read_whole(path, ["id", "text"])) == 500


def test_bytes_without_any_line_end_are_refused_not_planned_empty(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"a\x1eb\x1e" * (csv_chunker.MAX_HEADER_BYTES // 2))
    with pytest.raises(PlanningError, match="no line terminator"):
        plan_csv_chunks(str(path), DEFAULT_CSV, by_bytes(1000))
