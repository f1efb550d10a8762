"""One CSV schema per job, chosen once at plan time (``input.csv.types``).

Arrow infers CSV column types per read, from the read's first block; chunks of
one file read separately could disagree (digits in one chunk, text in the
next; an all-empty column read as null), and the parts of one output would
then differ. So the planner chooses the types once and every worker reads its
slice with them. The policy (README, "CSV input"):

* ``infer`` (default): types from *pieces* of the input, each parsed as one
  Arrow block so that every value in it counts: all of a file up to
  :data:`WHOLE_FILE_BYTES` (the types are then exactly those of one pyarrow
  read of the file), else :data:`SAMPLE_PIECES` prefixes of chunks spread from
  the file's head to its tail. Pieces are merged by :func:`merge_types`. A value
  outside the sample that its column cannot hold fails its chunk with one line
  naming file, line, column and value, and pointing to ``column_types`` and
  ``widen``.
* ``widen``: every chunk is a piece: one more read of the whole input at plan
  time, and no chunk can then meet a value its type cannot hold.
* ``strict``: nothing inferred: ``column_types`` as declared, other columns string.

``column_types`` overrides any inferred type. A column that holds no value in
a sample is string (a later chunk may hold text); read whole, it keeps Arrow's
``null`` type, as pyarrow would.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence

import pyarrow as pa

from orchestrator.errors import PlanningError
from orchestrator.io.csv_errors import encoding_hint
from orchestrator.io.readers import read_csv_piece
from orchestrator.planning.csv_chunker import record_end_after
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import CsvOptions

#: A file with at most this many bytes of records has its types inferred from
#: all of them (parsed in well under a second).
WHOLE_FILE_BYTES = 8 << 20
#: Pieces read from a larger file, spread from its first chunk to its last ...
SAMPLE_PIECES = 8
#: ... each this long at most (whole records).
PIECE_BYTES = 1 << 20


def infer_csv_schema(chunks: Sequence[ChunkDescriptor], csv: CsvOptions) -> pa.Schema:
    """The schema every CSV chunk of a job is read with (see the module docstring)."""
    pieces, whole = _pieces(chunks, csv)
    schema: pa.Schema | None = None
    for piece in pieces:
        got = read_csv_piece(piece, csv).schema
        schema = got if schema is None else _merge(schema, got, piece)
    assert schema is not None
    fields = []
    for field in schema:
        if pa.types.is_null(field.type) and not whole:
            field = field.with_type(pa.string())
        if csv.types == "strict":
            field = field.with_type(pa.string())
        if pa.types.is_binary(field.type) and csv.encoding.lower().replace("_", "-") in (
            "utf-8",
            "utf8",
        ):
            raise PlanningError(
                encoding_hint(chunks[0].path or "<csv>", csv) + f" (column {field.name!r})"
            )
        fields.append(field)
    return _declared(pa.schema(fields), csv, chunks[0])


def _pieces(
    chunks: Sequence[ChunkDescriptor], csv: CsvOptions
) -> tuple[list[ChunkDescriptor], bool]:
    """(the ranges types are inferred from, whether they cover every record)."""
    if csv.types == "widen":
        return list(chunks), True
    if csv.types == "strict":
        first = chunks[0]
        stop = record_end_after(first.path or "", csv, first.start, first.stop, 1)
        return [dataclasses.replace(first, stop=stop)], False
    by_file: dict[str | None, list[ChunkDescriptor]] = {}
    for chunk in chunks:
        by_file.setdefault(chunk.path, []).append(chunk)
    pieces: list[ChunkDescriptor] = []
    whole = True
    for path, own in by_file.items():
        first, last = own[0], own[-1]
        if last.stop - first.start <= WHOLE_FILE_BYTES:
            pieces.append(dataclasses.replace(first, stop=last.stop))
            continue
        whole = False
        count = min(SAMPLE_PIECES, len(own))
        picks = sorted({round(k * (len(own) - 1) / max(1, count - 1)) for k in range(count)})
        for index in picks:
            chunk = own[index]
            stop = record_end_after(path or "", csv, chunk.start, chunk.stop, PIECE_BYTES)
            pieces.append(dataclasses.replace(chunk, stop=stop))
    return pieces, whole


def merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type that holds values of both (``null`` holds nothing; integers
    widen to float64; anything else that differs becomes string)."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    numbers = (pa.types.is_integer, pa.types.is_floating)
    if any(f(a) for f in numbers) and any(f(b) for f in numbers):
        return pa.float64()
    return pa.string()


def _merge(schema: pa.Schema, other: pa.Schema, piece: ChunkDescriptor) -> pa.Schema:
    if schema.names != other.names:
        raise PlanningError(
            f"{piece.describe()}: columns {other.names} differ from {schema.names}; "
            "every CSV input of a job needs the same columns"
        )
    return pa.schema(
        [f.with_type(merge_types(f.type, g.type)) for f, g in zip(schema, other, strict=True)]
    )


def _declared(schema: pa.Schema, csv: CsvOptions, first: ChunkDescriptor) -> pa.Schema:
    """``schema`` with ``column_types`` applied; a declared column must exist."""
    unknown = sorted(set(csv.column_types) - set(schema.names))
    if unknown:
        raise PlanningError(
            f"{first.path}: input.csv.column_types names {', '.join(map(repr, unknown))}, "
            f"not among the columns {schema.names}"
        )
    return pa.schema(
        [
            f.with_type(pa.type_for_alias(csv.column_types[f.name]))
            if f.name in csv.column_types
            else f
            for f in schema
        ]
    )


def encode_schema(schema: pa.Schema) -> str:
    """A JSON-safe text form (Arrow IPC bytes, base64) for the store and the wire."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
