"""Reading and changing jobs: find one, its status, its events, the dead-letter
queue, cancel, priority, rollback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orchestrator.api.liveness import INTERRUPTED, resume_command, shown_states
from orchestrator.api.logs import first_failure
from orchestrator.errors import NotFound
from orchestrator.states import ChunkState, JobState, Priority
from orchestrator.store.attempt_logs import AttemptLog
from orchestrator.store.base import ChunkRecord, EventRecord, JobProgress, JobRecord, Store

if TYPE_CHECKING:
    from orchestrator.dispatch.rollback import RollbackResult

#: how many recent jobs a run key is looked for in (a job is named by id or
#: name first; a run key names the jobs of one submit)
RUN_KEY_SCAN = 1000


@dataclass(frozen=True)
class JobStatus:
    """What ``jobctl status`` shows: the job, its counts, and what went wrong."""

    job: JobRecord
    progress: JobProgress
    problems: list[ChunkRecord] = field(default_factory=list)
    #: attempts beyond the first (see :func:`retries_of`)
    retries: int = 0
    #: seconds from the job's start to its end or now (None: not started)
    elapsed: float | None = None
    #: the failed attempt that made the first dead chunk dead, when it left a log
    first_error: AttemptLog | None = None
    #: a ``type: validate`` job's per-rule counts (processors/validate_report.py)
    validation: dict[str, Any] | None = None
    #: an identity_match job's published figures (pairs, edges, clusters, sizes)
    identity: dict[str, Any] | None = None
    #: a job of several phases: per phase planned so far, its label, chunks and rows
    phases: list[dict[str, Any]] = field(default_factory=list)
    #: the state shown: the stored one, or ``interrupted`` (``liveness.py``)
    shown_state: str = ""
    #: how to go on with an interrupted job
    resume_command: str | None = None

    @property
    def current_phase(self) -> dict[str, Any] | None:
        """The phase that runs now (or ran last): the highest one planned."""
        return self.phases[-1] if self.phases else None

    @property
    def rows_per_second(self) -> float | None:
        return rows_per_second(self.progress.rows_in, self.elapsed)


def resolve_job(store: Store, ref: str | int) -> JobRecord:
    """A job by id, by name (its newest run), or by run key (when one job has it)."""
    text = str(ref)
    if text.isdigit():
        return store.get_job(int(text))
    record = store.find_job(text)
    if record is not None:
        return record
    keyed = [job for job in store.list_jobs(limit=RUN_KEY_SCAN) if job.run_key == text]
    if len(keyed) == 1:
        return keyed[0]
    if keyed:
        named = ", ".join(f"{job.id} ({job.name})" for job in keyed)
        raise NotFound(f"run key {text!r} names several jobs: {named}; give a job id")
    raise NotFound(f"no job with id, name or run key {text!r}")


def get_job(store: Store, job_id: int) -> JobRecord:
    """The job as the store has it now."""
    return store.get_job(job_id)


def list_jobs(
    store: Store, states: Sequence[JobState] | None = None, limit: int = 100
) -> list[JobRecord]:
    """Jobs, newest first (only those in ``states`` when given)."""
    return store.list_jobs(states or None, limit=limit)


def cancel_job(store: Store, job: JobRecord) -> tuple[bool, JobRecord]:
    """Cancel ``job`` (idempotent): whether it changed, and the job as it is now."""
    changed = store.cancel_job(job.id)
    return changed, store.get_job(job.id)


def set_priority(store: Store, job: JobRecord, priority: Priority) -> JobRecord:
    """Change a queued or running job's priority; dispatchers apply it within a second."""
    return store.set_job_priority(job.id, priority)


@dataclass(frozen=True)
class JobEvent:
    """An audit event with the job's own number of its chunk (the number ``dlq
    --chunk`` takes and part files carry), not the store's global chunk id."""

    event: EventRecord
    chunk_seq: int | None


def job_events(store: Store, job: JobRecord, limit: int | None = None) -> list[JobEvent]:
    """The audit log of ``job``, oldest first."""
    rows = store.list_events(job.id, limit=limit)
    seqs: dict[int, int] = {}
    if any(row.chunk_id is not None for row in rows):
        seqs = {chunk.id: chunk.seq for chunk in store.list_chunks(job.id)}
    return [JobEvent(row, None if row.chunk_id is None else seqs.get(row.chunk_id)) for row in rows]


def job_status(store: Store, job: JobRecord, problem_limit: int = 1000) -> JobStatus:
    """Progress plus the chunks that failed (dead) or carry an error."""
    progress = store.job_progress(job.id)
    shown = shown_states(store, [job])[job.id]
    problems: list[ChunkRecord] = []
    dead = progress.chunks.get(ChunkState.DEAD, 0)
    first_error = None
    if dead:
        problems = store.list_chunks(job.id, [ChunkState.DEAD], limit=problem_limit)
        first_error = first_failure(store, job, min(chunk.seq for chunk in problems))
    return JobStatus(
        job=job,
        progress=progress,
        problems=problems,
        retries=retries_of(progress),
        elapsed=job_elapsed(job),
        first_error=first_error,
        validation=_validation(store, job),
        identity=_identity(job),
        phases=job_phases(store, job),
        shown_state=shown,
        resume_command=resume_command(job) if shown == INTERRUPTED else None,
    )


def job_phases(store: Store, job: JobRecord) -> list[dict[str, Any]]:
    """Per phase of a job of several phases: ``label`` ("phase 2/2 reduce",
    stored at submit), chunks done/total, committed rows; [] for one phase."""
    if (job.spec or {}).get("strategy", "parallel_chunks") == "parallel_chunks":
        return []
    labels = list(((job.spec or {}).get("planned") or {}).get("phase_labels") or ())
    phases: list[dict[str, Any]] = []
    for row in store.phase_progress(job.id):
        index = row["phase"]
        label = labels[index] if index < len(labels) else f"phase {index + 1}"
        phases.append({**row, "label": label})
    return phases


def _identity(job: JobRecord) -> dict[str, Any] | None:
    """The figures of a published identity_match job (``_SUCCESS``)."""
    if (job.spec or {}).get("type") != "identity_match" or job.state != JobState.SUCCEEDED:
        return None
    from orchestrator.processors.identity.report import published_summary

    return published_summary(job.output_path, job.id)


def _validation(store: Store, job: JobRecord) -> dict[str, Any] | None:
    """Published counts from ``_SUCCESS``, else the committed chunks' so far."""
    if (job.spec or {}).get("type") != "validate":
        return None
    from orchestrator.processors import validate_report

    published = validate_report.published_validation(job.output_path, job.id)
    if published is not None:
        return published
    chunks = store.list_chunks(job.id, [ChunkState.SUCCEEDED])
    parts = [(c.phase, c.part_file) for c in chunks]
    params = (job.spec or {}).get("params") or {}
    return validate_report.validation_summary(params, parts, partial=True)


def retries_of(progress: JobProgress) -> int:
    """Attempts beyond the first, over all chunks.

    The store counts every attempt a chunk spent (failed or lost); a dead
    chunk's last spent attempt ended it instead of leading to a retry, so one
    per dead chunk is not a retry (``max_attempts: 1`` retries nothing).
    """
    return max(progress.retries - progress.chunks.get(ChunkState.DEAD, 0), 0)


def job_elapsed(job: JobRecord, now: datetime | None = None) -> float | None:
    """Seconds the job has run: from its start to its end (or to now while it
    runs); None before it started."""
    if job.started_at is None:
        return None
    end = job.finished_at or now or datetime.now(UTC)
    return max((end - job.started_at).total_seconds(), 0.0)


def rows_per_second(rows: int, elapsed: float | None) -> float | None:
    """The job's own rate: the rows it read over the time it ran."""
    if not elapsed or elapsed <= 0:
        return None
    return rows / elapsed


@dataclass(frozen=True)
class DeadChunk:
    job: JobRecord
    chunk: ChunkRecord


def dlq_list(
    store: Store, job: JobRecord | None = None, limit: int | None = None
) -> list[DeadChunk]:
    """Dead chunks (of one job, or of all), with their job."""
    jobs: dict[int, JobRecord] = {} if job is None else {job.id: job}
    found = []
    for chunk in store.dead_chunks(None if job is None else job.id, limit):
        if chunk.job_id not in jobs:
            jobs[chunk.job_id] = store.get_job(chunk.job_id)
        found.append(DeadChunk(jobs[chunk.job_id], chunk))
    return found


def dlq_retry(store: Store, job: JobRecord, seqs: Sequence[int] | None = None) -> int:
    """Put a job's dead chunks (all, or those numbered ``seqs``) back in the queue
    with fresh attempts; a failed job becomes running again, for ``resume`` (or
    the coordinator already running it) to pick them up."""
    if seqs:
        count = store.requeue_chunk_seqs(job.id, [ChunkState.DEAD], seqs)
    else:
        count = store.requeue_chunks(job.id, [ChunkState.DEAD])
    if count and job.state == JobState.FAILED:
        detail = {"reason": "dlq retry", "chunks": count}
        store.set_job_state(job.id, JobState.RUNNING, detail=detail)
    return count


def dlq_purge(store: Store, job: JobRecord) -> int:
    """Give up on a job's dead chunks (dead -> cancelled, in the events); the job
    cannot succeed any more and ends failed."""
    return store.purge_dead(job.id)


#: what ``dlq purge`` tells the user: the job is over for good
PURGED_HINT = (
    "it can never publish now (purged chunks are never run again, also not by "
    "resume): run the spec again with a new run key to redo the job, and "
    "`jobctl gc` removes this one's staging"
)


def gc_staging(store: Store, dry_run: bool = False) -> list[Any]:
    """``jobctl gc``: remove the staging of failed and cancelled jobs
    (``dispatch/cleanup.py``); the list of what was (or would be) removed."""
    from orchestrator.dispatch.cleanup import collect_staging

    return list(collect_staging(store, dry_run=dry_run))


def rollback(store: Store, job: JobRecord) -> RollbackResult:
    """Remove the output ``job`` published and mark it rolled back (refused while
    it is pending or running)."""
    from orchestrator.dispatch.rollback import rollback_job

    return rollback_job(store, job.id)
