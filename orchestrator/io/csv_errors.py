"""Turn Arrow's CSV errors into one line a user can act on: file, line, what was wrong.

Arrow reports a ragged row as ``Expected 3 columns, got 4: <text>`` and a bad
value as ``CSV conversion error to int64: invalid value 'x'``, with neither the
file nor the line. A chunk is a byte range of a file, so the line is the
number of line terminators before the record in the file plus one (physical
lines, as an editor shows them; a quoted newline counts). That costs a read of
the file up to the chunk, which is paid only on the error path.

The same object implements ``input.csv.bad_rows``: ``fail`` stops the read at
the first bad row, ``reject`` leaves bad rows out and lists them (file, line,
fields expected and found, text) for the rejects output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from orchestrator.errors import PlanningError
from orchestrator.planning.input_files import open_binary
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import CsvOptions

_READ_BLOCK = 1 << 20
_CONVERSION = re.compile(
    r"(?:column #(?P<col>\d+).*?)?CSV conversion error to (?P<type>[^:]+): "
    r"invalid value '(?P<value>.*)'",
    re.S,
)


class BadCsvRow(PlanningError):
    """A CSV record with the wrong number of fields (``bad_rows: fail``)."""


class BadCsvValue(PlanningError):
    """A CSV value its column's type cannot hold."""


class CsvEncodingError(PlanningError):
    """CSV bytes that are not valid in the configured encoding."""


@dataclass(frozen=True)
class BadRow:
    """One rejected record: where it is and why."""

    file: str
    line: int
    expected: int
    found: int
    text: str

    def describe(self) -> str:
        return (
            f"{self.file} line {self.line}: expected {self.expected} fields, "
            f"found {self.found}: {self.text[:80]!r}"
        )


def count_line_ends(data: bytes) -> int:
    """Line terminators in ``data``: ``\\n``, ``\\r\\n`` and a lone ``\\r`` each count once."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def encoding_hint(path: str, csv: CsvOptions) -> str:
    return (
        f"{path}: the data is not valid {csv.encoding}; if the file is Latin-1 or "
        "Windows-1252 (common in spreadsheet exports), set input.csv.encoding: latin-1 "
        "(or cp1252)"
    )


class CsvErrors:
    """A context around one Arrow CSV read of a chunk (see the module docstring)."""

    def __init__(
        self,
        desc: ChunkDescriptor,
        csv: CsvOptions,
        data: pa.Buffer,
        header_len: int,
        rejected: list[BadRow] | None = None,
    ) -> None:
        self.desc = desc
        self.csv = csv
        self.data = data
        self.header_len = header_len
        self.rejected = rejected
        self._bad: list[pacsv.InvalidRow] = []
        self._lines_before: int | None = None

    def parse_options(self) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(
            delimiter=self.csv.delimiter,
            quote_char=self.csv.quote_char or False,
            newlines_in_values=True,
            invalid_row_handler=self._handle,
        )

    def _handle(self, row: pacsv.InvalidRow) -> str:
        self._bad.append(row)
        reject = self.csv.bad_rows == "reject" and self.rejected is not None
        return "skip" if reject else "error"

    def __enter__(self) -> CsvErrors:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            if self._bad and self.rejected is not None:
                self.rejected.extend(self._bad_rows())
            return
        if not isinstance(exc, pa.ArrowException):
            return
        if self._bad:
            raise BadCsvRow(self._bad_rows()[-1].describe()) from None
        message = str(exc)
        path = self.desc.path or "<csv>"
        if "UTF8" in message or "UTF-8" in message:
            raise CsvEncodingError(encoding_hint(path, self.csv)) from None
        match = _CONVERSION.search(message)
        if match is not None:
            raise BadCsvValue(self._conversion(match)) from None
        exc.add_note(f"while reading {self.desc.describe()}")

    def _conversion(self, match: re.Match[str]) -> str:
        value, type_name = match["value"], match["type"]
        column = ""
        if match["col"] is not None:
            names = self._names()
            index = int(match["col"])
            column = f"column {names[index]!r} " if index < len(names) else f"column #{index} "
        needle = value.encode(self.csv.encoding, "replace")
        body = self.data.to_pybytes()
        at = body.find(needle, self.header_len)
        where = f"line {self._line_at(body, at)}" if at >= 0 else self.desc.describe()
        return (
            f"{self.desc.path} {where}: {column}value {value[:80]!r} is not {type_name} "
            "(the type inferred at plan time); declare the column's type with "
            "input.csv.column_types, or set input.csv.types: widen"
        )

    def _names(self) -> list[str]:
        if self.desc.header is None:
            return []
        header = pa.BufferReader(self.desc.header.encode(self.csv.encoding) + b"\n")
        try:
            options = pacsv.ParseOptions(
                delimiter=self.csv.delimiter,
                quote_char=self.csv.quote_char or False,
                newlines_in_values=True,
            )
            read = pacsv.ReadOptions(encoding=self.csv.encoding)
            return pacsv.read_csv(header, read_options=read, parse_options=options).column_names
        except pa.ArrowException:
            return []

    def _bad_rows(self) -> list[BadRow]:
        body = self.data.to_pybytes()
        rows = []
        at = self.header_len
        for row in self._bad:
            found = body.find(row.text.encode(self.csv.encoding, "replace"), at)
            line = self._line_at(body, found) if found >= 0 else 0
            if found >= 0:
                at = found + 1
            rows.append(
                BadRow(
                    file=self.desc.path or "<csv>",
                    line=line,
                    expected=row.expected_columns,
                    found=row.actual_columns,
                    text=row.text,
                )
            )
        return rows

    def _line_at(self, body: bytes, offset: int) -> int:
        """1-based line in the file of byte ``offset`` of the parsed data."""
        if self._lines_before is None:
            self._lines_before = self._count_file_lines(self.desc.start)
        return self._lines_before + count_line_ends(body[self.header_len : offset]) + 1

    def _count_file_lines(self, stop: int) -> int:
        if self.desc.path is None or stop <= 0:
            return 0
        lines = 0
        last = b""
        with open_binary(self.desc.path) as f:
            pos = 0
            while pos < stop:
                block: Any = f.read(min(_READ_BLOCK, stop - pos))
                if not block:
                    break
                lines += count_line_ends(block)
                if last == b"\r" and block[:1] == b"\n":
                    lines -= 1  # a \r\n split between two blocks
                last = block[-1:]
                pos += len(block)
        return lines
