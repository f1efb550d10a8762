"""Finding out why: attempt logs, the first error of a job, errors grouped.

``jobctl logs`` reads what each attempt printed, logged and raised
(:class:`~orchestrator.store.attempt_logs.AttemptLog`, saved by the
dispatcher from the worker's capture); ``status``, ``dlq list`` and the end
of ``run`` group the dead chunks' errors (one line per distinct error with
its count, not one line per chunk) and point to ``jobctl logs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from orchestrator.states import JOB_TERMINAL
from orchestrator.store.attempt_logs import AttemptLog
from orchestrator.store.base import ChunkRecord, JobRecord, Store

#: Traceback lines the first error of a failed job is shown with (its last frames).
FIRST_ERROR_LINES = 8


def attempt_logs(
    store: Store,
    job: JobRecord,
    chunk: int | None = None,
    attempt: int | None = None,
    after_id: int = 0,
) -> list[AttemptLog]:
    """The logs of ``job``'s attempts, oldest first (``chunk``: the job's chunk
    number, as ``status`` and part names show it; ``attempt``: ``ctx.attempt``)."""
    return store.attempt_logs(job.id, chunk, attempt, after_id)


def follow_logs(
    store: Store,
    job: JobRecord,
    chunk: int | None = None,
    attempt: int | None = None,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[AttemptLog]:
    """Every attempt log of ``job`` (as :func:`attempt_logs`), then each new
    one as its attempt ends, until the job has ended and nothing is left."""
    last = 0
    while True:
        ended = store.get_job(job.id).state in JOB_TERMINAL
        found = store.attempt_logs(job.id, chunk, attempt, last)
        for log in found:
            last = log.id
            yield log
        if ended and not found:
            return
        if not found:
            sleep(interval)


def first_failure(store: Store, job: JobRecord, seq: int) -> AttemptLog | None:
    """The last failed attempt of chunk ``seq`` of ``job`` (the one that made
    it dead), when it left a log."""
    failed = [log for log in store.attempt_logs(job.id, seq) if log.outcome == "failed"]
    return failed[-1] if failed else None


def last_frames(traceback: str | None, lines: int = FIRST_ERROR_LINES) -> list[str]:
    """The end of a traceback: where it was raised."""
    if not traceback:
        return []
    return traceback.rstrip("\n").splitlines()[-lines:]


@dataclass(frozen=True)
class ErrorGroup:
    """Chunks that ended with the same error."""

    error: str
    seqs: list[int]

    @property
    def count(self) -> int:
        return len(self.seqs)


def group_errors(chunks: Sequence[ChunkRecord]) -> list[ErrorGroup]:
    """The chunks' errors, one group per distinct message, the biggest first
    (ties: the group of the lowest chunk first)."""
    groups: dict[str, list[int]] = {}
    for chunk in chunks:
        groups.setdefault(chunk.error or "(no error recorded)", []).append(chunk.seq)
    found = [ErrorGroup(error, sorted(seqs)) for error, seqs in groups.items()]
    return sorted(found, key=lambda g: (-g.count, g.seqs[0]))


def logs_hint(job_id: int, seq: int | None = None) -> str:
    """The command that shows a job's (or one chunk's) attempt logs."""
    return f"jobctl logs {job_id}" + (f" --chunk {seq}" if seq is not None else "")
