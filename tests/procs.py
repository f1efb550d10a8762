"""Processors used by the tests, referenced as ``python: tests.procs:<name>``.

The one importable home of test processors (STYLE.md). A worker subprocess
resolves ``tests.procs`` when the repository root is on its ``PYTHONPATH``
(tests set ``PYTHONPATH=<repo root>``); ``tests/__init__.py`` makes ``tests``
a regular package so no other ``tests`` on ``sys.path`` can shadow it.

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
