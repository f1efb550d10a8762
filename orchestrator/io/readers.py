"""Read exactly one chunk's slice of an input, with memory bounded by the chunk.

A worker (local or remote) gets a :class:`ChunkDescriptor` and nothing else;
these functions turn it into Arrow data by reading only the bytes, row groups
or record batches the descriptor names - never the whole file.

CSV column types. Each chunk is parsed on its own, so without help Arrow infers
types per chunk: a column that is all digits in one chunk (int64) may hold text
in another (string), and an all-empty column infers as ``null``. Concatenating
chunks then needs casts. Pass ``schema`` (for example the output of a
validation step, or all-``pa.string()``) to force the same types in every
chunk; without it, types are whatever Arrow infers from the chunk's own rows.
Column names come from the header stored in the descriptor, or are ``f0``,
``f1``... for a headerless file (the same in every chunk).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import cast

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from orchestrator.errors import PlanningError
from orchestrator.io.csv_errors import BadRow
from orchestrator.io.csv_errors import CsvErrors as _CsvErrors
from orchestrator.io.parquet_files import PARQUET_FILES, OpenParquet
from orchestrator.planning.input_files import open_binary, resolve
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import CsvOptions

# Arrow parses CSV in blocks and cannot parse a record longer than one block; a
# chunk is parsed in blocks between these bounds, so records up to 64 MiB work.
CSV_MIN_BLOCK = 1024 * 1024
CSV_MAX_BLOCK = 64 * 1024 * 1024

#: Rows per decoded Parquet batch (see :func:`_read_parquet`).
PARQUET_BATCH_ROWS = 65_536


def read_chunk(
    desc: ChunkDescriptor,
    csv: CsvOptions | None = None,
    columns: list[str] | None = None,
    schema: pa.Schema | None = None,
    rejected: list[BadRow] | None = None,
) -> pa.Table:
    """The rows of one chunk as a table (only ``columns``, when given).

    ``csv`` gives the parse options of a CSV input (defaults when None);
    ``schema`` forces CSV column types (see the module docstring) and is
    ignored for Parquet and Arrow inputs, which carry their own types. A
    ``sequence`` chunk has no data: the result is an empty table. CSV rows
    left out under ``bad_rows: reject`` are appended to ``rejected`` (when
    None, a bad row fails the read whatever the policy).
    """
    try:
        if desc.kind == "csv":
            return _read_csv(desc, csv or CsvOptions(), columns, schema, rejected)
        if desc.kind == "parquet":
            return _read_parquet(desc, columns)
        if desc.kind == "arrow":
            return _read_arrow(desc, columns)
    except pa.ArrowException as exc:
        exc.add_note(f"while reading {desc.describe()}")
        raise
    if desc.kind == "sequence":
        return pa.table({})
    raise ValueError(f"unknown chunk kind {desc.kind!r}")


def kept_columns(names: list[str], keep: frozenset[str]) -> list[str]:
    """The columns among ``names`` whose lower-case name is in ``keep``, in input order."""
    return [n for n in names if n.lower() in keep]


def read_chunk_projected(
    desc: ChunkDescriptor,
    keep: frozenset[str],
    csv: CsvOptions | None = None,
    schema: pa.Schema | None = None,
    rejected: list[BadRow] | None = None,
) -> pa.Table:
    """The chunk's columns named in ``keep`` (lower case, as SQL compares
    identifiers): a Parquet input decodes only those, others drop the rest
    after the read."""
    if desc.kind == "parquet" and desc.path is not None:
        with PARQUET_FILES.open(desc.path) as opened:
            names = kept_columns(opened.file.schema_arrow.names, keep)
        return read_chunk(desc, csv, names, schema, rejected)
    table = read_chunk(desc, csv, None, schema, rejected)
    return table.select(kept_columns(table.column_names, keep))


def iter_chunk_batches(
    desc: ChunkDescriptor,
    csv: CsvOptions | None = None,
    columns: list[str] | None = None,
    schema: pa.Schema | None = None,
    batch_size: int = PARQUET_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The chunk's rows as a stream of batches.

    Parquet chunks are decoded batch by batch (memory of one batch plus the
    reader's page buffers, not of the chunk); the other kinds are read whole
    and then handed out in batches.
    """
    if desc.kind == "parquet":
        yield from _parquet_batches(desc, columns, batch_size)
        return
    yield from read_chunk(desc, csv, columns, schema).to_batches(max_chunksize=batch_size)


def _read_slice(desc: ChunkDescriptor, prefix: bytes) -> pa.Buffer:
    """``prefix``, the bytes [start, stop) of the input, and a final newline if they lack one.

    The newline matters for the last chunk of a file without one: Arrow cannot
    infer the columns of a block holding only ``""`` (one quoted empty field),
    and a terminated final record parses the same as an unterminated one.
    """
    assert desc.path is not None
    length = desc.stop - desc.start
    buf = bytearray(len(prefix) + length + 1)
    buf[: len(prefix)] = prefix
    view = memoryview(buf)[len(prefix) : len(prefix) + length]
    got = 0
    with open_binary(desc.path) as f:
        f.seek(desc.start)
        reader = cast(io.BufferedIOBase, f)  # Python files and Arrow NativeFiles both have it
        while got < length:
            n = reader.readinto(view[got:])
            if not n:
                break
            got += n
    if got != length:
        raise PlanningError(
            f"{desc.describe()}: the file ended after {got} of {length} bytes; "
            "it changed since it was planned"
        )
    view.release()
    data = pa.py_buffer(buf)
    if buf[-2:-1] in (b"\n", b"\r"):
        return data.slice(0, len(buf) - 1)
    buf[-1] = ord("\n")
    return data


def read_csv_piece(desc: ChunkDescriptor, csv: CsvOptions) -> pa.Table:
    """A CSV range parsed as one Arrow block, types inferred from every row of it
    (the planner's type inference; rows ``bad_rows: reject`` would reject are left out)."""
    header = desc.header.encode(csv.encoding) if desc.header is not None else b""
    ignored: list[BadRow] | None = [] if csv.bad_rows == "reject" else None
    data = _read_slice(desc, header)
    return read_csv_bytes(desc, csv, data, len(header), rejected=ignored)


def read_csv_bytes(
    desc: ChunkDescriptor,
    csv: CsvOptions,
    data: pa.Buffer,
    header_len: int,
    *,
    columns: list[str] | None = None,
    schema: pa.Schema | None = None,
    rejected: list[BadRow] | None = None,
    block_size: int | None = None,
) -> pa.Table:
    """Parse ``data`` (the header's ``header_len`` bytes, then the chunk's records).

    Without ``block_size`` it is one block, so that types are inferred from
    every row (Arrow infers from the first block and then only converts).

    Bad rows (wrong field count) fail with one line naming file and line, or,
    with ``bad_rows: reject``, are left out and appended to ``rejected``.
    """
    block = block_size or max(CSV_MIN_BLOCK, len(data) + 1)
    read_options = pacsv.ReadOptions(
        encoding=csv.encoding,
        autogenerate_column_names=desc.header is None,
        block_size=block,
    )
    convert_options = pacsv.ConvertOptions(column_types=schema, include_columns=columns)
    with _CsvErrors(desc, csv, data, header_len, rejected) as errors:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=read_options,
            parse_options=errors.parse_options(),
            convert_options=convert_options,
        )
    raise AssertionError("unreachable")  # pragma: no cover (the context re-raises)


def _read_csv(
    desc: ChunkDescriptor,
    csv: CsvOptions,
    columns: list[str] | None,
    schema: pa.Schema | None,
    rejected: list[BadRow] | None = None,
) -> pa.Table:
    header = desc.header.encode(csv.encoding) if desc.header is not None else b""
    data = _read_slice(desc, header)
    return read_csv_bytes(
        desc,
        csv,
        data,
        len(header),
        columns=columns,
        schema=schema,
        rejected=rejected,
        block_size=max(CSV_MIN_BLOCK, min(len(data) + 1, CSV_MAX_BLOCK)),
    )


def _filesystem(path: str | None) -> tuple[pafs.FileSystem, str]:
    assert path is not None
    fs, inner = resolve(path)
    return (fs or pafs.LocalFileSystem()), inner


def _read_parquet(desc: ChunkDescriptor, columns: list[str] | None) -> pa.Table:
    """Decode the chunk's row groups and keep the global rows [start, stop).

    Always batch by batch, whole groups too: the table is then made of
    :data:`PARQUET_BATCH_ROWS`-row pieces instead of one buffer per column
    per group. A 1Mi-row group of text has columns of tens of MB, which the
    allocator maps fresh from the OS, grows by copying and the kernel zero-fills
    on first touch, chunk after chunk; batch-sized buffers are reused instead
    (a 10-group convert on 2 workers: 0.6 s of system time instead of 0.8-1.0 s,
    and a lower peak RSS). A part of a split group keeps only its own rows, so
    memory is bounded by the chunk, not by the (large) group.
    """
    small = _small_groups(desc, columns)
    if small is not None:
        return small
    batches = list(_parquet_batches(desc, columns, PARQUET_BATCH_ROWS))
    if batches:
        return pa.Table.from_batches(batches)
    assert desc.path is not None
    with PARQUET_FILES.open(desc.path) as opened:
        schema = opened.file.schema_arrow
        return schema.empty_table().select(columns or schema.names)


def _small_groups(desc: ChunkDescriptor, columns: list[str] | None) -> pa.Table | None:
    """The chunk's rows in one read when its groups hold at most one batch of
    rows (None otherwise): a batch reader costs 0.3-0.4 ms to set up, a
    single-threaded ``read_row_groups`` 0.1-0.17 ms, which is most of a chunk
    of files that Spark or a stream writer left in thousands of tiny groups.
    A read that fails or comes up short against the footer falls back to the
    batch reader, which names the damaged group."""
    if not desc.row_groups:
        return None
    assert desc.path is not None
    with PARQUET_FILES.open(desc.path) as opened:
        starts = opened.group_starts
        declared = sum(starts[g + 1] - starts[g] for g in desc.row_groups)
        if declared > PARQUET_BATCH_ROWS:
            return None
        first = opened.group_offset(desc.row_groups[0])
        try:
            table = opened.file.read_row_groups(
                list(desc.row_groups), columns=columns, use_threads=False
            )
        except (pa.ArrowException, OSError):  # damaged: the batch reader names the group
            return None
        if table.num_rows != declared:
            return None
    lo = max(desc.start - first, 0)
    return table.slice(lo, max(min(desc.stop - first, table.num_rows) - lo, 0))


def _parquet_batches(
    desc: ChunkDescriptor, columns: list[str] | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """The chunk's rows, one decoded batch at a time.

    The rows decoded are checked against the rows the footer declares: Arrow's
    batch reader yields nothing, without an error, for a row group whose column
    chunks hold fewer values than the group claims (a damaged file), and that
    chunk would otherwise succeed with rows missing.
    """
    if not desc.row_groups:
        return
    assert desc.path is not None
    with PARQUET_FILES.open(desc.path) as opened:
        pf = opened.file
        pos = opened.group_offset(desc.row_groups[0])
        batches = pf.iter_batches(
            batch_size=batch_size, row_groups=list(desc.row_groups), columns=columns
        )
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:  # a bad page, a truncated file
                group = _group_at(opened, desc, pos)
                raise DamagedInput(f"{desc.path}: row group {group}: {exc}") from None
            if batch is None:
                break
            lo = max(desc.start - pos, 0)
            hi = min(desc.stop - pos, batch.num_rows)
            if hi > lo:
                yield batch.slice(lo, hi - lo)
            pos += batch.num_rows
            if pos >= desc.stop:
                return
        raise DamagedInput(f"{desc.path}: {_short_of(opened, desc, pos)}")


class DamagedInput(PlanningError):
    """An input's data disagrees with its own metadata; nothing of it may be published."""


def _group_at(opened: OpenParquet, desc: ChunkDescriptor, pos: int) -> int:
    """The row group of the chunk that holds global row ``pos`` (its last if none)."""
    group = opened.group_of_row(pos)
    return group if group in desc.row_groups else desc.row_groups[-1]


def _short_of(opened: OpenParquet, desc: ChunkDescriptor, pos: int) -> str:
    """Which row group came up short, for the error: the one holding row ``pos``."""
    meta = opened.file.metadata
    for group in desc.row_groups:
        first = opened.group_offset(group)
        rows = meta.row_group(group).num_rows
        if pos < first + rows:
            return (
                f"row group {group} declares {rows} rows but only {pos - first} could be "
                "decoded (damaged file)"
            )
    return f"row groups {list(desc.row_groups)} decoded {pos} rows, expected up to {desc.stop}"


def _read_arrow(desc: ChunkDescriptor, columns: list[str] | None) -> pa.Table:
    fs, inner = _filesystem(desc.path)
    with fs.open_input_file(inner) as f:
        reader = pa.ipc.open_file(f)
        table = pa.Table.from_batches(
            [reader.get_batch(i) for i in range(desc.start, desc.stop)], schema=reader.schema
        )
    return table.select(columns) if columns is not None else table


def count_csv_records(path: str, csv: CsvOptions, size: int) -> int:
    """Records (bad rows included) in the first ``size`` bytes of a CSV file, by
    one streaming Arrow parse with every column read as text: the count that
    the rows the chunks read must add up to (dispatch/reconcile.py). Memory
    is a few blocks, whatever the file's size."""
    options = pacsv.ReadOptions(encoding=csv.encoding, autogenerate_column_names=not csv.header)
    bad = 0

    def count_bad(_row: pacsv.InvalidRow) -> str:
        nonlocal bad
        bad += 1
        return "skip"

    parse = pacsv.ParseOptions(
        delimiter=csv.delimiter,
        quote_char=csv.quote_char or False,
        newlines_in_values=True,
        invalid_row_handler=count_bad,
    )
    with open_binary(path) as raw:
        head = cast(io.BufferedIOBase, raw).read(min(size, 1 << 16))
    if not head.strip(b"\xef\xbb\xbf\r\n"):
        return 0
    names: list[str] = []
    for first_pass in (True, False):
        convert = None
        if not first_pass:  # every value read as text: counting must not fail on types
            convert = pacsv.ConvertOptions(
                include_columns=names[:1], column_types={names[0]: pa.string()}
            )
        rows = bad = 0
        with open_binary(path) as raw:
            stream = pa.PythonFile(_Limited(cast(io.BufferedIOBase, raw), size), mode="r")
            try:
                opened = pacsv.open_csv(
                    stream, read_options=options, parse_options=parse, convert_options=convert
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):  # a header without a line end: no record
                    return 0
                raise
            with opened as reader:
                if first_pass:
                    names = reader.schema.names
                    continue
                for batch in reader:
                    rows += batch.num_rows
    return rows + bad


class _Limited(io.RawIOBase):
    """The first ``size`` bytes of a binary stream (bytes appended later are not planned)."""

    def __init__(self, raw: io.BufferedIOBase, size: int) -> None:
        self._raw = raw
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = self._raw.readinto(view) or 0
        self._left -= n
        return n
