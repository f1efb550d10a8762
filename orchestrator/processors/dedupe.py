"""``type: dedupe``: the reduce step of an exact deduplication by a normalized key.

Runs on one shuffle partition (every row of its keys), so dropping repeats
here drops them globally; the job is a map_reduce partitioned by the same
normalized key (``spec/strategy.py`` implies it). Params: ``key`` (columns),
``normalize`` (``lower``, ``trim``, ...), ``keep`` (``first``/``last`` in input
order), ``null_keys`` (``keep`` every row with a null key, or ``dedupe`` them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from orchestrator.processors.base import ChunkContext, partition_wise
from orchestrator.shuffle.reduce_ops import check_dedupe_params
from orchestrator.shuffle.reduce_ops import dedupe as dedupe_rows


def check_params(params: Mapping[str, Any]) -> None:
    check_dedupe_params(params)


@partition_wise
def dedupe(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    key, normalize, keep, null_keys = check_dedupe_params(ctx.params)
    out = dedupe_rows(table, key, normalize, keep, null_keys)
    if out.num_rows < table.num_rows:
        ctx.reject(table.num_rows - out.num_rows, "duplicate")
    return out
