"""One way to open an input, whether it is a local path or a ``pyarrow.fs`` URI.

The planner, the fingerprint and the chunk readers all need to stat and read
inputs; routing them through here means a chunk descriptor's ``path`` means the
same thing on the coordinator and on every worker. Local paths use the
built-in ``open`` (the fastest way to read a local file from Python); anything
with a scheme goes through ``pyarrow.fs.FileSystem.from_uri``.
"""

from __future__ import annotations

import os
import re
from typing import BinaryIO, cast

import pyarrow as pa
import pyarrow.fs as pafs

from orchestrator.errors import PlanningError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` (``file://``, ``s3://``...), False for a plain path.

    A Windows drive letter (``C:\\``) has no ``//`` after the colon, so it stays a path.
    """
    return _SCHEME.match(path) is not None


def resolve(path: str) -> tuple[pafs.FileSystem | None, str]:
    """Split ``path`` into (filesystem, path inside it); ``None`` means the local disk."""
    if not is_uri(path):
        return None, path
    try:
        fs, inner = pafs.FileSystem.from_uri(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise PlanningError(f"cannot open input URI {path!r}: {exc}") from exc
    if isinstance(fs, pafs.LocalFileSystem):
        return None, inner
    return fs, inner


def open_binary(path: str) -> BinaryIO:
    """Open an input for random-access binary reading (``read``, ``seek``, ``tell``)."""
    fs, inner = resolve(path)
    try:
        if fs is None:
            return open(inner, "rb")  # the caller closes it
        return cast(BinaryIO, fs.open_input_file(inner))
    except (OSError, pa.ArrowException) as exc:
        raise PlanningError(f"cannot open input {path!r}: {exc}") from exc


def stat(path: str) -> tuple[int, int]:
    """(size in bytes, modification time in ns) of an input; 0 when the store has no mtime."""
    fs, inner = resolve(path)
    try:
        if fs is None:
            st = os.stat(inner)
            return st.st_size, st.st_mtime_ns
        info = fs.get_file_info(inner)
    except OSError as exc:
        raise PlanningError(f"cannot stat input {path!r}: {exc}") from exc
    if info.type != pafs.FileType.File:
        raise PlanningError(f"input {path!r} is not a file (or no longer exists)")
    return int(info.size or 0), int(info.mtime_ns or 0)
