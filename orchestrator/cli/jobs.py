"""Commands about jobs: validate, submit, run, resume, status, list, cancel, events, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.common import (
    AcceptNewHostKeys,
    DbOption,
    JsonOption,
    MaxFailures,
    cli_store,
    console,
    err_console,
    is_terminal,
    print_json,
)
from orchestrator.cli.render import (
    event_row,
    job_row,
    print_events,
    print_jobs,
    print_status,
    status_document,
)
from orchestrator.states import JobState

# The core (api, spec loading, the dispatcher) and the live view are imported
# by the commands that use them: `status --json` needs none of them but api.
if TYPE_CHECKING:
    from orchestrator import api
    from orchestrator.api.runs import Slot

SpecPath = Annotated[Path, typer.Argument(help="The job spec (YAML).", show_default=False)]
JobRef = Annotated[
    str, typer.Argument(help="Job id, name (its newest run) or run key.", show_default=False)
]
JobNames = Annotated[
    list[str] | None, typer.Option("--job", help="Only this job of the file (repeatable).")
]
RunKey = Annotated[
    str | None,
    typer.Option(
        "--run-key",
        help="Idempotency key: the same job name + run key is one job (re-run = resume).",
    ),
]
Workers = Annotated[
    int | None, typer.Option("--workers", min=1, help="Local worker processes (default: spec).")
]
Replan = Annotated[
    bool,
    typer.Option(
        "--replan",
        help="When an input file or the spec changed since the job was planned, plan it "
        "again from the current files (every chunk runs again) instead of refusing.",
    ),
]


def validate(spec: SpecPath, json_output: JsonOption = False) -> None:
    """Check a spec file; print every error with file:line. Exit 0 or 2."""
    from orchestrator import api

    spec_file = api.load_spec(spec)
    api.check_spec(spec_file)
    if json_output:
        print_json({"file": str(spec), "valid": True, "jobs": [j.name for j in spec_file.jobs]})
    else:
        console.print(f"{spec}: ok ({len(spec_file.jobs)} job(s))", markup=False)


def submit(
    spec: SpecPath,
    job: JobNames = None,
    run_key: RunKey = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Plan and enqueue the jobs of a spec file; print their ids."""
    from orchestrator import api

    spec_file = api.load_spec(spec)
    with cli_store(db, quiet=json_output) as store:
        results = api.submit_spec(store, spec_file, job, run_key)
    if json_output:
        print_json([result.__dict__ for result in results])
        return
    for result in results:
        verb = "submitted" if result.created else "exists"
        console.print(
            f"job {result.job_id} {result.name}: {verb}, run key {result.run_key}, "
            f"{result.chunks} chunk(s) from {result.inputs} input(s)",
            markup=False,
        )


def run(
    spec: SpecPath,
    job: JobNames = None,
    run_key: RunKey = None,
    workers: Workers = None,
    replan: Replan = False,
    scheduled: Annotated[
        bool,
        typer.Option(
            "--scheduled",
            help="A cron run: the run key comes from the job's last schedule fire time, "
            "so two invocations for one fire make one job.",
        ),
    ] = False,
    accept_new_host_keys: AcceptNewHostKeys = False,
    max_failures: MaxFailures = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Submit and run jobs until they end; the exit code is their final state.

    With the --run-key of an earlier run, its unfinished jobs are resumed:
    chunks that succeeded never run again."""
    from orchestrator import api
    from orchestrator.api.runs import prestart_workers, stop_unused
    from orchestrator.cli.progress import log_line

    spec_file = api.load_spec(spec)
    chosen = [j for j in spec_file.jobs if not job or j.name in job]
    api.check_spec(spec_file, job)  # refused before a worker starts or a row is stored
    prestarted = prestart_workers(chosen, workers)  # they start while we plan
    try:
        with cli_store(db) as store:
            if scheduled:
                results = api.submit_scheduled(
                    store, spec_file, job, run_key, on_overlap=log_line, checked=True
                )
            else:
                results = api.submit_spec(store, spec_file, job, run_key, checked=True)
            results = [result for result in results if result.skipped is None]
            if not results:
                raise typer.Exit(0)  # every job skipped by its concurrency policy (logged)
            checks = api.resume_existing(store, spec_file, results, replan)
            _report_replans(checks)
            job_ids = [result.job_id for result in results]
            _dispatch(
                store,
                job_ids,
                workers,
                json_output,
                resume=bool(checks),
                accept_new_host_keys=accept_new_host_keys,
                prestarted=prestarted,
                max_failures=max_failures,
            )
    finally:
        stop_unused(prestarted)  # the run stopped the workers it took; these are gone


def resume(
    job_ref: JobRef,
    workers: Workers = None,
    replan: Replan = False,
    accept_new_host_keys: AcceptNewHostKeys = False,
    max_failures: MaxFailures = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Continue an unfinished or failed job: re-run only chunks that did not succeed.

    Refused when an input file changed since the job was planned (see --replan)."""
    from orchestrator import api
    from orchestrator.api.runs import prestart_for, stop_unused

    with cli_store(db) as store:
        record = api.resolve_job(store, job_ref)
        prestarted = prestart_for(record, workers)
        try:
            _report_replans([api.prepare_resume(store, record, replan=replan)])
            _dispatch(
                store,
                [record.id],
                workers,
                json_output,
                resume=True,
                accept_new_host_keys=accept_new_host_keys,
                prestarted=prestarted,
                max_failures=max_failures,
            )
        finally:
            stop_unused(prestarted)


def _report_replans(checks: list[api.ResumeCheck]) -> None:
    for check in checks:
        if check.replanned:
            for line in check.changes:
                err_console.print(f"jobctl: {line}", markup=False)
            err_console.print(
                f"jobctl: job {check.job_id} planned again "
                f"({check.chunks_dropped} chunk(s) of the old plan dropped)",
                markup=False,
            )


def _dispatch(
    store: api.Store,
    job_ids: list[int],
    workers: int | None,
    json_output: bool,
    resume: bool = False,
    accept_new_host_keys: bool = False,
    prestarted: tuple[Slot, ...] = (),
    max_failures: int | None = None,
) -> None:
    from orchestrator import api
    from orchestrator.api.runs import exit_code_for, run_jobs  # pyarrow etc.: only to run
    from orchestrator.cli.progress import ProgressReporter

    reporter = ProgressReporter(live=is_terminal() and not json_output)
    with reporter:
        final = run_jobs(
            store,
            job_ids,
            workers=workers,
            resume=resume,
            accept_new_host_keys=accept_new_host_keys,
            prestarted=prestarted,
            observer=reporter.update,
            max_failures=max_failures,
        )
    statuses = [api.job_status(store, api.get_job(store, job_id)) for job_id in job_ids]
    if json_output:
        print_json([status_document(s) for s in statuses])
    else:
        for item in statuses:
            print_status(item)
    raise typer.Exit(exit_code_for(final))


def status(
    job_ref: Annotated[
        str | None,
        typer.Argument(help="Job id, name or run key; default: recent jobs.", show_default=False),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the job live.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a job's state, chunk counts, rows, and every failed chunk."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        if job_ref is None:
            jobs = api.list_jobs(store, limit=20)
            if json_output:
                print_json([status_document(api.job_status(store, j)) for j in jobs])
            else:
                print_jobs(jobs, api.shown_states(store, jobs))
            return
        record = api.resolve_job(store, job_ref)
        if watch:
            from orchestrator.cli.progress import watch_status

            watch_status(store, record.id, live=is_terminal())
            record = api.get_job(store, record.id)
        result = api.job_status(store, record)
    if json_output:
        print_json(status_document(result))
    else:
        print_status(result)


def list_jobs(
    state: Annotated[
        list[JobState] | None, typer.Option("--state", help="Only jobs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        jobs = api.list_jobs(store, state or None, limit=limit)
        shown = api.shown_states(store, jobs)
    if json_output:
        print_json([job_row(j, shown) for j in jobs])
    else:
        print_jobs(jobs, shown)


def cancel(job_ref: JobRef, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Cancel a job (idempotent). A running `jobctl run` stops within seconds."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        changed, record = api.cancel_job(store, record)
    if json_output:
        print_json({"id": record.id, "state": record.state.value, "changed": changed})
    elif changed:
        console.print(f"job {record.id} {record.name}: cancelled", markup=False)
    else:
        console.print(f"job {record.id} {record.name}: already {record.state.value}", markup=False)


def events(
    job_ref: JobRef,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The audit log of a job: every state change, who, where, when."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        rows = api.job_events(store, record, limit=limit)
    if json_output:
        print_json([event_row(e) for e in rows])
    else:
        print_events(rows)


def rollback(job_ref: JobRef, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Remove a finished job's published output and mark it rolled back.

    Removes only the files its _SUCCESS manifest lists, then _SUCCESS, then the
    output directory if it is empty. Refused (exit 2) for a pending or running job."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        result = api.rollback(store, record)
    if json_output:
        print_json(
            {
                "id": result.job_id,
                "state": "rolled_back",
                "changed": result.changed,
                "output": result.output,
                "removed": result.removed,
                "note": result.note,
            }
        )
        return
    if not result.changed:
        console.print(f"job {result.job_id} {result.name}: already rolled back", markup=False)
        return
    console.print(
        f"job {result.job_id} {result.name}: rolled back, {len(result.removed)} file(s) removed"
        + (f" ({result.note})" if result.note else ""),
        markup=False,
    )
