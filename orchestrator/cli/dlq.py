"""The dead-letter queue: chunks that failed every attempt. List, retry, purge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.common import DbOption, JsonOption, cli_store, console, print_json
from orchestrator.cli.render import error_group_lines

if TYPE_CHECKING:
    from orchestrator import api

dlq_app = typer.Typer(
    help="Dead chunks: list them, put them back in the queue, or give up on them.",
    no_args_is_help=True,
)

JobRef = Annotated[
    str, typer.Argument(help="Job id, name (its newest run) or run key.", show_default=False)
]


@dlq_app.command("list")
def list_dead(
    job: Annotated[str | None, typer.Option("--job", help="Only this job (id or name).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Dead chunks with their job, where they read and their last error."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job) if job is not None else None
        dead = api.dlq_list(store, record, limit)
    if json_output:
        print_json(
            [
                {
                    "job_id": item.job.id,
                    "job": item.job.name,
                    "job_state": item.job.state.value,
                    "seq": item.chunk.seq,
                    "chunk_id": item.chunk.id,
                    "where": item.chunk.descriptor.describe(),
                    "attempts": item.chunk.attempts,
                    "infra_attempts": item.chunk.infra_attempts,
                    "error": item.chunk.error,
                    "updated_at": item.chunk.updated_at,
                    "see": api.logs_hint(item.job.id, item.chunk.seq),
                }
                for item in dead
            ]
        )
        return
    if not dead:
        console.print("no dead chunks", markup=False)
    by_job: dict[int, list[api.DeadChunk]] = {}
    for item in dead:
        by_job.setdefault(item.job.id, []).append(item)
    for items in by_job.values():
        job_record = items[0].job
        console.print(
            f"job {job_record.id} {job_record.name}: {len(items)} dead chunk(s)", markup=False
        )
        groups = api.group_errors([item.chunk for item in items])
        for line in error_group_lines(groups, job_record.id):
            console.print(line, markup=False, soft_wrap=True)


@dlq_app.command()
def retry(
    job_ref: JobRef,
    chunk: Annotated[
        list[int] | None, typer.Option("--chunk", help="Only this chunk seq (repeatable).")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Put dead chunks back in the queue with fresh attempts; `jobctl resume JOB` runs them."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        count = api.dlq_retry(store, record, chunk)
        state = api.get_job(store, record.id).state
    if json_output:
        print_json({"id": record.id, "requeued": count, "state": state.value})
        return
    console.print(
        f"job {record.id} {record.name}: {count} chunk(s) back in the queue"
        + (f"; run `jobctl resume {record.id}` to run them" if count else ""),
        markup=False,
    )


@dlq_app.command()
def purge(job_ref: JobRef, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Give up on a job's dead chunks: they become cancelled (recorded in events)."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        count = api.dlq_purge(store, record)
    hint = api.PURGED_HINT if count else None
    if json_output:
        print_json({"id": record.id, "purged": count, "can_publish": not count, "hint": hint})
        return
    console.print(f"job {record.id} {record.name}: {count} dead chunk(s) purged", markup=False)
    if hint:
        console.print(f"job {record.id}: {hint}", markup=False)
