"""Row -> record mapping and the small rules both backends share.

Both dialects select the same column names, so one mapping serves both; only
JSON decoding differs (SQLite gives text, psycopg gives parsed jsonb), which
the caller passes in as ``loads``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestrator import jsoncodec
from orchestrator.errors import IllegalTransition
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.states import CHUNK_TRANSITIONS, ChunkState, JobState, Priority
from orchestrator.store.base import (
    ChunkOutcome,
    ChunkRecord,
    EventRecord,
    JobProgress,
    JobRecord,
    Lease,
    LeaseOwner,
    OutcomeKind,
    QueueInfo,
    QueueStats,
)

JsonLoads = Callable[[Any], Any]

OUTCOME_KINDS: frozenset[str] = frozenset(
    {
        OutcomeKind.SUCCEEDED,
        OutcomeKind.FAILED,
        OutcomeKind.LOST,
        OutcomeKind.CANCELLED,
        OutcomeKind.RELEASED,
    }
)


class EventKind:
    """The ``events.kind`` values the store writes (PostgreSQL spells them in SQL)."""

    JOB_SUBMITTED = "job_submitted"
    JOB_STATE = "job_state"
    JOB_CANCELLED = "job_cancelled"
    CHUNKS_ADDED = "chunks_added"
    CHUNK_LEASED = "chunk_leased"
    CHUNK_SUCCEEDED = "chunk_succeeded"
    CHUNK_FAILED = "chunk_failed"
    CHUNK_LOST = "chunk_lost"
    CHUNK_DEAD = "chunk_dead"
    CHUNK_CANCELLED = "chunk_cancelled"
    CHUNK_RELEASED = "chunk_released"
    CHUNK_REAPED = "chunk_reaped"
    CHUNK_REQUEUED = "chunk_requeued"
    CHUNK_COMMIT_REJECTED = "chunk_commit_rejected"
    CHUNK_PURGED = "chunk_purged"
    JOB_REPLANNED = "job_replanned"
    PHASE_STARTED = "phase_started"
    QUEUE_PAUSED = "queue_paused"
    QUEUE_RESUMED = "queue_resumed"
    QUEUE_LIMIT = "queue_limit"
    JOB_PRIORITY = "job_priority"


class Row(Protocol):
    """What both drivers' rows offer: access by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def to_datetime(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a SQLite REAL or a PostgreSQL timestamptz."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def _required_datetime(value: Any) -> datetime:
    result = to_datetime(value)
    assert result is not None
    return result


def sqlite_json(value: Any) -> Any:
    """Decode a JSON text column (SQL NULL stays None)."""
    return None if value is None else jsoncodec.loads(value)


def dump_json(value: Any) -> str | None:
    """JSON text for a column; None stays SQL NULL."""
    return None if value is None else jsoncodec.dumps_text(value)


def job_record(row: Row, loads: JsonLoads) -> JobRecord:
    return JobRecord(
        id=row["id"],
        name=row["name"],
        run_key=row["run_key"],
        state=JobState(row["state"]),
        priority=Priority(row["priority"]),
        queue=row["queue"],
        spec=loads(row["spec"]) or {},
        spec_hash=row["spec_hash"],
        output_path=row["output_path"],
        source_file=row["source_file"],
        error=row["error"],
        created_at=_required_datetime(row["created_at"]),
        started_at=to_datetime(row["started_at"]),
        finished_at=to_datetime(row["finished_at"]),
    )


def chunk_record(row: Row, loads: JsonLoads) -> ChunkRecord:
    return ChunkRecord(
        id=row["id"],
        job_id=row["job_id"],
        seq=row["seq"],
        phase=row["phase"],
        state=ChunkState(row["state"]),
        descriptor=ChunkDescriptor.from_dict(loads(row["descriptor"])),
        attempts=row["attempts"],
        infra_attempts=row["infra_attempts"],
        fencing_token=row["fencing_token"],
        lease_owner=row["lease_owner"],
        lease_expires_at=to_datetime(row["lease_expires_at"]),
        rows_in=row["rows_in"],
        rows_out=row["rows_out"],
        rows_rejected=row["rows_rejected"],
        bytes_out=row["bytes_out"],
        checksum=row["checksum"],
        part_file=row["part_file"],
        error=row["error"],
        checkpoint=loads(row["checkpoint"]),
        updated_at=_required_datetime(row["updated_at"]),
        result=loads(row["result"]),
    )


def lease_record(row: Row, loads: JsonLoads) -> Lease:
    return Lease(
        chunk_id=row["id"],
        job_id=row["job_id"],
        seq=row["seq"],
        fencing_token=row["fencing_token"],
        attempts=row["attempts"],
        infra_attempts=row["infra_attempts"],
        descriptor_doc=loads(row["descriptor"]),
        checkpoint=loads(row["checkpoint"]),
    )


def event_record(row: Row, loads: JsonLoads) -> EventRecord:
    return EventRecord(
        id=row["id"],
        at=_required_datetime(row["at"]),
        kind=row["kind"],
        job_id=row["job_id"],
        chunk_id=row["chunk_id"],
        actor_user=row["actor_user"],
        actor_host=row["actor_host"],
        actor_pid=row["actor_pid"],
        detail=loads(row["detail"]) or {},
    )


def input_file(row: Row) -> InputFile:
    return InputFile(
        path=row["path"],
        format=row["format"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        sample_hash=row["sample_hash"],
    )


def job_progress(job_id: int, state: str, rows: Iterable[Row]) -> JobProgress:
    """Fold the per-state aggregate rows of query ``job_progress`` into a record."""
    counts: dict[ChunkState, int] = {}
    totals = {"rows_in": 0, "rows_out": 0, "rows_rejected": 0, "bytes_out": 0, "retries": 0}
    for row in rows:
        counts[ChunkState(row["state"])] = int(row["n"])
        for key in totals:
            totals[key] += int(row[key] or 0)
    return JobProgress(job_id=job_id, state=JobState(state), chunks=counts, **totals)


def chunk_row(job_id: int, chunk: ChunkDescriptor) -> tuple[Any, ...]:
    """Column values of a new chunk, in the order of the insert/COPY queries:
    (job_id, seq, phase, kind, path, start, stop, est_rows, descriptor)."""
    return (
        job_id,
        chunk.seq,
        chunk.phase,
        chunk.kind,
        chunk.path,
        chunk.start,
        chunk.stop,
        chunk.est_rows,
        dump_json(chunk.to_dict()),
    )


def input_row(job_id: int, idx: int, item: InputFile) -> tuple[Any, ...]:
    """(job_id, idx, path, format, size, mtime_ns, sample_hash)."""
    return (job_id, idx, item.path, item.format, item.size, item.mtime_ns, item.sample_hash)


def unique_outcomes(outcomes: Sequence[ChunkOutcome]) -> list[int]:
    """Indexes of the outcomes to try: the first per chunk. A second outcome for
    the same chunk in one batch is rejected, as it would be one call later."""
    for outcome in outcomes:
        if outcome.kind not in OUTCOME_KINDS:
            raise ValueError(f"unknown outcome kind {outcome.kind!r} for chunk {outcome.chunk_id}")
    seen: set[int] = set()
    keep: list[int] = []
    for index, outcome in enumerate(outcomes):
        if outcome.chunk_id not in seen:
            seen.add(outcome.chunk_id)
            keep.append(index)
    return keep


def outcome_target(outcome: ChunkOutcome) -> ChunkState:
    """The chunk state an accepted outcome leads to (from running)."""
    if outcome.kind == OutcomeKind.SUCCEEDED:
        target = ChunkState.SUCCEEDED
    elif outcome.kind == OutcomeKind.CANCELLED:
        target = ChunkState.CANCELLED
    elif outcome.dead and outcome.kind != OutcomeKind.RELEASED:
        target = ChunkState.DEAD
    else:
        target = ChunkState.PENDING
    assert target in CHUNK_TRANSITIONS[ChunkState.RUNNING]
    return target


def outcome_event(outcome: ChunkOutcome) -> str:
    """The event kind written for an accepted outcome."""
    target = outcome_target(outcome)
    if target == ChunkState.SUCCEEDED:
        return EventKind.CHUNK_SUCCEEDED
    if target == ChunkState.CANCELLED:
        return EventKind.CHUNK_CANCELLED
    if target == ChunkState.DEAD:
        return EventKind.CHUNK_DEAD
    if outcome.kind == OutcomeKind.RELEASED:
        return EventKind.CHUNK_RELEASED
    return EventKind.CHUNK_FAILED if outcome.kind == OutcomeKind.FAILED else EventKind.CHUNK_LOST


def outcome_detail(owner: str, outcome: ChunkOutcome) -> dict[str, Any]:
    """The ``detail`` of an outcome's event: what happened, not the whole record."""
    detail: dict[str, Any] = {
        "owner": owner,
        "fencing_token": outcome.fencing_token,
        "outcome": outcome.kind,
        "duration": outcome.duration,
    }
    if outcome.worker is not None:
        detail["worker"] = outcome.worker
    if outcome.kind == OutcomeKind.SUCCEEDED:
        detail.update(
            rows_in=outcome.rows_in,
            rows_out=outcome.rows_out,
            rows_rejected=outcome.rows_rejected,
            bytes_out=outcome.bytes_out,
            part_file=outcome.part_file,
        )
    if outcome.error is not None:
        detail["error"] = outcome.error
    if outcome.kind == OutcomeKind.FAILED and not outcome.dead:
        detail["retry_delay"] = outcome.retry_delay
    return detail


def outcome_row(owner: str, outcome: ChunkOutcome) -> dict[str, Any]:
    """An outcome as the complete queries of both dialects read it (the SQLite
    query binds the keys by name, PostgreSQL reads a JSON array of these)."""
    return {
        "id": outcome.chunk_id,
        "token": outcome.fencing_token,
        "kind": outcome.kind,
        "target": outcome_target(outcome).value,
        "delay": max(float(outcome.retry_delay), 0.0),
        "rows_in": outcome.rows_in,
        "rows_out": outcome.rows_out,
        "rows_rejected": outcome.rows_rejected,
        "bytes_out": outcome.bytes_out,
        "checksum": outcome.checksum,
        "part_file": outcome.part_file,
        "error": outcome.error,
        "duration": float(outcome.duration),
        "worker": outcome.worker,
        "event": outcome_event(outcome),
        "detail": outcome_detail(owner, outcome),
        "result": outcome.result or None,  # SQLite binds it as JSON text
    }


def job_state_detail(
    source: JobState, target: JobState, error: str | None, extra: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``detail`` of a ``job_state`` event."""
    detail: dict[str, Any] = {"from": source.value, "to": target.value}
    if error is not None:
        detail["error"] = error
    detail.update(extra or {})
    return detail


def state_values(states: Iterable[Any]) -> list[str]:
    """Plain strings for SQL parameters, in a stable order."""
    return sorted(str(getattr(s, "value", s)) for s in states)


def lease_owner(row: Row) -> LeaseOwner:
    age = row["heartbeat_age"]
    return LeaseOwner(
        owner=row["owner"],
        chunks=int(row["chunks"]),
        host=row["host"],
        pid=None if row["pid"] is None else int(row["pid"]),
        heartbeat_age=None if age is None else float(age),
    )


def queue_info(row: Row) -> QueueInfo:
    limit = row["concurrency_limit"]
    return QueueInfo(
        name=row["name"],
        paused=bool(row["paused"]),
        concurrency_limit=None if limit is None else int(limit),
        pending=int(row["pending"]),
        running=int(row["running"]),
        jobs_active=int(row["jobs_active"]),
    )


def check_queue_args(limit: int | None = None, since: float | None = None) -> None:
    """A queue limit is at least 1 (pause a queue to stop it); a window is positive."""
    if limit is not None and limit < 1:
        raise ValueError(f"a queue's concurrency limit is at least 1, not {limit}")
    if since is not None and not since > 0:
        raise ValueError(f"a stats window is a positive number of seconds, not {since}")


def queue_stats(
    name: str, since: float, gate: Row | None, counts: Iterable[Row], waits: Row, flow: Row
) -> QueueStats:
    """Fold the rows of the queue stats queries (the queue's row or None, chunk
    counts per priority, waits, attempt flow) into a record."""
    depth = {priority: 0 for priority in sorted(Priority, reverse=True)}
    running = dead = 0
    for row in counts:
        depth[Priority(row["priority"])] += int(row["pending"])
        running += int(row["running"])
        dead += int(row["dead"])
    limit = None if gate is None else gate["concurrency_limit"]
    return QueueStats(
        queue=name,
        since=float(since),
        paused=bool(gate["paused"]) if gate is not None else False,
        concurrency_limit=None if limit is None else int(limit),
        depth=depth,
        running=running,
        dead=dead,
        leased=int(waits["n"]),
        wait_avg=None if waits["mean"] is None else float(waits["mean"]),
        wait_p95=None if waits["p95"] is None else float(waits["p95"]),
        succeeded=int(flow["succeeded"]),
        rows=int(flow["rows_in"]),
        failed=int(flow["failed"]),
        ended=int(flow["ended"]),
        retries=int(flow["retries"]),
    )


def check_replannable(job_id: int, state: JobState) -> None:
    """Replan only a job whose output was never published (not succeeded)."""
    if state in (JobState.SUCCEEDED, JobState.ROLLED_BACK, JobState.UPSTREAM_FAILED):
        raise IllegalTransition(f"job {job_id} is {state.value}; it cannot be replanned")


def check_nothing_running(job_id: int, owners: Iterable[Row]) -> None:
    """Replan refuses while a coordinator holds chunks of the job."""
    held = [f"{row['owner']} ({row['n']} chunk(s))" for row in owners]
    if held:
        raise IllegalTransition(
            f"job {job_id} has chunks running under {', '.join(held)}; stop that run "
            "(or wait for its leases to expire) before replanning"
        )


def replan_detail(
    old_hash: str, new_hash: str, dropped: int, succeeded: int, planned: int
) -> dict[str, Any]:
    """The ``detail`` of a ``job_replanned`` event."""
    return {
        "old_spec_hash": old_hash,
        "spec_hash": new_hash,
        "chunks_dropped": dropped,
        "succeeded_dropped": succeeded,
        "chunks": planned,
    }


def rejected_detail(owner: str, outcome: ChunkOutcome, fence: Row) -> dict[str, Any]:
    """The ``detail`` of a ``chunk_commit_rejected`` event (SQLite; PostgreSQL
    builds the same object in SQL)."""
    return {
        "owner": owner,
        "fencing_token": outcome.fencing_token,
        "outcome": outcome.kind,
        "chunk_state": fence["state"],
        "current_token": fence["fencing_token"],
        "lease_owner": fence["lease_owner"],
    }
