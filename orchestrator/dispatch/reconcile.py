"""Checks at publish that the parts add up: rows per CSV input, one schema per output.

A chunk reports the rows it read; nothing else guarantees that the chunks of a
CSV file together read each of its records once (a planner that cut at a
terminator the reader does not see, a reader that skipped a line it took for
blank). So before anything is published, the rows the chunks of each CSV
input read are compared with one independent count of the file's records
(:func:`~orchestrator.io.readers.count_csv_records`: a streaming parse, every
value as text, a few blocks of memory); a mismatch fails the job naming the
file. Parquet and Arrow chunks are checked against their metadata in the
worker (io/readers.py), which knows the rows each range must hold.

The parts of one output must share one schema, or a reader of the output
drops or misreads columns (``pq.read_table`` keeps the first part's). The
first part's schema is the output's; a part that differs fails the publish
naming the part, the column and both types; the manifest records the schema.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.errors import JobctlError
from orchestrator.io.readers import count_csv_records
from orchestrator.planning.model import InputFile
from orchestrator.spec.model import CsvOptions
from orchestrator.store.base import ChunkRecord


class ReconcileError(JobctlError):
    """The committed parts do not add up to the input; nothing is published."""


def check_csv_rows(chunks: list[ChunkRecord], inputs: list[InputFile], csv: CsvOptions) -> None:
    """Every CSV input's records were read once by its chunks (rejected ones included)."""
    read: dict[str, int] = defaultdict(int)
    for chunk in chunks:
        if chunk.descriptor.kind == "csv" and chunk.descriptor.path is not None:
            read[chunk.descriptor.path] += chunk.rows_in or 0
    for item in inputs:
        if item.format != "csv":
            continue
        try:
            expected = count_csv_records(item.path, csv, item.size)
        except (pa.ArrowException, OSError) as exc:
            raise ReconcileError(f"{item.path}: cannot count its records: {exc}") from None
        got = read.get(item.path, 0)
        if got != expected:
            raise ReconcileError(
                f"{item.path}: the chunks read {got} rows but the file holds {expected} "
                "records; nothing published (report this: the CSV cutting lost or doubled rows)"
            )


def part_schema(path: Path, fmt: str) -> pa.Schema | None:
    """A part's schema from its footer or header (None for CSV: text has no types)."""
    if fmt == "parquet":
        return pq.read_schema(path)
    if fmt == "arrow":
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).schema
    return None


def check_schema(schema: pa.Schema | None, got: pa.Schema | None, part: str) -> pa.Schema | None:
    """The output's schema after ``part``: the first part's; a different one is an error."""
    if got is None:
        return schema
    got = got.remove_metadata()
    if schema is None or schema.equals(got):
        return schema or got
    for field in schema:
        index = got.get_field_index(field.name)
        if index < 0:
            raise ReconcileError(f"{part} has no column {field.name!r} ({field.type})")
        if got.field(index).type != field.type:
            raise ReconcileError(
                f"{part}: column {field.name!r} is {got.field(index).type}, "
                f"but earlier parts have {field.type}"
            )
    extra = [name for name in got.names if name not in schema.names]
    raise ReconcileError(f"{part} has columns {extra} that earlier parts do not")


def describe_schema(schema: pa.Schema | None) -> list[dict[str, Any]] | None:
    """The manifest's form of a schema: ``[{"name", "type", "nullable"}]``."""
    if schema is None:
        return None
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
