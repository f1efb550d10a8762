"""The one state machine for jobs and chunks.

State names are part of the user interface (``status --json``, ``list
--state``) and of the store schema. The transition tables here are the single
definition: the store does not check transitions in Python, it passes
:func:`job_sources` / :func:`chunk_sources` of the target state into its SQL,
which only updates rows whose current state is one of them (zero rows changed
means :class:`~orchestrator.errors.IllegalTransition`).
"""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UPSTREAM_FAILED = "upstream_failed"
    ROLLED_BACK = "rolled_back"


class ChunkState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # reserved: a failed attempt returns the chunk to pending or dead
    DEAD = "dead"
    CANCELLED = "cancelled"


class Priority(enum.IntEnum):
    """Global priorities: a higher value is served first, across all jobs."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


JOB_TERMINAL: frozenset[JobState] = frozenset(
    {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.UPSTREAM_FAILED,
        JobState.ROLLED_BACK,
    }
)
JOB_ACTIVE: frozenset[JobState] = frozenset({JobState.PENDING, JobState.RUNNING})

CHUNK_TERMINAL: frozenset[ChunkState] = frozenset(
    {ChunkState.SUCCEEDED, ChunkState.DEAD, ChunkState.CANCELLED}
)
#: What cancelling a job cancels: its unfinished chunks. Dead ones stay in the
#: dead-letter queue (only ``dlq purge`` turns dead into cancelled).
CHUNK_CANCELLED_WITH_JOB: frozenset[ChunkState] = frozenset(
    {ChunkState.PENDING, ChunkState.RUNNING}
)

JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.UPSTREAM_FAILED}),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PENDING}
    ),
    # resume: a failed job goes back to running with its dead chunks re-queued
    JobState.FAILED: frozenset({JobState.RUNNING, JobState.ROLLED_BACK}),
    JobState.CANCELLED: frozenset({JobState.RUNNING, JobState.ROLLED_BACK}),
    JobState.SUCCEEDED: frozenset({JobState.ROLLED_BACK}),
    JobState.UPSTREAM_FAILED: frozenset({JobState.PENDING}),
    JobState.ROLLED_BACK: frozenset(),
}

CHUNK_TRANSITIONS: dict[ChunkState, frozenset[ChunkState]] = {
    ChunkState.PENDING: frozenset({ChunkState.RUNNING, ChunkState.CANCELLED}),
    ChunkState.RUNNING: frozenset(
        {
            ChunkState.SUCCEEDED,
            ChunkState.PENDING,  # retry after an error, lost lease, release
            ChunkState.DEAD,
            ChunkState.CANCELLED,
            ChunkState.FAILED,
        }
    ),
    ChunkState.FAILED: frozenset({ChunkState.PENDING, ChunkState.DEAD}),
    ChunkState.DEAD: frozenset({ChunkState.PENDING, ChunkState.CANCELLED}),  # dlq retry, purge
    ChunkState.CANCELLED: frozenset({ChunkState.PENDING}),  # resume of a cancelled job
    ChunkState.SUCCEEDED: frozenset(),
}


def job_sources(target: JobState) -> frozenset[JobState]:
    """All job states from which ``target`` may be reached."""
    return frozenset(src for src, dsts in JOB_TRANSITIONS.items() if target in dsts)


def chunk_sources(target: ChunkState) -> frozenset[ChunkState]:
    """All chunk states from which ``target`` may be reached."""
    return frozenset(src for src, dsts in CHUNK_TRANSITIONS.items() if target in dsts)
