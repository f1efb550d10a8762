"""How a job enters a run and how it leaves it, as the store records it.

A run opens each of its jobs (resuming it when asked) and, whenever a job has
nothing left pending or running, settles it: publish and succeed, or fail
naming what is missing. Both are idempotent, so a coordinator that dies half
way is followed by one that does the same again.
"""

from __future__ import annotations

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.cleanup import refuse_resume_without_staging
from orchestrator.dispatch.finalize import publish
from orchestrator.dispatch.phases import advance, current_phase
from orchestrator.errors import IllegalTransition, JobctlError, StoreUnavailable
from orchestrator.processors.loader import check_processor
from orchestrator.states import JOB_TERMINAL, ChunkState, JobState
from orchestrator.store.base import JobRecord, Store


def resume_job(store: Store, record: JobRecord) -> JobRecord:
    """Give every chunk that did not succeed a fresh start (dead ones too);
    chunks purged from the dead-letter queue stay cancelled unless the whole
    job was cancelled. A failed or cancelled job runs again."""
    refuse_resume_without_staging(store, record)
    if record.state != JobState.SUCCEEDED:
        store.record_event("job_resumed", job_id=record.id, detail={"from": record.state.value})
    again = [ChunkState.DEAD, ChunkState.FAILED]
    if record.state == JobState.CANCELLED:
        again.append(ChunkState.CANCELLED)
    if record.state in (JobState.RUNNING, JobState.FAILED, JobState.CANCELLED):
        store.requeue_chunks(record.id, again)
    if record.state in (JobState.FAILED, JobState.CANCELLED):
        return store.set_job_state(record.id, JobState.RUNNING, detail={"reason": "resume"})
    return record


def _start_running(store: Store, job_id: int) -> JobRecord:
    """A pending job set running, or as another coordinator left it: two
    invocations of one scheduled run (one run key) open the same job at once,
    and the second one's pending -> running finds it running already."""
    try:
        return store.set_job_state(job_id, JobState.RUNNING)
    except IllegalTransition:
        record = store.get_job(job_id)
        if record.state == JobState.RUNNING or record.state in JOB_TERMINAL:
            return record
        raise


def open_job(store: Store, job_id: int, resume: bool) -> ActiveJob | JobState:
    """The job ready to dispatch (running), or the final state it already has
    (or gets at once, when its processor cannot even be loaded)."""
    record = store.get_job(job_id)
    if resume:
        record = resume_job(store, record)
    if record.state in JOB_TERMINAL:
        return record.state
    job = ActiveJob.create(record)
    try:
        for payload in _phase_payloads(job):
            check_processor(payload)
    except JobctlError as exc:
        if record.state == JobState.PENDING:
            record = _start_running(store, job_id)
            if record.state in JOB_TERMINAL:
                return record.state
        store.set_job_state(job_id, JobState.FAILED, error=str(exc))
        return JobState.FAILED
    if record.state == JobState.PENDING:
        job.record = _start_running(store, job_id)
        if job.record.state in JOB_TERMINAL:  # cancelled meanwhile
            return job.record.state
    job.load_progress(store.job_progress(job_id))
    if job.spec.strategy != "parallel_chunks":
        chunks = store.list_chunks(job_id)
        job.phase = current_phase(chunks)
        job.phase_first = sum(1 for c in chunks if c.phase < job.phase)
    if job.staging is not None:
        job.staging.mkdir(parents=True, exist_ok=True)
    return job


def settle_job(store: Store, job: ActiveJob) -> JobState | None:
    """End a job none of whose chunks is pending or running: publish it and
    succeed, or fail it (dead or purged chunks, a publish error). None while
    it is not finished. Raises StoreUnavailable half-way harmlessly."""
    progress = store.job_progress(job.record.id)
    counts = progress.chunks
    if counts.get(ChunkState.PENDING, 0) or counts.get(ChunkState.RUNNING, 0):
        return None
    job.load_progress(progress)
    dead = counts.get(ChunkState.DEAD, 0)
    cancelled = counts.get(ChunkState.CANCELLED, 0)
    if cancelled and store.get_job(job.record.id).state == JobState.CANCELLED:
        return JobState.CANCELLED
    if dead or cancelled:
        reasons = [f"{dead} chunk(s) dead after retries"] if dead else []
        reasons += [f"{cancelled} chunk(s) purged"] if cancelled else []
        return _end(store, job, JobState.FAILED, "; ".join(reasons))
    try:
        if advance(store, job):
            return None  # the next phase's chunks are pending now
    except StoreUnavailable:
        raise
    except JobctlError as exc:
        return _end(store, job, JobState.FAILED, f"planning phase {job.phase + 2}: {exc}")
    try:
        publish(store, job.record.id)
    except StoreUnavailable:
        raise
    except (OSError, JobctlError) as exc:
        return _end(store, job, JobState.FAILED, f"publish: {exc}")
    return _end(store, job, JobState.SUCCEEDED, None)


def _phase_payloads(job: ActiveJob) -> list[dict[str, object]]:
    """The worker payload of every phase known in advance (a custom planner's
    later phases run the job's own processor)."""
    payloads = [job.payload]
    index = 1
    while index < 20 and job.spec.strategy != "parallel_chunks":
        if job.phase_spec(index) is None:
            break
        payloads.append(job.payload_for(index))
        index += 1
    return payloads


def _end(store: Store, job: ActiveJob, state: JobState, error: str | None) -> JobState:
    try:
        store.set_job_state(job.record.id, state, error=error)
    except IllegalTransition:  # it ended meanwhile (or our last, unanswered try did it)
        return store.get_job(job.record.id).state
    return state
