"""Cut a CSV file into byte ranges that start exactly at record starts.

Why byte ranges: a worker seeks to ``start`` and reads ``stop - start`` bytes,
so its memory is bounded by the chunk, never by the file, and nothing is
copied at plan time.

How record starts are found: a line terminator (``\\n``, ``\\r\\n`` or a lone
``\\r``, the three Arrow's CSV reader accepts) ends a record only outside a quoted
field. With RFC 4180 quoting (a quote inside a quoted field is doubled), "inside
a quoted field" is exactly "after an odd number of quote characters since the
start of the data", so the planner only needs the *parity* of the quote count
at each candidate cut. It walks the file once, front to back, carrying the
parity:

* between cuts it only counts quotes, :data:`BLOCK_SIZE` bytes at a time, with
  Arrow compute (``equal`` + ``sum`` on a zero-copy uint8 view: SIMD, GIL
  released) - measured faster here than ``bytes.count`` or a numpy
  ``==``/``count_nonzero`` pass, and no extra dependency. The GIL being
  released, a block is split among a few threads (one per core): planning runs
  before any worker starts, so the scan is on every job's critical path;
* at each cut it skips, with one regular-expression match, over the unquoted
  text and complete quoted fields up to the first newline outside quotes (a
  C loop, not a Python step per quote: files that quote every field have
  a dozen quotes per record).

A local file is memory-mapped, so nothing is copied into Python and the pages
behind the cursor are released as it goes; a remote (``pyarrow.fs``) file is
read block by block. Either way memory is bounded by one block, and planning
costs about 0.15-0.3 s per GB from the page cache on 2 cores, a file that
quotes every field included (``scripts/plan_speed.py``).

Guarantees: chunks are non-empty, contiguous, in file order, cover every data
byte once; chunk 0 starts after the UTF-8 BOM, leading blank lines and the
header line; each chunk starts at a non-blank line (blank lines stay at the end
of the previous chunk, where the CSV parser skips them); the raw header text is
stored in every chunk so a worker parses its slice with the column names.

Limits (documented, not detected):

* a quote character inside an *unquoted* field (``ab"c``) breaks the parity
  rule; RFC 4180 does not allow it, Arrow reads it as a literal quote, and the
  planner may then cut inside a record;
* the encoding must be ASCII-compatible for ``\\r``, ``\\n`` and the quote
  character (UTF-8, Latin-1, cp1252... - not UTF-16/32): a PlanningError says so.
"""

from __future__ import annotations

import io
import itertools
import mmap
import os
import re
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import BinaryIO

import pyarrow as pa

from orchestrator.errors import PlanningError
from orchestrator.planning.input_files import open_binary, resolve, stat
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import ChunkingSpec, CsvOptions

BLOCK_SIZE = 32 * 1024 * 1024
"""Bytes read and scanned at a time: bounds the planner's memory for any file size."""

SAMPLE_BYTES = 1024 * 1024
"""Bytes of records measured to convert ``chunking.rows`` to bytes and estimate rows."""

UTF8_BOM = b"\xef\xbb\xbf"

MAX_HEADER_BYTES = 1024 * 1024
"""A "header" longer than this with no line end after it is refused, not planned as an
empty file: non-empty bytes in which no record is found must never be an empty success."""

PARALLEL_PIECE = 8 * 1024 * 1024
"""Smallest range of bytes one thread counts quotes in; a larger range is shared out."""

PLAN_THREADS = min(4, os.cpu_count() or 1)
"""Threads that count quotes at once while a file is cut (the planner's own included)."""

_NON_BLANK = re.compile(rb"[^\r\n]")
_SMALL_RANGE = 64 * 1024
_NEWLINE = ord("\n")
_CR = ord("\r")


def _unquoted_run(quote: bytes | None) -> re.Pattern[bytes]:
    """Matches, from a position outside quotes, everything up to the next newline
    outside quotes or the next quote whose field is not closed in the data seen."""
    if quote is None:
        return re.compile(rb"[^\r\n]*")
    q = re.escape(quote)
    return re.compile(rb"(?:[^\r\n" + q + rb"]+|" + q + rb"[^" + q + rb"]*" + q + rb")*")


class _Scanner:
    """A forward-only cursor over a CSV file that knows whether it is inside quotes.

    ``pos`` is a global byte offset; ``in_quotes`` is the quote parity at
    ``pos``. The data is either a memory map of the whole (local) file or a
    stream read one block at a time (remote files); either way at most one
    block's worth of quote flags exists at a time, and pages of a map are
    released once the cursor has passed them. The next newline/quote positions
    found are cached, so a long stretch of quotes before the next newline (or
    the reverse) is scanned once, not once per step.
    """

    def __init__(
        self,
        data: BinaryIO | mmap.mmap,
        start: int,
        size: int,
        quote: bytes | None,
        block_size: int,
        pool: tuple[Executor, int] | None = None,
    ) -> None:
        self._quote = quote
        self._quote_scalar = pa.scalar(quote[0] if quote else 0, pa.uint8())
        self._run = _unquoted_run(quote)
        self._block_size = block_size
        self._pool = pool
        self._size = size
        self._stream: BinaryIO | None = None
        self._buf: bytes | mmap.mmap
        self._view: pa.Array | None = None
        if isinstance(data, mmap.mmap):
            self._buf, self._base, self._len = data, 0, min(size, len(data))
            self._released = 0
        else:
            data.seek(start)
            self._stream = data
            self._buf, self._base, self._len = b"", start, 0
        self.pos = start
        self.in_quotes = False

    def __enter__(self) -> _Scanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._view = None  # a map cannot be closed while Arrow still views it

    @property
    def _end(self) -> int:
        return self._base + self._len

    def _ensure(self) -> bool:
        """Load blocks until ``pos`` is inside the buffer; False at the end of the data."""
        while self.pos >= self._end:
            want = min(self._block_size, self._size - self._end)
            if self._stream is None or want <= 0:
                return False
            data = self._stream.read(want)
            if not data:
                return False
            self._base = self._end
            self._buf, self._len, self._view = data, len(data), None
        return True

    def _count_quotes(self, lo: int, hi: int) -> int:
        """Quote characters in buffer offsets [lo, hi).

        Large ranges use Arrow compute on a zero-copy uint8 view (SIMD, no
        copy, GIL released), shared out among the pool's threads when there is
        enough to share; ``bytes.count`` wins for a few bytes.
        """
        assert self._quote is not None
        if hi - lo <= _SMALL_RANGE:
            return self._buf[lo:hi].count(self._quote)
        if self._view is None:
            buffer = pa.py_buffer(self._buf)
            self._view = pa.Array.from_buffers(pa.uint8(), self._len, [None, buffer])
        pieces = 1
        if self._pool is not None:
            pieces = max(1, min(self._pool[1], (hi - lo) // PARALLEL_PIECE))
        if pieces == 1:
            return self._count_view(lo, hi)
        cuts = [lo + (hi - lo) * k // pieces for k in range(pieces + 1)]
        assert self._pool is not None
        ranges = list(itertools.pairwise(cuts))
        others = [self._pool[0].submit(self._count_view, a, b) for a, b in ranges[1:]]
        return self._count_view(*ranges[0]) + sum(f.result() for f in others)

    def _count_view(self, lo: int, hi: int) -> int:
        # imported here: pyarrow.compute costs tens of ms to import, and most
        # runs (Parquet inputs, unquoted CSV) never count a quote
        import pyarrow.compute as pc

        assert self._view is not None
        flags = pc.equal(self._view.slice(lo, hi - lo), self._quote_scalar)
        return int(pc.sum(flags).as_py() or 0)

    def _release_behind(self) -> None:
        """Drop the map's pages behind the cursor from our address space (RSS stays
        bounded by a block; the kernel keeps them in its page cache)."""
        if not isinstance(self._buf, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
            return
        upto = self.pos - self.pos % mmap.PAGESIZE
        if upto - self._released >= self._block_size:
            self._buf.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            self._released = upto

    def advance_to(self, target: int) -> None:
        """Move to ``target`` (or the end of the data), keeping the quote parity."""
        while self.pos < target and self._ensure():
            stop = min(target, self._end, self.pos + self._block_size)
            if self._quote is not None:
                count = self._count_quotes(self.pos - self._base, stop - self._base)
                self.in_quotes ^= bool(count & 1)
            self.pos = stop
            self._release_behind()

    def seek_record_end(self) -> bool:
        """Move just past the next line terminator outside quotes; False if the data ends first."""
        while self._ensure():
            at = self.pos - self._base
            if self.in_quotes:
                assert self._quote is not None
                close = self._buf.find(self._quote, at, self._len)
                if close < 0:
                    self.pos = self._end
                else:
                    self.in_quotes = False
                    self.pos = self._base + close + 1
                continue
            stop = self._run.match(self._buf, at, self._len)
            at = stop.end() if stop is not None else at
            if at >= self._len:
                self.pos = self._end
            elif self._buf[at] in (_NEWLINE, _CR):
                # \r\n is one terminator; a \n in the next block is skipped as blank
                crlf = at + 1 < self._len and self._buf[at] == _CR and self._buf[at + 1] == _NEWLINE
                self.pos = self._base + at + (2 if crlf else 1)
                return True
            else:  # a quote whose field does not close within this buffer
                self.in_quotes = True
                self.pos = self._base + at + 1
        return False

    def skip_blank(self) -> None:
        """Move past empty lines (``\\r``/``\\n`` only), which the CSV parser ignores."""
        while self._ensure():
            match = _NON_BLANK.search(self._buf, self.pos - self._base, self._len)
            if match is not None:
                self.pos = self._base + match.start()
                return
            self.pos = self._end


def plan_csv_chunks(
    path: str,
    csv: CsvOptions,
    chunking: ChunkingSpec,
    *,
    size: int | None = None,
    seq_start: int = 0,
    block_size: int = BLOCK_SIZE,
    memory_map: bool = True,
) -> list[ChunkDescriptor]:
    """Chunk descriptors for one CSV file, numbered from ``seq_start``.

    The target size is ``chunking.bytes`` when set, else ``chunking.rows``
    times the mean record size measured on the first :data:`SAMPLE_BYTES`.
    Each chunk ends at the first record end at or after its target size, so a
    chunk can be longer than the target by up to one record (plus blank lines).
    ``size`` is the file size from the fingerprint: bytes appended after it was
    taken are not planned. A local file is memory-mapped (no copy into Python)
    unless ``memory_map`` is False; remote files are read in ``block_size`` blocks.
    """
    quote = _check_encoding(path, csv)
    if size is None:
        size, _ = stat(path)
    if size == 0:
        return []
    with open_binary(path) as stream, _maybe_map(path, stream, memory_map) as mapped:
        data: BinaryIO | mmap.mmap = mapped if mapped is not None else stream
        data_start, header = _find_header(data, path, size, quote, csv)
        if data_start >= size:
            return []
        record_bytes = _mean_record_bytes(data, data_start, size, quote)
        target = _target_bytes(path, chunking, record_bytes)
        threads = PLAN_THREADS
        if threads > 1 and quote is not None and size - data_start > target:
            with ThreadPoolExecutor(threads - 1, thread_name_prefix="csv-plan") as pool:
                bounds = _cut(data, data_start, size, quote, target, block_size, (pool, threads))
        else:
            bounds = _cut(data, data_start, size, quote, target, block_size)
    return [
        ChunkDescriptor(
            seq=seq_start + i,
            kind="csv",
            path=path,
            start=start,
            stop=stop,
            est_rows=max(1, round((stop - start) / record_bytes)),
            header=header,
        )
        for i, (start, stop) in enumerate(bounds)
    ]


@contextmanager
def _maybe_map(path: str, stream: BinaryIO, wanted: bool) -> Iterator[mmap.mmap | None]:
    """A read-only map of a local file, or None (remote file, or mapping unavailable)."""
    mapped = None
    if wanted and resolve(path)[0] is None:
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, io.UnsupportedOperation):
            mapped = None
    try:
        yield mapped
    finally:
        if mapped is not None:
            mapped.close()


def _check_encoding(path: str, csv: CsvOptions) -> bytes | None:
    """The quote character as bytes; PlanningError if byte-level cutting is unsafe."""
    probe = "\r\n" + csv.quote_char
    try:
        encoded = probe.encode(csv.encoding)
    except LookupError as exc:
        raise PlanningError(f"{path}: unknown encoding {csv.encoding!r}") from exc
    except UnicodeEncodeError:
        encoded = b""
    if not probe.isascii() or encoded != probe.encode("ascii"):
        raise PlanningError(
            f"{path}: cannot cut a CSV in encoding {csv.encoding!r} at byte offsets; "
            "its line ends and quote character must be single ASCII bytes "
            "(UTF-8, Latin-1, cp1252... are fine; re-encode UTF-16/32 files)"
        )
    return csv.quote_char.encode("ascii") if csv.quote_char else None


def _find_header(
    data: BinaryIO | mmap.mmap, path: str, size: int, quote: bytes | None, csv: CsvOptions
) -> tuple[int, str | None]:
    """(offset of the first data record, raw header text or None)."""
    start = len(UTF8_BOM) if _read_range(data, 0, len(UTF8_BOM)) == UTF8_BOM else 0
    with _Scanner(data, start, size, quote, 64 * 1024) as scanner:
        scanner.skip_blank()
        if not csv.header:
            return scanner.pos, None
        header_start = scanner.pos
        if not scanner.seek_record_end():
            if size - header_start > MAX_HEADER_BYTES:
                raise PlanningError(
                    f"{path}: no line terminator (\\n, \\r\\n or \\r) outside quotes in "
                    f"{size - header_start} bytes; not a CSV file, or an unclosed quote"
                )
            return size, None  # a header and no record: nothing to plan
        header_stop = scanner.pos
        scanner.skip_blank()
        data_start = scanner.pos
    raw = _read_range(data, header_start, header_stop)
    try:
        return data_start, raw.decode(csv.encoding)
    except UnicodeDecodeError as exc:
        raise PlanningError(
            f"{path}: the header line is not valid {csv.encoding}: {exc.reason} "
            f"at byte {header_start + exc.start}"
        ) from exc


def _read_range(data: BinaryIO | mmap.mmap, start: int, stop: int) -> bytes:
    if isinstance(data, mmap.mmap):
        return data[start:stop]
    data.seek(start)
    return data.read(stop - start)


def _mean_record_bytes(
    data: BinaryIO | mmap.mmap, start: int, size: int, quote: bytes | None
) -> float:
    """Mean bytes per record (blank lines included) over the first SAMPLE_BYTES of data."""
    records = 0
    with _Scanner(data, start, size, quote, SAMPLE_BYTES) as scanner:
        while scanner.pos < size and scanner.pos - start < SAMPLE_BYTES:
            records += 1
            if not scanner.seek_record_end():
                break
            scanner.skip_blank()
        covered = min(scanner.pos, size) - start
    return max(1.0, covered / max(1, records))


def _target_bytes(path: str, chunking: ChunkingSpec, record_bytes: float) -> int:
    """Chunk size in bytes: ``chunking.bytes`` wins when set, else rows x mean record size."""
    if chunking.bytes is not None:
        if chunking.bytes < 1:
            raise PlanningError(f"{path}: chunking.bytes must be >= 1, got {chunking.bytes}")
        return chunking.bytes
    if chunking.rows is None or chunking.rows < 1:
        raise PlanningError(f"{path}: chunking needs rows >= 1 or bytes >= 1")
    return max(1, round(chunking.rows * record_bytes))


def _cut(
    data: BinaryIO | mmap.mmap,
    data_start: int,
    size: int,
    quote: bytes | None,
    target: int,
    block_size: int,
    pool: tuple[Executor, int] | None = None,
) -> list[tuple[int, int]]:
    """Greedy cut: each chunk ends at the first record start at or after start + target.

    ``pool`` (an executor and how many threads may count at once, the caller's
    included) shares out the quote counting of large ranges."""
    bounds: list[tuple[int, int]] = []
    start = data_start
    with _Scanner(data, data_start, size, quote, block_size, pool) as scanner:
        while start < size:
            if start + target >= size:
                bounds.append((start, size))
                break
            # A record start at or after start+target follows a newline at or after start+target-1.
            scanner.advance_to(start + target - 1)
            if not scanner.seek_record_end():
                bounds.append((start, size))
                break
            scanner.skip_blank()
            bounds.append((start, scanner.pos))
            start = scanner.pos
    return bounds


def record_end_after(path: str, csv: CsvOptions, start: int, stop: int, length: int) -> int:
    """The first record end at or after ``start + length``, within [start, stop].

    ``start`` must be a record start (a chunk's start): the planner reads a
    prefix of whole records of a chunk to infer types from (planning/schema.py).
    """
    if start + length >= stop:
        return stop
    quote = _check_encoding(path, csv)
    with open_binary(path) as stream, _maybe_map(path, stream, True) as mapped:
        data: BinaryIO | mmap.mmap = mapped if mapped is not None else stream
        with _Scanner(data, start, stop, quote, SAMPLE_BYTES) as scanner:
            scanner.advance_to(start + length - 1)
            if not scanner.seek_record_end():
                return stop
            return min(scanner.pos, stop)
