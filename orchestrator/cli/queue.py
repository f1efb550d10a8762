"""`jobctl queue list|pause|resume|limit|stats`: the queues jobs are served from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.common import (
    DbOption,
    JsonOption,
    cli_store,
    console,
    print_json,
)
from orchestrator.cli.render import print_rows

if TYPE_CHECKING:
    from orchestrator.api import QueueInfo, QueueStats

queue_app = typer.Typer(
    help="Queues: pause and resume them, cap their running chunks, see their figures.",
    no_args_is_help=True,
)


def _queue_name(value: str) -> str:
    from orchestrator import api

    problem = api.queue_name_problem(value)
    if problem is not None:
        raise typer.BadParameter(problem)
    return value


def _window(value: str) -> float:
    from orchestrator.api.queues import DURATION_HINT, parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise typer.BadParameter(f"the window must be longer than 0 ({DURATION_HINT})")
    return seconds


QueueName = Annotated[
    str, typer.Argument(help="The queue's name.", callback=_queue_name, show_default=False)
]


def queue_document(info: QueueInfo) -> dict[str, Any]:
    """One ``queue list --json`` entry. Its keys are a stable interface."""
    return {
        "name": info.name,
        "paused": info.paused,
        "concurrency_limit": info.concurrency_limit,
        "pending": info.pending,
        "running": info.running,
        "jobs_active": info.jobs_active,
    }


def stats_document(stats: QueueStats) -> dict[str, Any]:
    """The ``queue stats --json`` document. Its keys are a stable interface."""
    return {
        "queue": stats.queue,
        "since_seconds": stats.since,
        "paused": stats.paused,
        "concurrency_limit": stats.concurrency_limit,
        "depth": {priority.name: count for priority, count in stats.depth.items()},
        "pending": sum(stats.depth.values()),
        "running": stats.running,
        "dead": stats.dead,
        "wait_seconds": {"chunks": stats.leased, "avg": stats.wait_avg, "p95": stats.wait_p95},
        "succeeded": stats.succeeded,
        "rows": stats.rows,
        "chunks_per_hour": stats.chunks_per_hour,
        "rows_per_hour": stats.rows_per_hour,
        "failed_attempts": stats.failed,
        "ended_attempts": stats.ended,
        "failure_rate": stats.failure_rate,
        "retries": stats.retries,
    }


@queue_app.command("list")
def list_queues(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Every queue with jobs or settings: paused, limit, pending and running chunks."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        queues = api.list_queues(store)
    if json_output:
        print_json([queue_document(q) for q in queues])
        return
    if not queues:
        console.print("no queues (a queue appears with its first job)", markup=False)
        return
    heads = ["queue", "state", "limit", "pending", "running", "active jobs"]
    rows = [
        [
            q.name,
            "paused" if q.paused else "open",
            "-" if q.concurrency_limit is None else str(q.concurrency_limit),
            str(q.pending),
            str(q.running),
            str(q.jobs_active),
        ]
        for q in queues
    ]
    print_rows(heads, rows, right={2, 3, 4, 5})


@queue_app.command()
def pause(name: QueueName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Lease nothing more from the queue; its running chunks finish."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        changed = api.pause_queue(store, name)
    _report(name, changed, json_output, "paused", {"paused": True})


@queue_app.command()
def resume(name: QueueName, db: DbOption = None, json_output: JsonOption = False) -> None:
    """Lease from the queue again."""
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        changed = api.resume_queue(store, name)
    _report(name, changed, json_output, "resumed", {"paused": False})


@queue_app.command()
def limit(
    name: QueueName,
    chunks: Annotated[
        int | None,
        typer.Argument(help="At most this many running chunks.", min=1, show_default=False),
    ] = None,
    none: Annotated[bool, typer.Option("--none", help="Remove the limit.")] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Cap the queue's running chunks across all coordinators (or --none)."""
    if (chunks is None) == (not none):
        raise typer.BadParameter("give a number of chunks or --none, not both or neither")
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        changed = api.set_queue_limit(store, name, chunks)
    what = f"limited to {chunks} running chunk(s)" if chunks else "without limit"
    _report(name, changed, json_output, what, {"concurrency_limit": chunks})


@queue_app.command()
def stats(
    name: Annotated[
        str | None, typer.Argument(help="The queue (default: every queue).", show_default=False)
    ] = None,
    since: Annotated[str, typer.Option("--since", help="The window: 1h, 30m, 1d...")] = "1h",
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Depth by priority, waits, processing and failure rates, retries, dead letters."""
    window = _window(since)
    if name is not None:
        _queue_name(name)
    from orchestrator import api

    with cli_store(db, quiet=json_output) as store:
        figures = api.queue_stats(store, [name] if name else None, window)
    if json_output:
        docs = [stats_document(s) for s in figures]
        print_json(docs[0] if name else docs)
        return
    if not figures:
        console.print("no queues (a queue appears with its first job)", markup=False)
    for s in figures:
        for line in _stats_lines(s):
            console.print(line, markup=False)


def _report(name: str, changed: bool, json_output: bool, what: str, fields: dict[str, Any]) -> None:
    if json_output:
        print_json({"queue": name, "changed": changed, **fields})
        return
    console.print(f"queue {name} {what}" + ("" if changed else " (it was already)"), markup=False)


def _stats_lines(s: QueueStats) -> list[str]:
    from orchestrator.api.queues import format_duration

    state = "paused" if s.paused else "open"
    limit = "" if s.concurrency_limit is None else f", limit {s.concurrency_limit}"
    depth = ", ".join(f"{p.name} {n}" for p, n in s.depth.items() if n) or "none"
    rate = "-" if s.failure_rate is None else f"{s.failure_rate:.1%}"
    return [
        f"queue {s.queue} ({state}{limit}), last {format_duration(s.since)}:",
        f"  pending: {depth}   running {s.running}   dead letters {s.dead}",
        f"  wait to first lease: avg {_seconds(s.wait_avg)}, p95 {_seconds(s.wait_p95)}"
        f" ({s.leased} chunk(s))",
        f"  processed: {s.succeeded} chunk(s), {s.rows} row(s)"
        f" = {s.chunks_per_hour:,.1f} chunks/h, {s.rows_per_hour:,.0f} rows/h",
        f"  failures: {s.failed} of {s.ended} ended attempt(s) ({rate})   retries {s.retries}",
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"
