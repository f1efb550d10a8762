"""Submitting jobs: plan a spec's jobs and insert each with its chunks.

A submit is idempotent on (job name, run key): a second submit of the same key
returns the existing job, which makes cron re-fires and retried submits safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import OutputExists, SpecError, SpecIssue
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.store.base import NewJob, Store

# Planning imports pyarrow and the spec model takes time to import: the
# functions that plan import them, so read-only commands start fast.
if TYPE_CHECKING:
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


def load_spec(path: str | Path) -> SpecFile:
    """Read and validate a spec file; :class:`SpecError` names every problem's
    file and line."""
    from orchestrator.spec.loader import load_spec as load

    return load(path)


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
        total = store.job_progress(existing.id).total
        return SubmitResult(
            existing.id, job.name, key, False, total, len(store.job_inputs(existing.id))
        )
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
    *,
    checked: bool = False,
) -> list[SubmitResult]:
    """Submit the selected jobs of a spec file, all under one run key, upstream
    jobs first. ``checked``: the caller has just run :func:`check_spec` on
    these jobs (`jobctl run` does, before it starts workers), so it is not run
    again: a keyed transform's check binds its SQL with DuckDB."""
    key = run_key or new_run_key()
    source = str(Path(spec_file.path).resolve())
    results: list[SubmitResult] = []
    submitted: dict[str, int] = {}
    if not checked:
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
    *,
    checked: bool = False,
) -> list[SubmitResult]:
    """Submit the selected jobs as a cron run: each under the run key of its
    schedule's last fire time, so a second invocation for the same fire
    attaches to the first job instead of duplicating it. A previous run still
    going is handled by the job's ``concurrency`` policy
    (``scheduling/overlap.py``); a skipped job comes back with ``skipped`` set
    and is not submitted. ``on_overlap`` hears one line per decision."""
    from orchestrator.scheduling.fire_times import last_fire, run_key_for

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
    if not checked:
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
