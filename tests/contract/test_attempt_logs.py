"""Attempt logs in the store (migration 0004), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from orchestrator.store.attempt_logs import KEEP_PER_CHUNK, AttemptLog
from orchestrator.store.base import Store
from tests.contract.test_store_contract import new_job, seq_chunks


def _log(job_id: int, chunk_id: int, seq: int, attempt: int, **kwargs: object) -> AttemptLog:
    fields: dict[str, object] = {"outcome": "failed", "output": f"attempt {attempt}\n"}
    fields.update(kwargs)
    return AttemptLog(
        job_id=job_id,
        chunk_id=chunk_id,
        seq=seq,
        attempt=attempt,
        fencing_token=attempt,
        **fields,  # type: ignore[arg-type]
    )


def test_logs_round_trip_filtered_by_chunk_and_attempt(store: Store) -> None:
    job_id, _ = store.submit_job(new_job(), [], seq_chunks(3))
    ids = {c.seq: c.id for c in store.list_chunks(job_id)}
    store.save_attempt_logs(
        [
            _log(job_id, ids[1], 1, 1, error="E: x", traceback="Traceback\nE: x", worker="w"),
            _log(job_id, ids[1], 1, 2, outcome="succeeded", output_bytes=99),
            _log(job_id, ids[2], 2, 1),
        ]
    )
    # a batch sent again after an uncertain commit keeps one row per attempt
    store.save_attempt_logs([_log(job_id, ids[2], 2, 1)])
    everything = store.attempt_logs(job_id)
    assert [(log.seq, log.attempt) for log in everything] == [(1, 1), (1, 2), (2, 1)]
    [first] = store.attempt_logs(job_id, seq=1, attempt=1)
    assert (first.error, first.traceback, first.worker) == ("E: x", "Traceback\nE: x", "w")
    assert first.output == "attempt 1\n" and first.created_at is not None
    [second] = store.attempt_logs(job_id, seq=1, attempt=2)
    assert (second.outcome, second.output_bytes) == ("succeeded", 99)
    assert [log.attempt for log in store.attempt_logs(job_id, seq=1)] == [1, 2]
    assert store.attempt_logs(job_id, after_id=everything[1].id) == [everything[2]]


def test_only_the_newest_logs_of_a_chunk_are_kept(store: Store) -> None:
    job_id, _ = store.submit_job(new_job(), [], seq_chunks(1))
    [chunk] = store.list_chunks(job_id)
    total = KEEP_PER_CHUNK + 3
    for attempt in range(1, total + 1):
        store.save_attempt_logs([_log(job_id, chunk.id, 0, attempt)])
    kept = [log.attempt for log in store.attempt_logs(job_id)]
    assert kept == list(range(4, total + 1))
