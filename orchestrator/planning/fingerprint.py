"""Fingerprints: cheap evidence that an input has not changed since it was planned.

A resumed job reuses chunk descriptors (byte ranges, row ranges) computed
against the file as it was; if the file changed, those ranges are wrong. Hashing
a whole 1 GB file to find out would cost more than planning it, so the
fingerprint is size + mtime + a SHA-256 of a bounded sample (head, middle and
tail, 64 KiB each): O(1) in the file size, and it catches truncation, appends,
rewrites and most in-place edits. It is evidence, not proof: an edit in the
unsampled parts that keeps size and mtime goes unnoticed.
"""

from __future__ import annotations

import hashlib

from orchestrator.planning.input_files import open_binary, stat
from orchestrator.planning.model import InputFile

SAMPLE_BYTES = 64 * 1024
"""Bytes hashed at each of the three sample points (head, middle, tail)."""


def fingerprint(path: str, format: str) -> InputFile:
    """Size, mtime and sample hash of ``path``; PlanningError if it cannot be read."""
    size, mtime_ns = stat(path)
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    with open_binary(path) as f:
        if size <= 3 * SAMPLE_BYTES:
            digest.update(f.read(size))
        else:
            for offset in (0, (size - SAMPLE_BYTES) // 2, size - SAMPLE_BYTES):
                f.seek(offset)
                digest.update(f.read(SAMPLE_BYTES))
    return InputFile(
        path=path,
        format=format,
        size=size,
        mtime_ns=mtime_ns,
        sample_hash=digest.hexdigest(),
    )
