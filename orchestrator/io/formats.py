"""The output formats and compressions the part writer can produce: one table.

The spec loader checks ``output.format``/``output.compression`` against this
table and the writer (:mod:`orchestrator.io.parts`) encodes from it, so a spec
that validates is a spec the writer can write. This module imports nothing
heavy (no pyarrow): ``jobctl validate`` reads it.
"""

from __future__ import annotations

#: Compressions each output format can write (``none`` = uncompressed); the
#: first one is the format's default when a spec names none.
SUPPORTED_COMPRESSIONS: dict[str, tuple[str, ...]] = {
    "parquet": ("zstd", "snappy", "gzip", "none"),
    "csv": ("none", "gzip"),
    "arrow": ("zstd", "lz4", "none"),
}


def default_compression(fmt: str) -> str:
    """The compression of an output that names none (``none`` for CSV)."""
    return SUPPORTED_COMPRESSIONS.get(fmt, ("none",))[0]


def output_problem(fmt: str, compression: str) -> str | None:
    """Why the writer cannot produce ``fmt`` with ``compression``, or None."""
    allowed = SUPPORTED_COMPRESSIONS.get(fmt)
    if allowed is None:
        return f"unknown output format {fmt!r} (use one of {', '.join(SUPPORTED_COMPRESSIONS)})"
    if compression not in allowed:
        return f"output format {fmt} supports compression {', '.join(allowed)}, not {compression!r}"
    return None
