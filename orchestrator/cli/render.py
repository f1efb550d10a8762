"""Turning status records into JSON documents, Rich tables and plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.cli.common import console, fmt_time, is_terminal
from orchestrator.states import ChunkState

if TYPE_CHECKING:
    from orchestrator import api
    from orchestrator.api import JobEvent, JobRecord, JobStatus


def fmt_duration(seconds: float | None) -> str:
    """A duration as people read it: ``0.42s``, ``12.3s``, ``2m03s``, ``1h02m``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


def fmt_rate(rows_per_second: float | None) -> str:
    return "-" if rows_per_second is None else f"{rows_per_second:,.0f} rows/s"


def status_document(status: JobStatus) -> dict[str, Any]:
    """The ``status --json`` document. Its keys are a stable interface."""
    job, progress = status.job, status.progress
    return {
        "id": job.id,
        "name": job.name,
        "run_key": job.run_key,
        "state": status.shown_state or job.state.value,
        "stored_state": job.state.value,
        "resume": status.resume_command,
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
        "retries": status.retries,
        "elapsed_seconds": status.elapsed,
        "rows_per_second": status.rows_per_second,
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
        "error_groups": [
            {"error": group.error, "count": group.count, "chunks": group.seqs}
            for group in _groups(status)
        ],
        "first_error": _first_error(status),
        **({"validation": status.validation} if status.validation is not None else {}),
        **({"identity_match": status.identity} if status.identity is not None else {}),
        **({"phase": status.current_phase, "phases": status.phases} if status.phases else {}),
    }


def _groups(status: JobStatus) -> list[api.ErrorGroup]:
    from orchestrator import api

    return api.group_errors(status.problems)


def _first_error(status: JobStatus) -> dict[str, Any] | None:
    log = status.first_error
    if log is None:
        return None
    from orchestrator import api

    return {
        "chunk": log.seq,
        "attempt": log.attempt,
        "error": log.error,
        "last_frames": api.last_frames(log.traceback),
        "see": api.logs_hint(log.job_id, log.seq),
    }


def seq_list(seqs: list[int], shown: int = 10) -> str:
    """Chunk numbers as people read them: ``3, 5, 8 and 42 more``."""
    head = ", ".join(str(seq) for seq in seqs[:shown])
    return head + (f" and {len(seqs) - shown} more" if len(seqs) > shown else "")


def error_group_lines(groups: list[api.ErrorGroup], job_id: int, indent: str = "  ") -> list[str]:
    """One line per distinct error with its count and chunks, and where to look."""
    from orchestrator import api

    lines = []
    for group in groups:
        chunks = "chunk" if group.count == 1 else "chunks"
        lines.append(
            f"{indent}{group.count} x {group.error} ({chunks} {seq_list(group.seqs)}; "
            f"see: {api.logs_hint(job_id, group.seqs[0])})"
        )
    return lines


def job_row(job: JobRecord, shown: dict[int, str] | None = None) -> dict[str, Any]:
    """A job of ``list --json``; ``state`` is the shown one (``interrupted``
    when no coordinator runs it), ``stored_state`` the store's."""
    state = (shown or {}).get(job.id, job.state.value)
    return {
        "id": job.id,
        "name": job.name,
        "run_key": job.run_key,
        "state": state,
        "stored_state": job.state.value,
        "resume": f"jobctl resume {job.id}" if state == "interrupted" else None,
        "priority": job.priority.name,
        "queue": job.queue,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def phase_lines(phases: list[dict[str, Any]]) -> list[str]:
    """``phase 2/2 reduce: 31/64 chunks`` for the current phase, then rows per phase."""
    if not phases:
        return []
    now = phases[-1]
    lines = [f"  {now['label']}: {now['done']}/{now['chunks']} chunks"]
    for p in phases:
        lines.append(
            f"    {p['label']}: {p['done']}/{p['chunks']} chunks, rows in {p['rows_in']},"
            f" out {p['rows_out']}, rejected {p['rows_rejected']}"
        )
    return lines


def validation_lines(summary: dict[str, Any] | None) -> list[str]:
    """A validate job's reconciliation and one line per rule."""
    if summary is None:
        return []
    so_far = " so far" if summary.get("partial") else ""
    lines = [
        f"  validation{so_far}: in {summary['rows_in']} = valid {summary['rows_valid']}"
        f" + rejected {summary['rows_rejected']}"
        + ("" if summary.get("reconciled") or so_far else "  (does NOT reconcile)")
    ]
    for name, counts in (summary.get("rules") or {}).items():
        lines.append(
            f"    {name} ({counts['on_violation']}): {counts['violations']} violation(s), "
            f"{counts['rejected']} rejected"
        )
    return lines


def identity_lines(summary: dict[str, Any] | None) -> list[str]:
    """An identity_match job's figures: pairs, edges, clusters and their sizes."""
    if summary is None:
        return []
    histogram = summary["cluster_size_histogram"]
    sizes = "  ".join(f"{size}:{count}" for size, count in histogram[:12])
    if len(histogram) > 12:
        sizes += f"  ... ({len(histogram) - 12} more sizes)"
    return [
        f"  identity: {summary['records']} records, {summary['pairs_compared']} pairs compared,"
        f" {summary['edges']} edges, {summary['clusters']} clusters"
        f" (largest {summary['largest_cluster']})",
        f"    cluster sizes (size:clusters): {sizes}",
    ]


def print_status(status: JobStatus) -> None:
    doc = status_document(status)
    counts = ", ".join(f"{k} {v}" for k, v in doc["chunks"].items() if v)
    took = ""
    if status.elapsed is not None:
        took = f" in {fmt_duration(status.elapsed)} ({fmt_rate(status.rows_per_second)})"
    lines = [
        f"job {doc['id']} {doc['name']} ({doc['run_key']}): {doc['state']}",
        f"  chunks: {counts or 'none'} (total {doc['chunks_total']})",
        f"  rows: in {doc['rows_in']}, out {doc['rows_out']}, rejected {doc['rows_rejected']}"
        + took,
        f"  retries: {doc['retries']}   priority {doc['priority']}   queue {doc['queue']}",
        f"  created {fmt_time(status.job.created_at)}"
        f"   finished {fmt_time(status.job.finished_at)}",
    ]
    if doc["output"]:
        lines.append(f"  output: {doc['output']}")
    if doc["error"]:
        lines.append(f"  error: {doc['error']}")
    if doc["resume"]:
        lines.append(f"  no coordinator runs it: go on with `{doc['resume']}`")
    if status.problems:
        lines.append(f"  dead chunks by error ({len(status.problems)}):")
        lines += error_group_lines(_groups(status), doc["id"], indent="    ")
    lines += phase_lines(status.phases)
    lines += validation_lines(status.validation)
    lines += identity_lines(status.identity)
    first = doc["first_error"]
    if first is not None:
        lines.append(f"  first error: chunk {first['chunk']} attempt {first['attempt']}:")
        lines += [f"    {frame}" for frame in first["last_frames"] or [first["error"]]]
        lines.append(f"    see: {first['see']}")
    for line in lines:
        console.print(line, markup=False)


def print_jobs(jobs: list[JobRecord], shown: dict[int, str] | None = None) -> None:
    heads = ["id", "name", "state", "priority", "run key", "created", "finished"]
    rows = [
        [
            str(job.id),
            job.name,
            (shown or {}).get(job.id, job.state.value),
            job.priority.name,
            job.run_key,
            fmt_time(job.created_at),
            fmt_time(job.finished_at),
        ]
        for job in jobs
    ]
    print_rows(heads, rows, right={0})


def event_row(item: JobEvent) -> dict[str, Any]:
    event = item.event
    return {
        "id": event.id,
        "at": event.at,
        "kind": event.kind,
        "job_id": event.job_id,
        "chunk_id": event.chunk_id,
        "chunk": item.chunk_seq,
        "actor": {"user": event.actor_user, "host": event.actor_host, "pid": event.actor_pid},
        "detail": event.detail,
    }


#: event detail keys that hold seconds
_SECONDS_KEYS = ("duration", "delay", "retry_delay", "elapsed", "seconds", "wait")


def _detail_value(key: str, value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        if key in _SECONDS_KEYS or key.endswith("_seconds"):
            return fmt_duration(value)
        return f"{value:.4g}"
    return str(value)


def print_events(events: list[JobEvent]) -> None:
    for item in events:
        event = item.event
        chunk = ""
        if item.chunk_seq is not None:
            chunk = f" chunk {item.chunk_seq}"
        elif event.chunk_id is not None:
            chunk = f" chunk id {event.chunk_id}"  # its chunk was dropped by a replan
        detail = " ".join(f"{k}={_detail_value(k, v)}" for k, v in sorted(event.detail.items()))
        console.print(
            f"{fmt_time(event.at)} {event.kind}{chunk} "
            f"[{event.actor_user}@{event.actor_host}:{event.actor_pid}] {detail}".rstrip(),
            markup=False,
        )


def aligned_lines(
    heads: list[str], rows: list[list[str]], right: set[int] | None = None
) -> list[str]:
    """A header and rows in columns padded to their widest cell (two spaces
    between columns; numbers in ``right`` columns right-aligned)."""
    widths = [max(len(cell) for cell in column) for column in zip(heads, *rows, strict=False)]
    lines = []
    for row in [heads, *rows]:
        cells = [
            cell.rjust(width) if index in (right or ()) else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def print_rows(heads: list[str], rows: list[list[str]], right: set[int] | None = None) -> None:
    """A Rich table on a terminal; aligned columns under a header line otherwise."""
    columns = right or set()
    if not is_terminal():
        for line in aligned_lines(heads, rows, columns):
            console.print(line, markup=False, soft_wrap=True)
        return
    from rich.table import Table  # a table only on a terminal

    table = Table(*heads)
    for index in columns:
        table.columns[index].justify = "right"
    for row in rows:
        table.add_row(*row)
    console.print(table)
