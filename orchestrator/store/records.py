"""The records the store hands out and takes in: plain frozen dataclasses.

They are the vocabulary of :class:`orchestrator.store.base.Store` (which
re-exports them, so ``from orchestrator.store.base import JobRecord`` keeps
working) and carry no behaviour beyond small derived properties.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.states import ChunkState, JobState, Priority

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """Who changes the store: written into every ``events`` row."""

    user: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        return cls(user=user, host=socket.gethostname(), pid=os.getpid())


@dataclass(frozen=True)
class NewJob:
    """A job about to be submitted (its chunks are passed alongside)."""

    name: str
    run_key: str
    spec: dict[str, Any]
    spec_hash: str
    priority: Priority
    queue: str
    output_path: str | None
    source_file: str | None
    #: ``depends_on``: jobs that must succeed before this one starts
    upstream_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class JobRecord:
    id: int
    name: str
    run_key: str
    state: JobState
    priority: Priority
    queue: str
    spec: dict[str, Any]
    spec_hash: str
    output_path: str | None
    source_file: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    job_id: int
    seq: int
    phase: int
    state: ChunkState
    descriptor: ChunkDescriptor
    attempts: int  # processor-error attempts spent (counts toward max_attempts)
    infra_attempts: int  # lost leases, lost workers, preemption (separate cap)
    fencing_token: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    rows_in: int | None
    rows_out: int | None
    rows_rejected: int | None
    bytes_out: int | None
    checksum: str | None
    part_file: str | None
    error: str | None
    checkpoint: Any | None
    updated_at: datetime
    #: the small result committed with the outcome (``ChunkOutcome.result``)
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Lease:
    """A chunk leased to an owner. Commits must present ``fencing_token``."""

    chunk_id: int
    job_id: int
    seq: int
    fencing_token: int
    attempts: int  # processor-error attempts already spent before this one
    infra_attempts: int
    #: the chunk's descriptor as stored (``ChunkDescriptor.to_dict()``): the
    #: dispatcher passes it to the worker unchanged, without a round trip
    #: through the dataclass for every chunk
    descriptor_doc: dict[str, Any]
    checkpoint: Any | None

    @property
    def descriptor(self) -> ChunkDescriptor:
        return ChunkDescriptor.from_dict(self.descriptor_doc)


class OutcomeKind:
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # processor error: spends an attempt
    LOST = "lost"  # infrastructure: worker died, lease lost, preempted; no attempt spent
    CANCELLED = "cancelled"
    #: never started (queued on a worker that died, or a stop): back to pending
    #: without spending any attempt, like :meth:`Store.release_leases`
    RELEASED = "released"


@dataclass(frozen=True)
class ChunkOutcome:
    """The end of one attempt, as the dispatcher reports it to the store.

    For ``failed``: ``dead`` says the retry policy gave up (chunk -> dead), else
    the chunk returns to pending and is not leased again for ``retry_delay``
    seconds. For ``lost``: the chunk returns to pending at once, spends an infra
    attempt, and goes dead only when ``dead`` is set (the infra cap).
    """

    chunk_id: int
    fencing_token: int
    kind: str
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    bytes_out: int = 0
    checksum: str | None = None
    part_file: str | None = None
    error: str | None = None
    duration: float = 0.0
    worker: str | None = None
    dead: bool = False
    retry_delay: float = 0.0
    #: what a succeeded chunk reports for later chunks and phases: ``state``
    #: (a sequential phase's carried state), ``value`` (``ctx.result``)
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobProgress:
    """Counts and totals of one job, cheap enough to poll for a live view."""

    job_id: int
    state: JobState
    chunks: dict[ChunkState, int]
    rows_in: int
    rows_out: int
    rows_rejected: int
    bytes_out: int
    retries: int  # attempts beyond the first, over all chunks

    @property
    def total(self) -> int:
        return sum(self.chunks.values())

    @property
    def done(self) -> int:
        return self.chunks.get(ChunkState.SUCCEEDED, 0)


@dataclass(frozen=True)
class EventRecord:
    id: int
    at: datetime
    kind: str
    job_id: int | None
    chunk_id: int | None
    actor_user: str
    actor_host: str
    actor_pid: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueInfo:
    """One queue as ``jobctl queue list`` shows it. A queue exists once it has
    jobs or a row (it was paused or limited); without a row it is open and
    unlimited."""

    name: str
    paused: bool
    concurrency_limit: int | None
    pending: int  # pending chunks of pending or running jobs
    running: int  # running chunks
    jobs_active: int  # pending or running jobs


@dataclass(frozen=True)
class QueueStats:
    """What a queue did in the window of the last ``since`` seconds (database
    clock); ``depth``, ``running`` and ``dead`` are counts of now.

    The wait of a chunk runs from its job's submit to the chunk's first lease;
    ``wait_p95`` is the nearest-rank 95th percentile. An attempt *ended* when
    it succeeded, failed (processor error) or was lost (worker, host or lease
    lost); attempts that a stop released, cancelled or requeued did not. A
    retry is a lease of a chunk that was leased before.
    """

    queue: str
    since: float
    paused: bool
    concurrency_limit: int | None
    depth: dict[Priority, int]  # pending chunks of pending or running jobs, by job priority
    running: int
    dead: int  # the queue's dead letters
    leased: int  # chunks first leased in the window (the waits measured)
    wait_avg: float | None
    wait_p95: float | None
    succeeded: int  # chunks that succeeded in the window
    rows: int  # the rows they read
    failed: int  # attempts that failed in the window
    ended: int  # attempts that ended in the window
    retries: int

    @property
    def chunks_per_hour(self) -> float:
        return self.succeeded * 3600.0 / self.since

    @property
    def rows_per_hour(self) -> float:
        return self.rows * 3600.0 / self.since

    @property
    def failure_rate(self) -> float | None:
        """Failed attempts / ended attempts; None when none ended."""
        return self.failed / self.ended if self.ended else None


@dataclass(frozen=True)
class LeaseOwner:
    """An owner of running chunks, as the coordinator registry knows it."""

    owner: str
    chunks: int
    host: str | None  # None: no registry row
    pid: int | None
    heartbeat_age: float | None  # seconds since its last heartbeat (database clock)
