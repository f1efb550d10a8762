"""``type: noop``: does nothing, as cheaply as possible.

Exists to measure the orchestrator's own per-chunk overhead (benchmarks,
``sequence`` inputs) and to test plumbing without any data work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestrator.processors.base import ChunkContext


def noop(table: pa.Table, ctx: ChunkContext) -> None:
    """Produce no output rows."""
    return None
