"""``jobctl logs``: what each attempt of a job's chunks printed, logged and raised."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.common import DbOption, JsonOption, cli_store, console, fmt_time, print_json

if TYPE_CHECKING:
    from orchestrator.api import AttemptLog


def log_document(log: AttemptLog) -> dict[str, Any]:
    """One attempt log as ``logs --json`` prints it. Its keys are a stable interface."""
    return {
        "job_id": log.job_id,
        "chunk": log.seq,
        "attempt": log.attempt,
        "outcome": log.outcome,
        "worker": log.worker,
        "at": log.created_at,
        "error": log.error,
        "traceback": log.traceback,
        "output": log.output,
        "output_bytes": log.output_bytes,
    }


def print_log(log: AttemptLog) -> None:
    head = (
        f"=== job {log.job_id} chunk {log.seq} attempt {log.attempt}: {log.outcome}"
        f" on {log.worker or '?'} at {fmt_time(log.created_at)} ==="
    )
    lines = [head]
    if log.output:
        lines.append(log.output.rstrip("\n"))
        if log.output_bytes > len(log.output.encode()):
            lines.append(f"[output cut: {log.output_bytes} bytes written in all]")
    if log.traceback:
        lines.append(log.traceback.rstrip("\n"))
    elif log.error:
        lines.append(log.error)
    for line in lines:
        console.print(line, markup=False, soft_wrap=True, highlight=False)


def logs(
    job_ref: Annotated[
        str, typer.Argument(help="Job id, name (its newest run) or run key.", show_default=False)
    ],
    chunk: Annotated[
        int | None, typer.Option("--chunk", metavar="N", help="Only chunk N (as in status).")
    ] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", metavar="K", min=1, help="Only attempt K.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing attempts as they end.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Each attempt's stdout, stderr, ctx.logger lines and traceback, by chunk and attempt.

    Kept for attempts that failed or printed something (the first 16 KiB and
    the last 48 KiB of each; the newest 10 attempts of a chunk)."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        record = api.resolve_job(store, job_ref)
        if follow:
            for log in api.follow_logs(store, record, chunk, attempt):
                if json_output:
                    print_json(log_document(log))  # one document per attempt
                else:
                    print_log(log)
            return
        found = api.attempt_logs(store, record, chunk, attempt)
    if json_output:
        print_json([log_document(log) for log in found])
        return
    if not found:
        where = "" if chunk is None else f" chunk {chunk}"
        where += "" if attempt is None else f" attempt {attempt}"
        console.print(
            f"job {record.id} {record.name}{where}: no attempt logs (attempts that "
            "succeeded without printing anything leave none)",
            markup=False,
        )
    for log in found:
        print_log(log)
