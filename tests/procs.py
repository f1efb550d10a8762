"""Processors used by the tests, referenced as ``python: tests.procs:<name>``.

The one importable home of test processors, so every test names them the same
way. A worker subprocess resolves ``tests.procs`` when the repository root is
on its ``PYTHONPATH`` (tests set ``PYTHONPATH=<repo root>``);
``tests/__init__.py`` makes ``tests`` a regular package so no other ``tests``
on ``sys.path`` can shadow it.

Fault injection is driven by ``params`` so one spec can describe "fail chunk 3
until the marker file exists": a test creates the marker to "fix" the bug and
the retried attempt succeeds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator import PermanentError
from orchestrator.processors.base import ChunkContext


def _fixed(params: dict[str, Any]) -> bool:
    marker = params.get("fixed_marker")
    return bool(marker) and Path(str(marker)).exists()


def _matches(ctx: ChunkContext) -> bool:
    seq = ctx.params.get("seq")
    seqs = seq if isinstance(seq, list) else [seq]
    return ctx.chunk.seq in seqs and not _fixed(ctx.params)


def identity(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Output = input."""
    return table


def fail_on_seq(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Raise on chunk ``params.seq`` (an int or a list) unless ``params.fixed_marker`` exists."""
    if _matches(ctx):
        raise RuntimeError(f"boom on chunk {ctx.chunk.seq} (attempt {ctx.attempt})")
    return table


def crash_on_seq(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Kill the whole worker process on chunk ``params.seq`` unless the marker exists.

    ``params.how``: ``exit`` (``os._exit(17)``, default), ``kill`` (SIGKILL self)
    or ``segv`` (a real segmentation fault: read address 0). ``params.seconds``:
    sleep that long first (default 0), also on the chunks that do not crash.
    """
    time.sleep(float(ctx.params.get("seconds", 0)))
    if _matches(ctx):
        how = ctx.params.get("how")
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "segv":
            import ctypes

            ctypes.string_at(0)
        os._exit(17)
    return table


def sleep_then_identity(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Sleep ``params.seconds`` (default 1), then pass rows through."""
    time.sleep(float(ctx.params.get("seconds", 1.0)))
    return table


def checkpointing(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Save a checkpoint per ``params.steps`` (default 3) step, resuming after the last one.

    ``params.fail_at``: a first attempt fails right after checkpointing that
    step (``params.how: exit`` kills the worker instead of raising).
    ``params.step_seconds``: each step takes that long (default 0).

    Output: one row per step run in this attempt, with the step number and
    whether the attempt resumed from a checkpoint.
    """
    steps = int(ctx.params.get("steps", 3))
    last = ctx.last_checkpoint or {}
    first = int(last.get("done", 0))
    fail_at = ctx.params.get("fail_at")  # first attempts stop after this step
    for step in range(first, steps):
        time.sleep(float(ctx.params.get("step_seconds", 0.0)))
        ctx.checkpoint({"done": step + 1})
        if fail_at is not None and first == 0 and step + 1 == int(fail_at):
            if ctx.params.get("how") == "exit":
                time.sleep(0.1)  # let the checkpoint reach the coordinator
                os._exit(17)
            raise RuntimeError(f"failed after step {step + 1}")
    done = list(range(first, steps))
    return pa.table({"step": pa.array(done, pa.int64()), "resumed": [first > 0] * len(done)})


def chatty(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Write to stdout every way a processor can; none of it may reach the protocol."""
    print("hello from print() in a processor")
    sys.stdout.write("sys.stdout.write\n")
    sys.stdout.flush()
    os.write(1, b"os.write to fd 1\n")
    os.system("echo from a child process")
    ctx.logger.info("chatty ran on chunk %d", ctx.chunk.seq)
    return table


def reject_odd(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Drop rows whose ``params.column`` (default ``id``) is odd, counting them as rejected."""
    column = str(ctx.params.get("column", "id"))
    odd = pc.equal(pc.bit_wise_and(table[column], 1), 1)
    ctx.reject(int(pc.sum(odd).as_py() or 0), "odd id")
    return table.filter(pc.invert(odd))


def returns_garbage(table: pa.Table, ctx: ChunkContext) -> Any:
    """Return something that is not Arrow data."""
    return {"not": "a table"}


not_callable = 42


def tag_source(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Rows plus a ``source`` column: the chunk's file path exactly as the worker saw it."""
    return table.append_column("source", pa.array([ctx.chunk.path or ""] * table.num_rows))


def inflate_on_seq(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Add ``params.bytes`` (default 1 MiB) of incompressible text to the output of
    chunk ``params.seq`` unless the marker exists: a part too big for a full disk."""
    if _matches(ctx):
        size = int(ctx.params.get("bytes", 1 << 20)) // max(table.num_rows, 1)
        blob = [os.urandom(size // 2 + 1).hex() for _ in range(table.num_rows)]
        return table.append_column("blob", pa.array(blob))
    return table


def log_start(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Append ``<job> <seq> <attempt>`` to ``params.log`` when the chunk starts,
    sleep ``params.seconds`` (default 0), pass rows through: the order in which
    chunks really started, whatever order their events were written in."""
    line = f"{ctx.job_name} {ctx.chunk.seq} {ctx.attempt}\n"
    fd = os.open(str(ctx.params["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    time.sleep(float(ctx.params.get("seconds", 0.0)))
    return table


def emit_seq(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """One row naming the chunk (``job``, ``seq``): an output in which each
    chunk's committed part appears exactly once, or a duplicate shows."""
    time.sleep(float(ctx.params.get("seconds", 0.0)))
    return pa.table({"job": [ctx.job_name], "seq": [ctx.chunk.seq]})


def group_by_reduce(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """A map_reduce reduce step: ``params.keys`` grouped, ``params.aggregations``
    as ``[[column, function], ...]`` (shuffle/reduce_ops.py)."""
    from orchestrator.shuffle.reduce_ops import aggregate

    aggregations = [(c, f) for c, f in ctx.params["aggregations"]]
    return aggregate(table, ctx.params["keys"], aggregations)


def add_rank(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Adds ``phase`` (the chunk's phase) to every row: shows which phase wrote it."""
    return table.append_column("phase", pa.array([ctx.chunk.phase] * table.num_rows, pa.int64()))


def halve(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """An iterative step: ``x`` halved (integer) while above 1 (tests of custom planners)."""
    x = table.column("x")
    halved = pc.if_else(pc.greater(x, 1), pc.divide(x, 2), x)
    return table.set_column(table.column_names.index("x"), "x", halved)


def halve_until_one(inp: Any) -> Any:
    """A custom planner: another phase of ``halve`` while some ``x`` is above 1."""
    import pyarrow.ipc as ipc

    biggest = 0
    for path in inp.parts():
        with pa.OSFile(path, "rb") as f:
            part = ipc.open_file(f).read_all()
        if part.num_rows:
            biggest = max(biggest, pc.max(part.column("x")).as_py())
    return inp.chunks_from_parts() if biggest > 1 else None


def running_total(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """A serial-phase step: ``total`` = running sum of ``x`` across chunks (ctx.state)."""
    start = (ctx.state or {}).get("total", 0)
    totals = []
    total = start
    for x in table.column("x").to_pylist():
        total += x
        totals.append(total)
    ctx.state = {"total": total}
    ctx.result = {"chunk_total": total - start}
    return table.append_column("total", pa.array(totals, pa.int64()))


def label_step(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """One round of connected components by min-label propagation over an edge
    list (``src``, ``dst``; labels ``ls``/``ld`` added in the first round). The
    whole edge list is one chunk; ``ctx.result['changed']`` tells the planner."""
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if "ls" not in frame.columns:
        frame = frame.with_columns(ls=pl.col("src"), ld=pl.col("dst"))
    low = pl.min_horizontal("ls", "ld")
    ends = pl.concat(
        [
            frame.select(node=pl.col("src"), label=low),
            frame.select(node=pl.col("dst"), label=low),
        ]
    )
    best = ends.group_by("node").agg(pl.col("label").min())
    new = (
        frame.join(best.rename({"node": "src", "label": "ls2"}), on="src", how="left")
        .join(best.rename({"node": "dst", "label": "ld2"}), on="dst", how="left")
        .with_columns(ls=pl.min_horizontal("ls", "ls2"), ld=pl.min_horizontal("ld", "ld2"))
    )
    changed = bool(
        new.select(((pl.col("ls") != pl.col("ls2")) | (pl.col("ld") != pl.col("ld2"))).any()).item()
        or new.select((pl.col("ls2") != pl.col("ld2")).any()).item()
    )
    ctx.result = {"changed": changed}
    return new.select("src", "dst", "ls", "ld").to_arrow()


def until_labels_stable(inp: Any) -> Any:
    """A custom planner: another round of ``label_step`` while a label changed."""
    return inp.chunks_from_parts() if any(v["changed"] for v in inp.values()) else None


def flaky_chatter(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """On chunk ``params.seq``: attempt 1 prints, logs and raises; later attempts
    print and log something else and succeed (other chunks: identity, silent)."""
    if ctx.chunk.seq != ctx.params.get("seq"):
        return table
    print(f"print of attempt {ctx.attempt}")
    sys.stderr.write(f"stderr of attempt {ctx.attempt}\n")
    ctx.logger.warning("logger line of attempt %d", ctx.attempt)
    if ctx.attempt == 1:
        _deep_failure(ctx.attempt)
    return table


def _deep_failure(attempt: int) -> None:
    raise RuntimeError(f"flaky failure on attempt {attempt}")


def permanent_failure(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Every chunk raises ``orchestrator.PermanentError`` (or, with
    ``params.how: missing_column``, a ``KeyError`` from a missing column)."""
    if ctx.params.get("how") == "missing_column":
        table.column("no_such_column")
    raise PermanentError(f"chunk {ctx.chunk.seq} can never work")


def always_fail(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Every chunk raises the same transient-looking error (after ``params.seconds``)."""
    time.sleep(float(ctx.params.get("seconds", 0)))
    raise RuntimeError("the same error on every chunk")


def floods_output(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Print ``params.bytes`` bytes (a first and a last line that name themselves)."""
    total = int(ctx.params.get("bytes", 1 << 20))
    sys.stdout.write("FIRST LINE\n")
    line = "x" * 1023 + "\n"
    for _ in range(total // 1024):
        sys.stdout.write(line)
    sys.stdout.write("LAST LINE\n")
    return table


def dump_env(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Write the processor's environment as JSON to ``params.out`` (one file per
    chunk, ``<out>.<seq>``): what user code can read. Rows pass through."""
    import json

    path = f"{ctx.params['out']}.{ctx.chunk.seq}"
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(os.environ), handle)
    return table


def window_summary(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """A window chunking's reduce step: per ``window_start``, the rows, the sum
    of ``v``, and whether its times came sorted (``in_order``)."""
    ts = table.column("ts").to_pylist()
    windows = table.column("window_start").to_pylist()
    v = table.column("v").to_pylist()
    summary: dict[Any, list[Any]] = {}
    for window, t, value in zip(windows, ts, v, strict=True):
        row = summary.setdefault(window, [0, 0, True, None])
        row[0] += 1
        row[1] += value
        if t is not None:
            row[2] = row[2] and (row[3] is None or row[3] <= t)
            row[3] = t
    keys = list(summary)
    return pa.table(
        {
            "window_start": pa.array(keys, table.schema.field("window_start").type),
            "rows": pa.array([summary[k][0] for k in keys], pa.int64()),
            "v": pa.array([summary[k][1] for k in keys], pa.int64()),
            "in_order": pa.array([summary[k][2] for k in keys], pa.bool_()),
        }
    )
