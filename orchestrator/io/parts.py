"""The atomic part writer: a chunk's output appears complete under its name, or not at all.

Each attempt writes its own part (``part-00042.attempt-3.parquet``). The
table is encoded straight into a hidden temp file in the same directory and
hashed as its bytes go out, then the file is fsynced, renamed to
its final name and the directory fsynced — so after a crash at any instant
there is either no file under the final name or the whole, checksummed file.
On any error the temp file is removed and the exception propagates.

Who fsyncs the directory. A directory fsync costs as much as the part's own
(on this VM half of a small part's write time), and a local worker's parts all
land in one staging directory. So a worker started with
:data:`DIR_SYNC_ENV` = ``committer`` (the local executor's workers) leaves the
rename's fsync to the coordinator, which makes every part directory of a batch
of commits durable - one fsync per directory, :func:`sync_part_dirs` - before
the transaction that records those parts. Exactly-once holds: no commit names
a part whose rename could still be forgotten by a crash.

Who fsyncs a small part's data. On Linux the committer makes a batch durable
with one ``syncfs`` per filesystem (the data and the renames of every part of
the batch, whatever their number), so a local worker does not fsync a part
under :data:`SMALL_PART_BYTES` itself: for one-row parts that fsync was a
quarter of a chunk's cost in the worker (profile of 3,000 one-row Parquet
chunks: 0.97 of 4.2 ms). Larger parts are still fsynced by their worker before
the rename, in parallel, so that a commit never waits for a big part's data.

While the part is encoded its bytes are handed to the kernel's writeback
every few MB (:func:`start_writeback`), so the closing fsync waits for the
last few MB instead of the whole part.

Streaming saves a part-sized buffer per chunk (grown by reallocation, each
growth copying into fresh pages) and a second pass over it to hash and write:
a few percent of a part's write time, and tens of MB of a worker's peak RSS.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from orchestrator.io.csv_errors import BadRow
from orchestrator.io.formats import output_problem
from orchestrator.io.libc import linux_function

_HASH_BLOCK = 1024 * 1024

#: Set to ``committer`` in a worker's environment: :func:`write_part` does not
#: fsync the directory after the rename; the committer must (:func:`sync_part_dirs`).
DIR_SYNC_ENV = "JOBCTL_PART_DIR_SYNC"
DIR_SYNC_BY_COMMITTER = "committer"

#: A part under this size written by a local worker is left for the committer's
#: ``syncfs`` (see the module docstring); larger ones the worker fsyncs.
SMALL_PART_BYTES = 1024 * 1024

_syncfs = linux_function("syncfs", [ctypes.c_int])

#: While a part is encoded, each time this many more bytes were written the
#: kernel is asked to start writing them to disk (see :func:`start_writeback`).
WRITEBACK_STEP = 8 * 1024 * 1024


@dataclass(frozen=True)
class PartInfo:
    """A written part: what the result reports and the manifest records."""

    path: str
    bytes: int
    rows: int
    checksum: str  # "sha256:<hex>" of the file's bytes
    dir_synced: bool = True  # False: the rename waits for the committer's directory fsync


def validate_output(fmt: str, compression: str) -> None:
    """Raise ValueError for a format/compression pair the writer cannot produce."""
    problem = output_problem(fmt, compression)
    if problem is not None:
        raise ValueError(problem)


def part_filename(part_name: str, fmt: str, compression: str) -> str:
    """``part-00042.attempt-3`` -> ``part-00042.attempt-3.parquet`` (``.csv.gz`` for gzip CSV)."""
    validate_output(fmt, compression)
    if fmt == "csv" and compression == "gzip":
        return f"{part_name}.csv.gz"
    return f"{part_name}.{fmt}"


def serialize(table: pa.Table, fmt: str, compression: str) -> pa.Buffer:
    """The exact bytes of a part file, in memory (parts sent back over the wire)."""
    validate_output(fmt, compression)
    sink = pa.BufferOutputStream()
    _encode(table, sink, fmt, compression)
    return sink.getvalue()


def write_part(
    table: pa.Table, staging_dir: str, part_name: str, fmt: str, compression: str
) -> PartInfo:
    """Write ``table`` atomically as ``{staging_dir}/{part_name}.{ext}``."""
    name = part_filename(part_name, fmt, compression)
    directory = os.path.abspath(staging_dir)
    sink: _HashingSink | None = None

    def encode(fd: int) -> None:
        nonlocal sink
        sink = _HashingSink(fd)
        with pa.PythonFile(sink, mode="w") as stream:
            _encode(table, stream, fmt, compression)

    sync_dir = os.environ.get(DIR_SYNC_ENV) != DIR_SYNC_BY_COMMITTER
    defer_small = not sync_dir and _syncfs is not None

    def sync_data() -> bool:
        return not defer_small or sink is None or sink.size >= SMALL_PART_BYTES

    final = _write_atomic(directory, name, encode, sync_dir=sync_dir, sync_data=sync_data)
    assert sink is not None
    return PartInfo(
        path=final,
        bytes=sink.size,
        rows=table.num_rows,
        checksum=sink.checksum(),
        dir_synced=sync_dir,
    )


def _encode(table: pa.Table, sink: pa.NativeFile, fmt: str, compression: str) -> None:
    """Write ``table`` to ``sink`` in the output format (validated by the caller)."""
    codec = None if compression == "none" else compression
    if fmt == "parquet":
        pq.write_table(table, sink, compression=codec or "none")
    elif fmt == "csv":
        options = csv_write_options(table)
        if codec is None:
            pa_csv.write_csv(table, sink, options)
        else:
            with pa.CompressedOutputStream(sink, codec) as stream:
                pa_csv.write_csv(table, stream, options)
    else:
        options = pa.ipc.IpcWriteOptions(compression=codec)
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table)


#: What a null is written as in a one-column CSV part (see :func:`csv_write_options`).
CSV_NULL_MARKER = "NULL"


def csv_write_options(table: pa.Table) -> pa_csv.WriteOptions:
    """Arrow's defaults, except that a one-column table writes nulls as
    :data:`CSV_NULL_MARKER`: Arrow writes a null as an empty field, which in a
    one-column file is a blank line, and CSV readers (Arrow's included) skip
    blank lines - the row would be lost on the way back. Arrow's reader takes
    ``NULL`` for a null by default."""
    if table.num_columns == 1:
        return pa_csv.WriteOptions(null_string=CSV_NULL_MARKER)
    return pa_csv.WriteOptions()


class _HashingSink:
    """A write-only file over a descriptor that hashes every byte written to it.

    Arrow's writers call ``write`` with each encoded piece (a page, a header);
    the bytes go to the descriptor and into the running sha256 in one pass.
    Closing does not close the descriptor: its owner fsyncs and closes it.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self.closed = False
        self._digest = hashlib.sha256()
        self._queued = 0  # bytes handed to the kernel's writeback so far

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self._digest.update(view)
        _write_all(self.fd, view)
        self.size += len(view)
        if self.size - self._queued >= WRITEBACK_STEP:
            start_writeback(self.fd, self._queued, self.size - self._queued)
            self._queued = self.size
        return len(view)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def checksum(self) -> str:
        return "sha256:" + self._digest.hexdigest()


def write_bytes_atomic(directory: str, name: str, data: bytes | memoryview) -> str:
    """Write ``directory/name`` all or nothing: temp name, fsync, rename, fsync
    of the directory. On any error the temp file is removed and nothing exists
    under the final name; returns the final path."""
    return _write_atomic(directory, name, lambda fd: _write_all(fd, memoryview(data)))


def _write_atomic(
    directory: str,
    name: str,
    fill: Callable[[int], None],
    *,
    sync_dir: bool = True,
    sync_data: Callable[[], bool] | None = None,
) -> str:
    """``fill(fd)`` writes a hidden temp file, which then becomes ``directory/name``
    atomically and durably (see :func:`write_bytes_atomic`; without ``sync_dir``
    the rename is durable only once the caller's committer syncs the directory,
    and when ``sync_data()`` says False after the fill, the data too)."""
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            fill(fd)
            if sync_data is None or sync_data():
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(directory)
    return final


REJECTS_SUFFIX = ".rejects.csv"


def rejects_path(part_file: str) -> str:
    """Where the CSV rows an attempt rejected are, beside its part file."""
    for ext in (".csv.gz", ".parquet", ".csv", ".arrow"):
        if part_file.endswith(ext):
            return part_file[: -len(ext)] + REJECTS_SUFFIX
    return part_file + REJECTS_SUFFIX


def write_rejects(rows: Sequence[BadRow], staging_dir: str, part_name: str) -> str:
    """Write an attempt's rejected CSV rows (file, line, fields expected and found,
    the raw text) as ``{part_name}.rejects.csv``, atomically like its part."""
    table = pa.table(
        {
            "file": [r.file for r in rows],
            "line": pa.array([r.line for r in rows], pa.int64()),
            "expected_fields": pa.array([r.expected for r in rows], pa.int32()),
            "found_fields": pa.array([r.found for r in rows], pa.int32()),
            "text": [r.text for r in rows],
        }
    )
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink)
    name = part_name + REJECTS_SUFFIX
    return write_bytes_atomic(os.path.abspath(staging_dir), name, sink.getvalue().to_pybytes())


def file_checksum(path: str) -> str:
    """``sha256:<hex>`` of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def verify_part(path: str, checksum: str) -> bool:
    """True when ``path`` exists and its bytes match ``checksum``."""
    try:
        return file_checksum(path) == checksum
    except FileNotFoundError:
        return False


#: Linux ``sync_file_range``; None elsewhere.
_sync_file_range = linux_function(
    "sync_file_range", [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
)
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` to disk, now.

    Asynchronous (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``): it only
    queues the pages, it neither waits nor makes them durable - the fsync at
    the end still does that. Without it all of a part's pages are still dirty
    when its fsync comes, and the worker waits for the whole part to reach the
    disk instead of only for the last few MB (a 37 MB part on an idle disk
    here: 16-23 ms, with this 3-5 ms; at the disk's sustained 366 MB/s, about
    0.1 s). A no-op where the call does not exist.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _write_all(fd: int, data: memoryview) -> None:
    written = 0
    while written < len(data):
        written += os.write(fd, data[written:])


def fsync_dir(path: str) -> None:
    """fsync a directory, so the renames in it survive a crash (without it a
    crash can forget a file's new name)."""
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sync_part_dirs(part_files: Iterable[str]) -> list[tuple[str, OSError]]:
    """Make the parts' renames (and a small part's data, see the module
    docstring) durable before a commit records them: one ``syncfs`` per
    filesystem the parts are on, else one fsync per directory. Returns the
    directories that could not be synced, with the error: the parts in them
    must not be committed."""
    failed: list[tuple[str, OSError]] = []
    directories = sorted({os.path.dirname(os.path.abspath(p)) for p in part_files})
    if _syncfs is None:
        for directory in directories:
            try:
                fsync_dir(directory)
            except OSError as exc:
                failed.append((directory, exc))
        return failed
    by_device: dict[int, list[str]] = {}
    for directory in directories:
        try:
            by_device.setdefault(os.stat(directory).st_dev, []).append(directory)
        except OSError as exc:
            failed.append((directory, exc))
    for on_device in by_device.values():
        try:
            syncfs_of(on_device[0])
        except OSError as exc:
            failed += [(directory, exc) for directory in on_device]
    return failed


def syncfs_of(path: str) -> None:
    """Flush the whole filesystem that holds ``path`` (Linux ``syncfs``): every
    file's data and every rename on it is durable when this returns."""
    assert _syncfs is not None
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(dfd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), path)
    finally:
        os.close(dfd)
