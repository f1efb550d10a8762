"""The map step of ``chunking.window``: each row gets the start of its time window.

    chunking: {window: {column: ts, every: 1h}}

runs the job as a map_reduce partitioned by :data:`WINDOW_COLUMN`, whose map
step is :func:`assign_window`: the start of the window that holds the row's
``column`` value (windows are aligned on the Unix epoch in UTC, as
``date_trunc`` and ``time_bucket`` align them, so ``1h`` windows start on the
hour and ``1d`` windows at midnight UTC). A reduce chunk then holds every row
of each of its windows, sorted by window then time.

The column may be a timestamp (any unit, with or without a time zone), a date,
or text in ISO 8601; the window start is a timestamp in microseconds with the
column's time zone (none for text and dates, whose times are read as UTC). A
null time has a null window: those rows are kept, together in one chunk.
Anything else fails the map chunk at once
(:class:`~orchestrator.errors.PermanentError`): retrying bad data cannot help.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import PermanentError

#: The column the map step adds and the shuffle partitions by.
WINDOW_COLUMN = "window_start"


def assign_window(table: pa.Table, ctx: Any) -> pa.Table:
    """``table`` with :data:`WINDOW_COLUMN` appended (``ctx.params``: ``column``,
    ``every_us``, the window length in microseconds)."""
    column = str(ctx.params["column"])
    every_us = int(ctx.params["every_us"])
    if WINDOW_COLUMN in table.column_names:
        raise PermanentError(
            f"chunking.window adds a column {WINDOW_COLUMN!r}, and the input already has one"
        )
    if column not in table.column_names:
        raise PermanentError(
            f"chunking.window.column: no column {column!r} in the input "
            f"(columns: {', '.join(table.column_names)})"
        )
    values = table.column(column)
    micros, zone = epoch_micros(values, column)
    nulls = micros.is_null().to_numpy(zero_copy_only=False)
    starts = pa.array(window_starts(micros, every_us), type=pa.int64(), mask=nulls)
    return table.append_column(WINDOW_COLUMN, starts.cast(pa.timestamp("us", tz=zone)))


def window_starts(micros: pa.ChunkedArray | pa.Array, every_us: int) -> np.ndarray:
    """Window starts (microseconds since the epoch) of ``micros``: the largest
    multiple of ``every_us`` not after each value (also before 1970). Null
    values give 0 here; the caller masks them."""
    values = pc.fill_null(micros, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.floor_divide(values, every_us) * every_us


def epoch_micros(values: pa.ChunkedArray, column: str) -> tuple[pa.ChunkedArray, str | None]:
    """``values`` as int64 microseconds since the epoch (UTC), and the time
    zone the window column keeps (a zoned timestamp's own; else None, UTC)."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = _parsed(values, column)
        kind = values.type
    if pa.types.is_date(kind):
        values = values.cast(pa.timestamp("us"))
        kind = values.type
    if not pa.types.is_timestamp(kind):
        raise PermanentError(
            f"chunking.window.column {column!r} is {kind}: it must hold a timestamp, "
            "a date or ISO 8601 text"
        )
    zone = kind.tz
    micros = values.cast(pa.timestamp("us", tz=zone), safe=False).cast(pa.int64())
    return micros, zone


def _parsed(values: pa.ChunkedArray, column: str) -> pa.ChunkedArray:
    """ISO 8601 text as timestamps (Arrow's own parser): text without an offset
    is read as UTC, text with one (``+02:00``, ``Z``) converted to UTC."""
    for kind in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            return values.cast(kind).cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    bad = next((v for v in values.to_pylist() if v is not None and not _is_time(v)), None)
    if bad is None:
        raise PermanentError(
            f"chunking.window.column {column!r} mixes times with and without a UTC offset: "
            "write them all one way"
        )
    raise PermanentError(
        f"chunking.window.column {column!r}: {bad!r} is not an ISO 8601 time "
        "(e.g. 2026-03-01T12:30:00, 2026-03-01 12:30:00+02:00)"
    )


def _is_time(text: str) -> bool:
    for kind in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            pa.array([text]).cast(kind)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return False
