"""The core's Python API: everything the CLI does is a call of a function here.

Users can call these from their own code; nothing here prints. Functions take
an open :class:`~orchestrator.store.base.Store` so the caller owns its lifetime.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import (
    NotFound,
    OutputExists,
    PlanningError,
    ResumeRefused,
    SpecError,
    SpecIssue,
)
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.planning.stored import is_deferred
from orchestrator.states import ChunkState, JobState
from orchestrator.store.base import ChunkRecord, JobProgress, JobRecord, NewJob, Store

# Planning imports pyarrow, and the spec model and the dispatcher's modules take
# time to import as well: the functions that plan, read a spec or touch output
# import them, so read-only commands (`status`, `list`, `events`) start fast.
if TYPE_CHECKING:
    from orchestrator.dispatch.rollback import RollbackResult
    from orchestrator.spec.model import JobSpec, SpecFile


@dataclass(frozen=True)
class SubmitResult:
    job_id: int
    name: str
    run_key: str
    created: bool  # False: a job with this (name, run_key) existed and was reused
    chunks: int
    inputs: int
    #: a cron fire not submitted, and the policy why (``forbid``); job_id is
    #: then the previous run that goes on
    skipped: str | None = None


@dataclass(frozen=True)
class JobStatus:
    """What ``jobctl status`` shows: the job, its counts, and what went wrong."""

    job: JobRecord
    progress: JobProgress
    problems: list[ChunkRecord] = field(default_factory=list)


def new_run_key() -> str:
    """A unique run key for a manual submit (cron runs derive theirs from the fire time)."""
    import secrets  # imports hashlib and hmac, which read-only commands never need

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


def check_spec(spec_file: SpecFile, names: Sequence[str] | None = None) -> None:
    """What ``validate`` checks beyond the file itself, and ``submit`` before it
    stores anything: each selected job's processor imports and its output can be
    written (:mod:`orchestrator.preflight`). Raises :class:`SpecError`."""
    from orchestrator.preflight import check_jobs

    check_jobs(spec_file, select_jobs(spec_file, names))


def check_output_free(job: JobSpec) -> None:
    """``mode: error_if_exists`` refuses a non-empty output before any chunk runs."""
    from orchestrator.dispatch.staging import is_nonempty_dir, output_dir

    if job.output is None or job.output.mode != "error_if_exists":
        return
    out = output_dir(job.output.path)
    if is_nonempty_dir(out):
        raise OutputExists(
            f"job {job.name!r}: output {out} exists and is not empty "
            "(output.mode is error_if_exists; use mode: overwrite or remove it)"
        )


def submit_job(
    store: Store,
    job: JobSpec,
    run_key: str | None = None,
    source_file: str | None = None,
    upstream_ids: Sequence[int] = (),
) -> SubmitResult:
    """Plan one job and insert it with all its chunks in one transaction.

    With an existing ``(name, run_key)`` nothing is planned or inserted: the
    existing job is returned (``created`` False), which makes cron re-fires and
    retried submits idempotent. A job with upstream jobs (``depends_on``) is
    inserted unplanned and planned when it starts: its input is usually what
    an upstream job writes.
    """
    key = run_key or new_run_key()
    existing = store.find_job(job.name, key)
    if existing is not None:
        return SubmitResult(existing.id, job.name, key, False, 0, 0)
    check_output_free(job)
    from orchestrator.planning.stored import deferred_spec, stored_spec

    spec = deferred_spec(job)
    inputs: Sequence[InputFile] = ()
    chunks: Sequence[ChunkDescriptor] = ()
    if not upstream_ids:
        from orchestrator.planning.plan import plan_job

        plan = plan_job(job)
        spec, inputs, chunks = stored_spec(job, plan), plan.inputs, plan.chunks
    new = NewJob(
        name=job.name,
        run_key=key,
        spec=spec,
        spec_hash=job.spec_hash(),
        priority=job.priority,
        queue=job.queue,
        output_path=job.output.path if job.output else None,
        source_file=source_file,
        upstream_ids=tuple(upstream_ids),
    )
    job_id, created = store.submit_job(new, inputs, chunks)
    return SubmitResult(job_id, job.name, key, created, len(chunks), len(inputs))


def in_dependency_order(jobs: Sequence[JobSpec]) -> list[JobSpec]:
    """Upstream jobs before the jobs that depend on them (file order otherwise);
    the loader has already refused cycles."""
    by_name = {job.name: job for job in jobs}
    ordered: list[JobSpec] = []
    placed: set[str] = set()

    def place(job: JobSpec) -> None:
        if job.name in placed:
            return
        placed.add(job.name)
        for name in job.depends_on:
            if name in by_name:
                place(by_name[name])
        ordered.append(job)

    for job in jobs:
        place(job)
    return ordered


def _upstream_ids(
    store: Store, spec_file: SpecFile, job: JobSpec, submitted: dict[str, int]
) -> list[int]:
    """The ids of a job's upstream jobs: submitted in the same call, else the
    newest run of that name in the store."""
    ids = []
    for name in job.depends_on:
        if name in submitted:
            ids.append(submitted[name])
            continue
        newest = store.find_job(name)
        if newest is None:
            raise SpecError(
                [
                    SpecIssue(
                        spec_file.path,
                        job.source.line,
                        None,
                        f"{job.name}.depends_on",
                        f"upstream job {name!r} was not selected and has never been "
                        f"submitted (add --job {name})",
                    )
                ]
            )
        ids.append(newest.id)
    return ids


def submit_spec(
    store: Store,
    spec_file: SpecFile,
    names: Sequence[str] | None = None,
    run_key: str | None = None,
) -> list[SubmitResult]:
    """Submit the selected jobs of a spec file, all under one run key, upstream
    jobs first."""
    key = run_key or new_run_key()
    source = str(Path(spec_file.path).resolve())
    results: list[SubmitResult] = []
    submitted: dict[str, int] = {}
    check_spec(spec_file, names)
    for job in in_dependency_order(select_jobs(spec_file, names)):
        upstream = _upstream_ids(store, spec_file, job, submitted)
        result = submit_job(store, job, key, source, upstream)
        submitted[job.name] = result.job_id
        results.append(result)
    return results


def submit_scheduled(
    store: Store,
    spec_file: SpecFile,
    names: Sequence[str] | None = None,
    run_key: str | None = None,
    on_overlap: Callable[[str], None] | None = None,
) -> list[SubmitResult]:
    """Submit the selected jobs as a cron run: each under the run key of its
    schedule's last fire time, so a second invocation for the same fire
    attaches to the first job instead of duplicating it. A previous run still
    going is handled by the job's ``concurrency`` policy
    (``scheduling/overlap.py``); a skipped job comes back with ``skipped`` set
    and is not submitted. ``on_overlap`` hears one line per decision."""
    from orchestrator.scheduling.cron import last_fire, run_key_for

    if run_key is not None:
        raise SpecError(
            [
                SpecIssue(
                    spec_file.path, None, None, "", "--scheduled and --run-key exclude each other"
                )
            ]
        )
    jobs = select_jobs(spec_file, names)
    unscheduled = [job for job in jobs if not job.schedule]
    if unscheduled:
        raise SpecError(
            [
                SpecIssue(
                    spec_file.path,
                    job.source.line,
                    None,
                    f"{job.name}.schedule",
                    "--scheduled needs a schedule: on the job",
                )
                for job in unscheduled
            ]
        )
    check_spec(spec_file, names)
    say = on_overlap or (lambda line: None)
    source = str(Path(spec_file.path).resolve())
    results = []
    submitted: dict[str, int] = {}
    for job in in_dependency_order(jobs):
        assert job.schedule is not None
        key = run_key_for(last_fire(job.schedule))
        if store.find_job(job.name, key) is None:
            skipped = _apply_overlap_policy(store, job, key, say)
            if skipped is not None:
                results.append(skipped)
                continue
        upstream = _upstream_ids(store, spec_file, job, submitted)
        result = submit_job(store, job, key, source, upstream)
        submitted[job.name] = result.job_id
        results.append(result)
    return results


def _apply_overlap_policy(
    store: Store, job: JobSpec, key: str, say: Callable[[str], None]
) -> SubmitResult | None:
    """Act on previous runs still going; a result when this fire is skipped."""
    from orchestrator.scheduling.overlap import previous_runs, wait_until_ended

    overlap = previous_runs(store, job.name, key)
    for old in overlap.abandoned:
        say(
            f"job {job.name}: previous run {old.id} (run key {old.run_key}) is {old.state} "
            f"with nothing running; it does not block this run (resume it: jobctl resume {old.id})"
        )
    if not overlap.going or job.concurrency == "allow":
        return None
    ids = ", ".join(str(old.id) for old in overlap.going)
    if job.concurrency == "forbid":
        say(f"job {job.name}: skipped (concurrency: forbid): previous run {ids} is still going")
        first = overlap.going[0]
        return SubmitResult(first.id, job.name, key, False, 0, 0, skipped="forbid")
    if job.concurrency == "replace":
        for old in overlap.going:
            store.cancel_job(old.id)
        say(f"job {job.name}: cancelled previous run {ids} (concurrency: replace)")
        return None
    say(f"job {job.name}: waiting for previous run {ids} to end (concurrency: queue)")
    wait_until_ended(store, job.name, key)
    return None


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


# -- resume ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumeCheck:
    """What resuming a job found: what changed since it was planned, and
    whether it was planned again (``--replan``)."""

    job_id: int
    changes: list[str] = field(default_factory=list)
    replanned: bool = False
    chunks_dropped: int = 0


def input_changes(store: Store, record: JobRecord) -> list[str]:
    """Why the job's inputs no longer match its plan, one line per file: changed
    or missing since planning, or newly named by ``input.path``."""
    from orchestrator.planning.discover import discover_inputs
    from orchestrator.planning.plan import refingerprint
    from orchestrator.spec.model import JobSpec

    old = store.job_inputs(record.id)
    lines = [
        f"input {path} changed since the job was planned (size, modification time or content)"
        for path in refingerprint(old)
    ]
    spec = JobSpec.from_dict(record.spec)
    if spec.input.sequence is None and spec.input.path:
        try:
            now = [path for path, _fmt in discover_inputs(spec.input)]
        except PlanningError:
            now = []  # nothing matches any more: each file is reported above
        known = {item.path for item in old}
        lines += [
            f"input {path} appeared since the job was planned" for path in now if path not in known
        ]
    return lines


def prepare_resume(
    store: Store, record: JobRecord, spec: JobSpec | None = None, replan: bool = False
) -> ResumeCheck:
    """Check that ``record`` can be resumed as planned; with ``replan``, plan it
    again instead of refusing.

    ``spec``: the spec the user runs now (``run FILE --run-key K``); None for
    ``resume JOB``. A changed input file or spec raises :class:`ResumeRefused`
    naming the file, since chunk ranges are only valid against the files they
    were cut from. ``replan`` replaces the job's whole plan: every chunk,
    succeeded ones too, runs again (nothing is published before a job
    succeeds, so nothing published is lost); it is refused while another
    coordinator runs the job. Jobs that ended successfully are left alone.
    """
    if record.state not in (
        JobState.PENDING,
        JobState.RUNNING,
        JobState.FAILED,
        JobState.CANCELLED,
    ):
        return ResumeCheck(record.id)
    if is_deferred(record.spec):
        return ResumeCheck(record.id)  # not planned yet: it is planned when it starts
    changes = []
    if spec is not None and spec.spec_hash() != record.spec_hash:
        where = record.source_file or "the spec file"
        changes.append(
            f"the spec of job {record.name!r} in {where} changed since run key "
            f"{record.run_key!r} was submitted (spec hash {record.spec_hash} -> {spec.spec_hash()})"
        )
    changes += input_changes(store, record)
    if not changes:
        return ResumeCheck(record.id)
    if not replan:
        lines = "\n".join(f"  {line}" for line in changes)
        raise ResumeRefused(
            f"job {record.id} ({record.name}) cannot be resumed as planned:\n{lines}\n"
            "Its chunks would read other data than they were cut from. Use --replan to plan "
            "it again from the current files and spec (chunks already done run again), or "
            "start a new run with another --run-key."
        )
    from orchestrator.dispatch.recovery import reclaim_orphans
    from orchestrator.dispatch.staging import staging_dir
    from orchestrator.planning.plan import plan_job
    from orchestrator.planning.stored import stored_spec
    from orchestrator.spec.model import JobSpec

    target = spec or JobSpec.from_dict(record.spec)
    reclaim_orphans(store, "jobctl-replan")  # chunks of dead coordinators are no obstacle
    store.reap_expired()

    plan = plan_job(target)
    dropped = store.replan_job(
        record.id, stored_spec(target, plan), target.spec_hash(), plan.inputs, plan.chunks
    )
    if record.output_path is not None:
        shutil.rmtree(staging_dir(record.output_path, record.id), ignore_errors=True)
    return ResumeCheck(record.id, changes, True, dropped)


def resume_existing(
    store: Store,
    spec_file: SpecFile,
    results: Sequence[SubmitResult],
    replan: bool = False,
) -> list[ResumeCheck]:
    """``run FILE --run-key K`` found jobs of that key: check (or replan) each."""
    return [
        prepare_resume(store, store.get_job(result.job_id), spec_file.job(result.name), replan)
        for result in results
        if not result.created
    ]


# -- dead-letter queue -----------------------------------------------------------------


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


def rollback(store: Store, job: JobRecord) -> RollbackResult:
    """Remove the output ``job`` published and mark it rolled back (refused while
    it is pending or running)."""
    from orchestrator.dispatch.rollback import rollback_job

    return rollback_job(store, job.id)
