"""Processors of the phase and strategy tests (``python: tests.phase_procs:<name>``).

Kept apart from ``tests/procs.py``: these speak the phase protocol
(``ctx.state`` carried chunk to chunk, ``ctx.result`` read by a planner).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.processors.base import ChunkContext


def _log(ctx: ChunkContext, what: str) -> None:
    """Append ``what seq attempt`` to the file ``params.log`` (O_APPEND lines)."""
    log = ctx.params.get("log")
    if log:
        with open(str(log), "a") as f:
            f.write(f"{what} {ctx.chunk.seq} {ctx.attempt}\n")


def running_total(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Rows with a running total of ``amount`` over the whole input, in input
    order: each chunk starts from the total its predecessor left in
    ``ctx.state``. ``params.hang_seq``: the first attempt of that chunk writes
    its worker's pid to ``params.pid_file`` and hangs (a test kills it)."""
    _log(ctx, "start")
    state: dict[str, Any] = ctx.state or {"total": 0, "rows": 0}
    if ctx.params.get("hang_seq") == ctx.chunk.seq and ctx.attempt == 1:
        Path(str(ctx.params["pid_file"])).write_text(str(os.getpid()))
        time.sleep(120)
    time.sleep(float(ctx.params.get("sleep", 0)))
    amounts = table.column("amount").to_pylist()
    totals: list[int] = []
    total = int(state["total"])
    for amount in amounts:
        total += int(amount)
        totals.append(total)
    ctx.state = {"total": total, "rows": int(state["rows"]) + len(amounts)}
    _log(ctx, "end")
    return table.append_column("total", pa.array(totals, pa.int64()))


def add_one(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """``value`` + 1 (a parallel phase of a hybrid job)."""
    return table.set_column(
        table.schema.get_field_index("value"), "value", pc.add(table.column("value"), 1)
    )


def sum_by_user(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """One row per ``user`` with the sum of its ``amount`` (a reduce step: every
    row of a user arrives in one call), sorted by user; ``params.sleep`` first."""
    time.sleep(float(ctx.params.get("sleep", 0)))
    summed = table.group_by("user").aggregate([("amount", "sum")])
    summed = summed.rename_columns(["user", "amount"]).sort_by("user")
    return summed.select(["user", "amount"])
