"""Open Parquet inputs once per worker: the footer parsed once, the handle reused.

A Parquet footer holds the metadata of every row group. A writer that leaves
many small groups (Spark, streaming sinks) makes it large: 4,000 one-row
groups parse in ~26 ms, 20,000 in ~130 ms. When each chunk of such a file
(one group each) opened the file afresh, every chunk paid for the whole
footer, so a chunk's cost grew with the file and a job's with the square of
its chunks (4,000 chunks: 87 s; with this cache: 6.8 s).

So a worker keeps the last few files it read open, each with its parsed
footer and the global row number where each group starts. An entry is keyed
by the path and the file's fingerprint (size, modification time and, for a
local file, device and inode): a file rewritten or replaced since is a
different key, opened and parsed afresh, never read through a stale footer.
The cache is bounded by :data:`MAX_OPEN_FILES` entries (the least recently
used is closed), so a worker walking thousands of small files holds only a
few descriptors and footers, whatever the dataset.
"""

from __future__ import annotations

import bisect
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from orchestrator.planning.input_files import resolve

#: Parquet files a worker keeps open at once (with their footers).
MAX_OPEN_FILES = 8

Fingerprint = tuple[int, int, int, int]  # size, mtime_ns, st_dev, st_ino (0 for a URI)


@dataclass
class OpenParquet:
    """One open input: its reader and the first global row of each row group."""

    file: pq.ParquetFile
    group_starts: list[int]  # group_starts[i]: global row of group i's first row; [-1] = total

    def group_offset(self, group: int) -> int:
        """Global row number of the first row of ``group``."""
        return self.group_starts[group]

    def group_of_row(self, row: int) -> int:
        """The row group that holds global row ``row``."""
        return bisect.bisect_right(self.group_starts, row) - 1


class ParquetFileCache:
    """A small LRU of open Parquet files, keyed by path and fingerprint."""

    def __init__(self, capacity: int = MAX_OPEN_FILES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, Fingerprint], OpenParquet] = OrderedDict()
        self._lock = threading.Lock()
        self._in_use: dict[int, int] = {}  # id(entry) -> readers holding it
        self.opened = 0  # footers parsed since start (what the unit test counts)

    @contextmanager
    def open(self, path: str) -> Iterator[OpenParquet]:
        """The open file for ``path`` as it is now; parsed only when it is new or changed."""
        key = (path, _fingerprint(path))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            entry = _open(path)
            with self._lock:
                self.opened += 1
                self._drop_older_versions(path, key)
                self._entries[key] = entry
                self._evict()
        with self._lock:
            self._in_use[id(entry)] = self._in_use.get(id(entry), 0) + 1
        try:
            yield entry
        finally:
            with self._lock:
                left = self._in_use[id(entry)] - 1
                if left:
                    self._in_use[id(entry)] = left
                else:
                    del self._in_use[id(entry)]
                    if not any(e is entry for e in self._entries.values()):
                        entry.file.close()

    def clear(self) -> None:
        """Close every file not being read now."""
        with self._lock:
            for key in list(self._entries):
                entry = self._entries.pop(key)
                if id(entry) not in self._in_use:
                    entry.file.close()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_older_versions(self, path: str, key: tuple[str, Fingerprint]) -> None:
        for old in [k for k in self._entries if k[0] == path and k != key]:
            self._close_unless_used(self._entries.pop(old))

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            _, entry = self._entries.popitem(last=False)
            self._close_unless_used(entry)

    def _close_unless_used(self, entry: OpenParquet) -> None:
        if id(entry) not in self._in_use:
            entry.file.close()


def _fingerprint(path: str) -> Fingerprint:
    """What changes when the file does; a missing file raises as opening it would."""
    fs, inner = resolve(path)
    if fs is None:
        st = os.stat(inner)
        return st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino
    info = fs.get_file_info(inner)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"input {path!r} is not a file (or no longer exists)")
    return int(info.size or 0), int(info.mtime_ns or 0), 0, 0


def _open(path: str) -> OpenParquet:
    fs, inner = resolve(path)
    file = pq.ParquetFile(inner, filesystem=fs or pafs.LocalFileSystem())
    meta = file.metadata
    rows = (meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    return OpenParquet(file=file, group_starts=[0, *itertools.accumulate(rows)])


#: The worker's cache (one per process: a worker runs one attempt at a time).
PARQUET_FILES = ParquetFileCache()
