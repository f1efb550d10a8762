"""Turning status records into JSON documents, Rich tables and plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.cli.common import console, fmt_time, is_terminal
from orchestrator.states import ChunkState

if TYPE_CHECKING:
    from orchestrator.api import JobStatus
    from orchestrator.store.base import EventRecord, JobRecord


def status_document(status: JobStatus) -> dict[str, Any]:
    """The ``status --json`` document. Its keys are a stable interface."""
    job, progress = status.job, status.progress
    return {
        "id": job.id,
        "name": job.name,
        "run_key": job.run_key,
        "state": job.state.value,
        "priority": job.priority.name,
        "queue": job.queue,
        "output": job.output_path,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "chunks": {state.value: progress.chunks.get(state, 0) for state in ChunkState},
        "chunks_total": progress.total,
        "rows_in": progress.rows_in,
        "rows_out": progress.rows_out,
        "rows_rejected": progress.rows_rejected,
        "bytes_out": progress.bytes_out,
        "retries": progress.retries,
        "failed_chunks": [
            {
                "seq": chunk.seq,
                "state": chunk.state.value,
                "where": chunk.descriptor.describe(),
                "file": chunk.descriptor.path,
                "start": chunk.descriptor.start,
                "stop": chunk.descriptor.stop,
                "attempts": chunk.attempts,
                "error": chunk.error,
            }
            for chunk in status.problems
        ],
    }


def job_row(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "run_key": job.run_key,
        "state": job.state.value,
        "priority": job.priority.name,
        "queue": job.queue,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def print_status(status: JobStatus) -> None:
    doc = status_document(status)
    counts = ", ".join(f"{k} {v}" for k, v in doc["chunks"].items() if v)
    lines = [
        f"job {doc['id']} {doc['name']} ({doc['run_key']}): {doc['state']}",
        f"  chunks: {counts or 'none'} (total {doc['chunks_total']})",
        f"  rows: in {doc['rows_in']}, out {doc['rows_out']}, rejected {doc['rows_rejected']}",
        f"  retries: {doc['retries']}   priority {doc['priority']}   queue {doc['queue']}",
        f"  created {fmt_time(status.job.created_at)}"
        f"   finished {fmt_time(status.job.finished_at)}",
    ]
    if doc["output"]:
        lines.append(f"  output: {doc['output']}")
    if doc["error"]:
        lines.append(f"  error: {doc['error']}")
    for chunk in doc["failed_chunks"]:
        lines.append(
            f"  chunk {chunk['seq']} {chunk['state']} after {chunk['attempts']} attempt(s): "
            f"{chunk['where']}: {chunk['error']}"
        )
    for line in lines:
        console.print(line, markup=False)


def print_jobs(jobs: list[JobRecord]) -> None:
    if not is_terminal():
        for job in jobs:
            console.print(
                f"{job.id}\t{job.name}\t{job.state.value}\t{job.priority.name}\t"
                f"{job.run_key}\t{fmt_time(job.created_at)}",
                markup=False,
            )
        return
    from rich.table import Table  # a table only on a terminal

    table = Table("id", "name", "state", "priority", "run key", "created", "finished")
    for job in jobs:
        table.add_row(
            str(job.id),
            job.name,
            job.state.value,
            job.priority.name,
            job.run_key,
            fmt_time(job.created_at),
            fmt_time(job.finished_at),
        )
    console.print(table)


def event_row(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at,
        "kind": event.kind,
        "job_id": event.job_id,
        "chunk_id": event.chunk_id,
        "actor": {"user": event.actor_user, "host": event.actor_host, "pid": event.actor_pid},
        "detail": event.detail,
    }


def print_events(events: list[EventRecord]) -> None:
    for event in events:
        chunk = f" chunk {event.chunk_id}" if event.chunk_id is not None else ""
        detail = " ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
        console.print(
            f"{fmt_time(event.at)} {event.kind}{chunk} "
            f"[{event.actor_user}@{event.actor_host}:{event.actor_pid}] {detail}".rstrip(),
            markup=False,
        )


def print_rows(heads: list[str], rows: list[list[str]]) -> None:
    """A table on a terminal; tab-separated lines for pipes (``cut``, ``awk``)."""
    if not is_terminal():
        for row in rows:
            console.print("\t".join(row), markup=False)
        return
    from rich.table import Table  # a table only on a terminal

    table = Table(*heads)
    for row in rows:
        table.add_row(*row)
    console.print(table)
