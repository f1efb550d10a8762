"""Where a rejected row came from, and the quarantine an attempt leaves beside its part.

Every rejected row becomes one quarantine row of one schema,
:data:`QUARANTINE_SCHEMA`: the rule, the column, the reason, the source file,
the row's line in a CSV file (physical lines, 1-based, as an editor shows
them; a quoted newline counts) or its 1-based row number in a Parquet file,
and the row itself as JSON (for a CSV record that did not even parse, its raw
text). A committed attempt's quarantine is the ``.rejects.csv`` file beside
its part, which publish moves into the output's ``_rejects/`` (as it does for
``input.csv.bad_rows: reject``), and its counts are the ``.checks.json`` file
publish sums into ``_SUCCESS`` (:mod:`.validate_report`).

Line numbers cost a scan of the chunk's bytes (NumPy, quote parity) and a
count of the line ends before it, paid only by chunks that reject rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from orchestrator.io.csv_errors import BadRow, count_line_ends
from orchestrator.io.parts import rejects_path, write_bytes_atomic
from orchestrator.planning.input_files import open_binary
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.processors.validate_report import checks_path
from orchestrator.spec.model import CsvOptions

QUARANTINE_SCHEMA = pa.schema(
    [
        ("_rule", pa.string()),
        ("_column", pa.string()),
        ("_reason", pa.string()),
        ("_source_file", pa.string()),
        ("_source_line_or_row", pa.int64()),
        ("_record", pa.string()),
    ]
)
#: The rule name of a CSV record that could not be parsed.
PARSE_RULE = "csv_parse"
_BLOCK = 1 << 22


@dataclass
class Quality:
    """What a validate attempt found: quarantine rows and counts (see the module docstring)."""

    rows_in: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    #: rule name -> {"on_violation", "violations", "rejected"}
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    pieces: list[pa.Table] = field(default_factory=list)
    phase: int = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pieces.append(table.cast(QUARANTINE_SCHEMA))

    def counts(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "rows_in": self.rows_in,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "rules": self.rules,
        }

    def write(self, part_file: str) -> None:
        """The quarantine (when there is one) and the counts, atomically, beside the part."""
        directory, base = os.path.split(checks_path(part_file))
        write_bytes_atomic(directory, base, json.dumps(self.counts(), sort_keys=True).encode())
        if not self.pieces:
            return
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(pa.concat_tables(self.pieces), sink)
        directory, base = os.path.split(rejects_path(part_file))
        write_bytes_atomic(directory, base, sink.getvalue().to_pybytes())


def quarantine_rows(
    rule: str,
    column: str | None,
    reasons: pa.Array,
    source_file: str | None,
    where: pa.Array,
    records: pa.Table,
) -> pa.Table:
    """Quarantine rows for ``records`` (the rejected rows, as read)."""
    n = records.num_rows
    texts = [json.dumps(row, default=str, ensure_ascii=False) for row in records.to_pylist()]
    return pa.table(
        {
            "_rule": pa.array([rule] * n, pa.string()),
            "_column": pa.array([column] * n, pa.string()),
            "_reason": reasons,
            "_source_file": pa.array([source_file] * n, pa.string()),
            "_source_line_or_row": where.cast(pa.int64()),
            "_record": pa.array(texts, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def parse_rejects(rows: Sequence[BadRow]) -> pa.Table:
    """CSV records the reader could not parse (``input.csv.bad_rows: reject``)."""
    return pa.table(
        {
            "_rule": pa.array([PARSE_RULE] * len(rows), pa.string()),
            "_column": pa.nulls(len(rows), pa.string()),
            "_reason": [f"expected {r.expected} fields, found {r.found}" for r in rows],
            "_source_file": [r.file for r in rows],
            "_source_line_or_row": pa.array([r.line for r in rows], pa.int64()),
            "_record": [r.text for r in rows],
        },
        schema=QUARANTINE_SCHEMA,
    )


def row_locations(
    chunk: ChunkDescriptor, csv: CsvOptions | None, bad_rows: Sequence[BadRow], rows: int
) -> pa.Array:
    """The line (CSV) or 1-based row number (Parquet) of each of the chunk's ``rows``
    rows; null where it cannot be known (an Arrow IPC chunk, a file not on this host)."""
    if chunk.kind == "parquet":
        return pa.array(np.arange(chunk.start + 1, chunk.start + rows + 1, dtype=np.int64))
    if chunk.kind == "csv" and csv is not None and chunk.path and os.path.exists(chunk.path):
        lines = csv_record_lines(chunk, csv.quote_char, {r.line for r in bad_rows})
        if lines is not None and len(lines) == rows:
            return pa.array(lines)
    return pa.nulls(rows, pa.int64())


def csv_record_lines(
    chunk: ChunkDescriptor, quote: str | None, skip: set[int] | frozenset[int] = frozenset()
) -> np.ndarray | None:
    """The first line of every record of a CSV chunk, minus the lines in ``skip``."""
    assert chunk.path is not None
    with open_binary(chunk.path) as f:
        before = 0
        last = b""
        pos = 0
        while pos < chunk.start:
            block = f.read(min(_BLOCK, chunk.start - pos))
            if not block:
                return None
            before += count_line_ends(block)
            if last == b"\r" and block[:1] == b"\n":
                before -= 1
            last = block[-1:]
            pos += len(block)
        data = f.read(chunk.stop - chunk.start)
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    ends = newlines
    if quote:
        quotes = np.cumsum(buf == ord(quote))
        ends = newlines[quotes[newlines] % 2 == 0]
    starts = np.concatenate([np.array([0], dtype=np.int64), ends + 1])
    starts = starts[starts < len(buf)]
    # Arrow skips empty lines: a record that is only its line end is no row
    first = buf[starts]
    second = buf[np.minimum(starts + 1, len(buf) - 1)] if len(buf) else first
    empty = (first == 10) | ((first == 13) & (second == 10))
    starts = starts[~empty]
    lines = before + 1 + np.searchsorted(newlines, starts)
    if skip:
        lines = lines[~np.isin(lines, np.fromiter(skip, dtype=np.int64))]
    return lines.astype(np.int64)
