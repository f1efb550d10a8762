"""Attempt logs: what one attempt of a chunk printed, logged and raised.

The worker captures a chunk's stdout, stderr and logger records (capped:
``processors/capture.py``) and sends them with the result; the dispatcher
keeps them with the attempt's outcome (``dispatch/ledger.py``) and the store
writes them in ``attempt_logs`` (migration 0004), newest
:data:`KEEP_PER_CHUNK` per chunk. ``jobctl logs`` reads them. This module
holds the record both backends write and read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

#: Attempt logs kept per chunk (the newest): a chunk retried from the DLQ
#: again and again does not grow the store without bound.
KEEP_PER_CHUNK = 10
#: Rows one read returns at most.
READ_LIMIT = 1000


@dataclass(frozen=True)
class AttemptLog:
    """One attempt's log, tagged with its job, chunk (``seq``: the job's own
    chunk number) and attempt number (as the processor saw ``ctx.attempt``)."""

    job_id: int
    chunk_id: int
    seq: int
    attempt: int
    fencing_token: int
    outcome: str  # succeeded | failed
    worker: str | None = None
    error: str | None = None
    traceback: str | None = None
    output: str = ""
    output_bytes: int = 0  # what the attempt wrote in all (output may be cut)
    id: int = 0  # set by the store
    created_at: datetime | None = None

    def params(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["id"], doc["created_at"]
        return doc


def read_params(
    job_id: int, seq: int | None, attempt: int | None, after_id: int, limit: int
) -> dict[str, Any]:
    """The parameters of query ``attempt_logs`` (both dialects)."""
    return {"job_id": job_id, "seq": seq, "attempt": attempt, "after_id": after_id, "limit": limit}


def attempt_log(row: Any) -> AttemptLog:
    """A row of ``attempt_logs`` (either backend) as a record."""
    return AttemptLog(
        job_id=int(row["job_id"]),
        chunk_id=int(row["chunk_id"]),
        seq=int(row["seq"]),
        attempt=int(row["attempt"]),
        fencing_token=int(row["fencing_token"]),
        outcome=str(row["outcome"]),
        worker=row["worker"],
        error=row["error"],
        traceback=row["traceback"],
        output=str(row["output"] or ""),
        output_bytes=int(row["output_bytes"] or 0),
        id=int(row["id"]),
        created_at=_when(row["created_at"]),
    )


def _when(value: Any) -> datetime:
    """A PostgreSQL timestamptz as it is, a SQLite REAL (unix seconds) as one."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)
