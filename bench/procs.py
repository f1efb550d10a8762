"""Processors of the bench's real-path scenarios (``python: bench.procs:<name>``)."""

from __future__ import annotations

import pyarrow as pa

from orchestrator.processors.base import ChunkContext


def identity(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Return the chunk's rows unchanged: what is measured is reading and writing."""
    return table
