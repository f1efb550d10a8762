"""The core's Python API: everything the CLI does is a call of a function here.

Users can call these from their own code; nothing here prints. Functions take
an open :class:`~orchestrator.store.base.Store` so the caller owns its lifetime.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.dispatch.staging import is_nonempty_dir, output_dir
from orchestrator.errors import NotFound, OutputExists, SpecError, SpecIssue
from orchestrator.planning.plan import plan_job
from orchestrator.planning.schema import encode_schema
from orchestrator.spec.model import JobSpec, SpecFile
from orchestrator.states import ChunkState
from orchestrator.store.base import ChunkRecord, JobProgress, JobRecord, NewJob, Store


@dataclass(frozen=True)
class SubmitResult:
    job_id: int
    name: str
    run_key: str
    created: bool  # False: a job with this (name, run_key) existed and was reused
    chunks: int
    inputs: int


@dataclass(frozen=True)
class JobStatus:
    """What ``jobctl status`` shows: the job, its counts, and what went wrong."""

    job: JobRecord
    progress: JobProgress
    problems: list[ChunkRecord] = field(default_factory=list)


def new_run_key() -> str:
    """A unique run key for a manual submit (cron runs derive theirs from the fire time)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"manual-{stamp}-{secrets.token_hex(3)}"


def select_jobs(spec_file: SpecFile, names: Sequence[str] | None) -> list[JobSpec]:
    """The jobs of a spec file the user asked for (all when ``names`` is empty)."""
    if not names:
        return list(spec_file.jobs)
    known = {job.name for job in spec_file.jobs}
    missing = [name for name in names if name not in known]
    if missing:
        raise SpecError(
            [
                SpecIssue(spec_file.path, None, None, "jobs", f"no job named {name!r} in the file")
                for name in missing
            ]
        )
    return [job for job in spec_file.jobs if job.name in names]


def check_output_free(job: JobSpec) -> None:
    """``mode: error_if_exists`` refuses a non-empty output before any chunk runs."""
    if job.output is None or job.output.mode != "error_if_exists":
        return
    out = output_dir(job.output.path)
    if is_nonempty_dir(out):
        raise OutputExists(
            f"job {job.name!r}: output {out} exists and is not empty "
            "(output.mode is error_if_exists; use mode: overwrite or remove it)"
        )


def submit_job(
    store: Store, job: JobSpec, run_key: str | None = None, source_file: str | None = None
) -> SubmitResult:
    """Plan one job and insert it with all its chunks in one transaction.

    With an existing ``(name, run_key)`` nothing is planned or inserted: the
    existing job is returned (``created`` False), which makes cron re-fires and
    retried submits idempotent.
    """
    key = run_key or new_run_key()
    existing = store.find_job(job.name, key)
    if existing is not None:
        return SubmitResult(existing.id, job.name, key, False, 0, 0)
    check_output_free(job)
    plan = plan_job(job)
    stored_spec = job.to_dict()
    if plan.csv_schema is not None:
        # planned facts travel with the job (not part of the spec hash)
        stored_spec["planned"] = {"csv_schema": encode_schema(plan.csv_schema)}
    new = NewJob(
        name=job.name,
        run_key=key,
        spec=stored_spec,
        spec_hash=job.spec_hash(),
        priority=job.priority,
        queue=job.queue,
        output_path=job.output.path if job.output else None,
        source_file=source_file,
    )
    job_id, created = store.submit_job(new, plan.inputs, plan.chunks)
    return SubmitResult(job_id, job.name, key, created, len(plan.chunks), len(plan.inputs))


def submit_spec(
    store: Store,
    spec_file: SpecFile,
    names: Sequence[str] | None = None,
    run_key: str | None = None,
) -> list[SubmitResult]:
    """Submit the selected jobs of a spec file, all under one run key."""
    key = run_key or new_run_key()
    source = str(Path(spec_file.path).resolve())
    return [submit_job(store, job, key, source) for job in select_jobs(spec_file, names)]


def resolve_job(store: Store, ref: str | int) -> JobRecord:
    """A job by id, or by name (its newest run)."""
    text = str(ref)
    if text.isdigit():
        return store.get_job(int(text))
    record = store.find_job(text)
    if record is None:
        raise NotFound(f"no job with id or name {text!r}")
    return record


def job_status(store: Store, job: JobRecord, problem_limit: int = 50) -> JobStatus:
    """Progress plus the chunks that failed (dead) or carry an error."""
    progress = store.job_progress(job.id)
    problems: list[ChunkRecord] = []
    if progress.chunks.get(ChunkState.DEAD, 0):
        problems = store.list_chunks(job.id, [ChunkState.DEAD], limit=problem_limit)
    return JobStatus(job=job, progress=progress, problems=problems)
