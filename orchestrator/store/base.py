"""The state store interface: the only source of truth about jobs and chunks.

One control flow implements it (``core.py``: jobs, chunks, events;
``fleet.py``: queues, hosts, the coordinator registry, settlement) over named
queries, and two dialect adapters complete it (``postgres.py``,
``sqlite.py``), each with its SQL in ``store/sql/<dialect>.sql`` plus the
portable ``store/sql/common.sql``. The records it hands out are in
``records.py`` (re-exported here). One contract test suite
(``tests/contract``) runs unchanged against both. Every method that changes
state runs in one transaction and writes one ``events`` row per transition in
that same transaction. Timestamps come from the database clock.

The store persists decisions; it does not make policy. The dispatcher decides
whether a failed attempt is retried or dead (``dispatch/retry.py``) and passes
the decision in a :class:`ChunkOutcome`; the store accepts it only when the
outcome's fencing token is still the chunk's current one.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.store.attempt_logs import READ_LIMIT, AttemptLog
from orchestrator.store.records import (
    Actor,
    ChunkOutcome,
    ChunkRecord,
    EventRecord,
    JobProgress,
    JobRecord,
    Lease,
    LeaseOwner,
    NewJob,
    OutcomeKind,
    QueueInfo,
    QueueStats,
)

if TYPE_CHECKING:  # names of annotations only: read-only commands start faster without them
    from collections.abc import Sequence

    from orchestrator.planning.model import ChunkDescriptor, InputFile
    from orchestrator.spec.ssh import HostSpec
    from orchestrator.states import ChunkState, JobState, Priority
    from orchestrator.store.hosts import HostRecord, HostState

__all__ = [
    "Actor",
    "ChunkOutcome",
    "ChunkRecord",
    "EventRecord",
    "JobListener",
    "JobProgress",
    "JobRecord",
    "Lease",
    "LeaseOwner",
    "NewJob",
    "OutcomeKind",
    "QueueInfo",
    "QueueStats",
    "Store",
]


class Store(abc.ABC):
    """The narrow interface both backends implement. See the module docstring."""

    #: a URL safe to show (password removed)
    display_url: str

    # -- schema -----------------------------------------------------------------

    @abc.abstractmethod
    def upgrade(self) -> list[int]:
        """Apply pending migrations under a lock; return the versions applied."""

    @abc.abstractmethod
    def schema_version(self) -> tuple[int, int]:
        """(version of the store, latest version this code knows)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    # -- jobs -------------------------------------------------------------------

    @abc.abstractmethod
    def submit_job(
        self, job: NewJob, inputs: Sequence[InputFile], chunks: Sequence[ChunkDescriptor]
    ) -> tuple[int, bool]:
        """Insert a job with its inputs and chunks in one transaction.

        Returns ``(job_id, created)``. When a job with the same ``(name,
        run_key)`` exists, nothing is inserted and ``created`` is False, also
        when two processes submit at the same moment.
        """

    @abc.abstractmethod
    def get_job(self, job_id: int) -> JobRecord:
        """The job, or :class:`NotFound`."""

    @abc.abstractmethod
    def find_job(self, name: str, run_key: str | None = None) -> JobRecord | None:
        """The job with this name and run key; without a run key, the newest one."""

    @abc.abstractmethod
    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Newest first, optionally filtered by state."""

    @abc.abstractmethod
    def job_inputs(self, job_id: int) -> list[InputFile]:
        """The input fingerprints recorded at submit."""

    @abc.abstractmethod
    def job_progress(self, job_id: int) -> JobProgress:
        """Chunk counts per state and row totals (one or two indexed queries)."""

    @abc.abstractmethod
    def set_job_state(
        self,
        job_id: int,
        target: JobState,
        *,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> JobRecord:
        """Move a job to ``target`` if the transition table allows it from its
        current state; else raise :class:`IllegalTransition` and change nothing.
        Sets ``started_at`` on entering running and ``finished_at`` on a terminal
        state."""

    @abc.abstractmethod
    def cancel_job(self, job_id: int) -> bool:
        """Cancel a pending or running job and all its unfinished chunks.

        Idempotent: returns False (and changes nothing) when the job is already
        in a terminal state. Running chunks become cancelled too; a late commit
        of theirs is then rejected by the state check.
        """

    # -- chunks -----------------------------------------------------------------

    @abc.abstractmethod
    def add_chunks(self, job_id: int, chunks: Sequence[ChunkDescriptor]) -> int:
        """Add chunks to an existing job (later phases, new files). Returns count."""

    @abc.abstractmethod
    def start_phase(
        self, job_id: int, phase: int, chunks: Sequence[ChunkDescriptor], label: str
    ) -> bool:
        """Append phase ``phase``'s chunks with one ``phase_started`` event, in
        one transaction, unless chunks of that phase (or a later one) exist:
        a second planner of the same phase (another coordinator, a resume
        after a crash) changes nothing. Returns whether this call added them."""

    @abc.abstractmethod
    def phase_progress(self, job_id: int) -> list[dict[str, int]]:
        """Per phase of the job, in order: ``phase``, ``chunks``, ``done``,
        ``running``, and the committed ``rows_in``/``rows_out``/``rows_rejected``."""

    @abc.abstractmethod
    def carried_state(self, job_id: int, phase: int, seq: int) -> Any:
        """The ``state`` a serial phase's chunk ``seq`` starts from: the one
        committed with the phase's chunk just before it (None for the first)."""

    @abc.abstractmethod
    def list_chunks(
        self,
        job_id: int,
        states: Sequence[ChunkState] | None = None,
        limit: int | None = None,
    ) -> list[ChunkRecord]:
        """Chunks of a job in ``seq`` order, optionally filtered by state."""

    @abc.abstractmethod
    def lease_chunks(
        self,
        owner: str,
        job_ids: Sequence[int],
        limit: int,
        lease_seconds: float,
        serial: Sequence[tuple[int, int]] = (),
    ) -> list[Lease]:
        """Lease up to ``limit`` pending chunks of the given jobs whose backoff has
        passed: highest job priority first, then oldest job, then ``seq``. Each
        leased chunk becomes running with a new fencing token, an ``attempts``
        row and a ``chunk_leased`` event. Safe against concurrent callers
        (``FOR UPDATE SKIP LOCKED`` / ``BEGIN IMMEDIATE``). ``serial`` names
        (job id, phase) pairs whose chunks run one at a time in seq order: a
        chunk of such a phase is leased only when every smaller seq of its
        phase has succeeded (a sequential strategy)."""

    @abc.abstractmethod
    def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend every running lease of ``owner`` to now + ``lease_seconds``
        (database clock). Returns how many were renewed."""

    @abc.abstractmethod
    def complete_chunks(self, owner: str, outcomes: Sequence[ChunkOutcome]) -> list[bool]:
        """Record many attempt outcomes in one transaction.

        Each is accepted only if the chunk is still running under that
        ``fencing_token``; the returned list says which were. Accepted outcomes
        update the chunk, its attempt row, and write one event each.
        """

    @abc.abstractmethod
    def release_leases(self, owner: str, reason: str) -> int:
        """Return every running chunk of ``owner`` to pending without spending an
        attempt (graceful stop). Returns how many were released."""

    @abc.abstractmethod
    def reap_expired(self, limit: int = 1000) -> int:
        """Return running chunks whose lease expired (database clock) to pending,
        as an infrastructure failure. Never touches a chunk that committed."""

    @abc.abstractmethod
    def requeue_chunks(self, job_id: int, states: Sequence[ChunkState]) -> int:
        """Resume: chunks of the job in ``states`` go back to pending with their
        attempt counters reset. Succeeded chunks are never touched."""

    @abc.abstractmethod
    def save_checkpoint(self, chunk_id: int, fencing_token: int, state: Any) -> bool:
        """Store a processor checkpoint (JSON) if the token is still current."""

    # -- events -----------------------------------------------------------------

    @abc.abstractmethod
    def record_event(
        self,
        kind: str,
        *,
        job_id: int | None = None,
        chunk_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event in its own transaction."""

    @abc.abstractmethod
    def list_events(self, job_id: int, limit: int | None = None) -> list[EventRecord]:
        """Events of a job, oldest first."""

    # -- queues -------------------------------------------------------------------

    @abc.abstractmethod
    def list_queues(self) -> list[QueueInfo]:
        """Every queue that has jobs or a row, by name."""

    @abc.abstractmethod
    def set_queue_paused(self, name: str, paused: bool) -> bool:
        """Pause a queue (none of its chunks is leased; running ones finish) or
        resume it. False when it was so already; else one ``queue_paused`` /
        ``queue_resumed`` event in the same transaction."""

    def pause_queue(self, name: str) -> bool:
        return self.set_queue_paused(name, True)

    def resume_queue(self, name: str) -> bool:
        return self.set_queue_paused(name, False)

    @abc.abstractmethod
    def set_queue_limit(self, name: str, limit: int | None) -> bool:
        """At most ``limit`` (>= 1) running chunks of the queue's jobs across
        all coordinators; None removes the limit. Chunks running above a
        lowered limit finish. False when unchanged; else one ``queue_limit``
        event in the same transaction."""

    @abc.abstractmethod
    def queue_stats(self, name: str, since: float) -> QueueStats:
        """The queue's figures over the last ``since`` (> 0) seconds; see
        :class:`QueueStats`. A queue nobody knows gives zeros."""

    # -- hosts (SSH executor) ---------------------------------------------------

    @abc.abstractmethod
    def add_host(self, host: HostSpec, *, replace: bool = False) -> bool:
        """Register ``host``; returns True when it was new. An existing host of
        that name is updated when ``replace`` (state and statistics kept), else
        left alone (False). Writes a ``host_added``/``host_updated`` event."""

    @abc.abstractmethod
    def remove_host(self, name: str) -> bool:
        """Forget a host; False when there was none of that name."""

    @abc.abstractmethod
    def get_host(self, name: str) -> HostRecord:
        """The host, or :class:`NotFound`."""

    @abc.abstractmethod
    def list_hosts(self) -> list[HostRecord]:
        """Every registered host, by name."""

    @abc.abstractmethod
    def set_host_state(
        self,
        name: str,
        state: HostState,
        *,
        reason: str | None = None,
        automatic: bool = False,
    ) -> bool:
        """Move a host to ``state`` (one ``host_state`` event); False when it was
        there already, or when ``automatic`` and a user drained it (maintenance
        ends only by an explicit, non-automatic change). :class:`NotFound` for
        an unknown host."""

    @abc.abstractmethod
    def record_host_stats(
        self,
        name: str,
        *,
        cpu: float | None = None,
        mem: float | None = None,
        load: float | None = None,
        slots_in_use: int = 0,
        successes: int = 0,
        failures: int = 0,
    ) -> None:
        """A heartbeat: the host's last cpu/mem/load (fractions 0..1, None keeps
        the last), busy slots, and chunk successes/failures since the last one."""

    # -- fault tolerance: coordinator registry, recovery, dead letters ------------

    @abc.abstractmethod
    def coordinator_heartbeat(
        self, owner: str, leases: Sequence[tuple[int, int]], lease_seconds: float
    ) -> dict[int, int]:
        """One heartbeat of coordinator ``owner``, in one transaction: register it
        (host and pid of this store's actor) or refresh its registry row; extend
        to now + ``lease_seconds`` (database clock) only the leases given as
        ``(chunk_id, fencing_token)`` that it still holds; return every chunk it
        holds as ``{chunk_id: fencing_token}``. A lease the caller expected and
        does not get back was lost (reaped, cancelled); one it gets back and
        did not expect was leased in a transaction whose outcome it never
        learned."""

    @abc.abstractmethod
    def deregister_coordinator(self, owner: str) -> None:
        """Remove ``owner`` from the registry (it is exiting)."""

    @abc.abstractmethod
    def registered_coordinators(self) -> list[LeaseOwner]:
        """Every coordinator in the registry (``chunks`` 0), with its heartbeat age."""

    @abc.abstractmethod
    def link_coordinator_job(self, owner: str, job_id: int) -> None:
        """``owner`` runs ``job_id`` (before it opens the job; twice is once)."""

    @abc.abstractmethod
    def unlink_coordinator_job(self, owner: str, job_id: int) -> None:
        """``job_id`` is no longer ``owner``'s to run."""

    @abc.abstractmethod
    def job_coordinators(self, job_ids: Sequence[int]) -> dict[int, list[LeaseOwner]]:
        """The registered coordinators linked to each of ``job_ids`` (a job none
        runs is absent), with their heartbeat age."""

    @abc.abstractmethod
    def lease_owners(self) -> list[LeaseOwner]:
        """Every owner of running chunks, with its registry row if it has one."""

    @abc.abstractmethod
    def reclaim_owner(self, owner: str, reason: str) -> int:
        """``owner`` is proven gone: its running chunks go back to pending at once
        as an infrastructure loss (one ``chunk_reaped`` event each, with
        ``reason``) and its registry row is removed. Returns how many."""

    @abc.abstractmethod
    def dead_chunks(self, job_id: int | None = None, limit: int | None = None) -> list[ChunkRecord]:
        """The dead-letter queue: dead chunks of one job, or of every job."""

    @abc.abstractmethod
    def purge_dead(self, job_id: int) -> int:
        """Give up on a job's dead chunks: dead -> cancelled, one ``chunk_purged``
        event each. Returns how many."""

    @abc.abstractmethod
    def requeue_chunk_seqs(
        self, job_id: int, states: Sequence[ChunkState], seqs: Sequence[int]
    ) -> int:
        """:meth:`requeue_chunks` restricted to the chunks numbered ``seqs``."""

    @abc.abstractmethod
    def replan_job(
        self,
        job_id: int,
        spec: dict[str, Any],
        spec_hash: str,
        inputs: Sequence[InputFile],
        chunks: Sequence[ChunkDescriptor],
    ) -> int:
        """Replace a job's plan in one transaction: every chunk (succeeded ones
        too) and input fingerprint is dropped, the new ones inserted, the spec
        and its hash replaced; one ``job_replanned`` event. Refused
        (:class:`IllegalTransition`) when the job ended successfully or any of
        its chunks is running. Returns how many chunks were dropped."""

    # -- scheduling: dependencies, serve, priorities, settlement -------------------

    @abc.abstractmethod
    def upstream_jobs(self, job_id: int) -> list[tuple[int, str, JobState]]:
        """The jobs ``job_id`` depends on: ``(id, name, state)`` each."""

    @abc.abstractmethod
    def runnable_jobs(self, queues: Sequence[str] | None, limit: int = 1000) -> list[int]:
        """Active jobs of ``queues`` (None: all) whose upstream jobs all
        succeeded: highest priority first, then oldest."""

    @abc.abstractmethod
    def fail_blocked_jobs(self) -> list[int]:
        """Pending jobs with an upstream job that ended without success become
        ``upstream_failed`` (also further down the graph), one ``job_state``
        event each naming the upstream jobs. Returns their ids."""

    @abc.abstractmethod
    def claim_settlement(
        self, job_id: int, owner: str, seconds: float, take_from: str | None = None
    ) -> bool:
        """Whether ``owner`` may settle (publish, end) the running job now: one
        coordinator at a time; a claim lapses after ``seconds`` so a claimant
        that died is followed by another, or is taken over at once from
        ``take_from`` when the caller proved that claimant gone."""

    @abc.abstractmethod
    def settlement_holder(self, job_id: int) -> LeaseOwner | None:
        """Who holds the running job's settlement claim, with its registry row
        (``chunks`` is 0); None when nobody does."""

    @abc.abstractmethod
    def set_job_priority(self, job_id: int, priority: Priority) -> JobRecord:
        """Change a pending or running job's priority (``job_priority`` event);
        :class:`IllegalTransition` for a finished job."""

    @abc.abstractmethod
    def get_jobs(self, job_ids: Sequence[int]) -> list[JobRecord]:
        """The jobs that exist among ``job_ids``, by id."""

    def listen(self) -> JobListener | None:
        """A wake-up channel for submitted and changed jobs, or None when the
        backend has none (SQLite: dispatchers poll)."""
        return None

    # -- attempt logs (store/attempt_logs.py) ---------------------------------------

    @abc.abstractmethod
    def save_attempt_logs(self, logs: Sequence[AttemptLog]) -> None:
        """Keep these attempt logs (one per chunk and fencing token: a log
        saved twice is kept once), then drop all but the newest
        :data:`~orchestrator.store.attempt_logs.KEEP_PER_CHUNK` per chunk."""

    @abc.abstractmethod
    def attempt_logs(
        self,
        job_id: int,
        seq: int | None = None,
        attempt: int | None = None,
        after_id: int = 0,
        limit: int = READ_LIMIT,
    ) -> list[AttemptLog]:
        """A job's attempt logs, oldest first (only chunk ``seq`` / attempt
        ``attempt`` when given; only those with an id above ``after_id``)."""


class JobListener(Protocol):
    """Readable (``fileno``) when jobs were submitted or changed elsewhere."""

    def fileno(self) -> int: ...

    def drain(self) -> int:
        """Consume what arrived without blocking; how many notifications.
        Raises :class:`StoreUnavailable` when the channel broke."""

    def close(self) -> None: ...
