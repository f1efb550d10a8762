"""The trigger-kept chunk counts (migration 0005) agree with the chunk rows,
through every kind of change a job's chunks go through, on both backends."""

from __future__ import annotations

import re
from collections import Counter

from orchestrator.states import ChunkState, JobState
from orchestrator.store.base import ChunkOutcome, OutcomeKind, Store
from tests.contract.test_store_contract import new_job, running_job, seq_chunks


def counted_from_rows(store: Store, job_id: int) -> dict[ChunkState, int]:
    return dict(Counter(ChunkState(c.state) for c in store.list_chunks(job_id)))


def assert_counts_agree(store: Store, job_id: int) -> None:
    progress = store.job_progress(job_id)
    chunks = store.list_chunks(job_id)
    assert progress.chunks == counted_from_rows(store, job_id)
    assert progress.rows_in == sum(c.rows_in or 0 for c in chunks)
    assert progress.rows_out == sum(c.rows_out or 0 for c in chunks)
    assert progress.retries == sum(c.attempts + c.infra_attempts for c in chunks)


def test_counts_follow_every_change(store: Store) -> None:
    job_id = running_job(store, n=50)
    other = running_job(store, n=4, name="other")
    assert_counts_agree(store, job_id)
    # many small statements: enough for PostgreSQL to fold the deltas, more than once
    for _ in range(5):
        for _ in range(4):
            leases = store.lease_chunks("c1", [job_id], 2, 30.0)
            outcomes = [
                ChunkOutcome(
                    leases[0].chunk_id,
                    leases[0].fencing_token,
                    OutcomeKind.SUCCEEDED,
                    rows_in=5,
                    rows_out=3,
                ),
                ChunkOutcome(leases[1].chunk_id, leases[1].fencing_token, OutcomeKind.LOST),
            ]
            assert store.complete_chunks("c1", outcomes) == [True, True]
            assert_counts_agree(store, job_id)
        for _ in range(30):
            store.renew_leases("c1", 30.0)  # statements that change no count
    failed = store.lease_chunks("c1", [job_id], 3, 30.0)
    store.complete_chunks(
        "c1",
        [
            ChunkOutcome(x.chunk_id, x.fencing_token, OutcomeKind.FAILED, error="e", dead=True)
            for x in failed
        ],
    )
    store.lease_chunks("c1", [job_id], 2, 30.0)
    assert store.release_leases("c1", "stop") == 2
    assert_counts_agree(store, job_id)
    progress = store.job_progress(job_id)
    assert progress.chunks[ChunkState.SUCCEEDED] == 20
    assert progress.chunks[ChunkState.DEAD] == 3
    assert progress.rows_out == 60
    assert store.job_progress(other).chunks == {ChunkState.PENDING: 4}

    (queue,) = [q for q in store.list_queues() if q.name == "default"]
    assert (queue.pending, queue.running) == (50 - 20 - 3 + 4, 0)
    stats = store.queue_stats("default", 60.0)
    assert (sum(stats.depth.values()), stats.dead) == (50 - 20 - 3 + 4, 3)

    # a replan drops every chunk and inserts the new plan
    store.set_job_state(job_id, JobState.FAILED, error="stopped")
    store.replan_job(job_id, {"name": "job"}, "hash-2", [], seq_chunks(7))
    assert store.job_progress(job_id).chunks == {ChunkState.PENDING: 7}
    assert_counts_agree(store, job_id)

    # a cancel moves every unfinished chunk
    assert store.cancel_job(other)
    assert store.job_progress(other).chunks == counted_from_rows(store, other)


def test_a_new_store_counts_chunks_submitted_in_bulk(store: Store) -> None:
    job_id, _ = store.submit_job(new_job(name="bulk"), [], seq_chunks(2_500))
    assert store.job_progress(job_id).chunks == {ChunkState.PENDING: 2_500}
    assert store.job_progress(job_id).total == 2_500


def test_chunks_added_later_are_counted_once(store: Store) -> None:
    """Plans insert chunks at submit, when a phase starts and when a job grows;
    each insert counts its own chunks (on SQLite by the statement, migration
    0008), and a phase planned twice adds nothing the second time."""
    job_id = running_job(store, n=3)
    assert store.add_chunks(job_id, seq_chunks(4, start=3)) == 4
    assert_counts_agree(store, job_id)
    assert store.start_phase(job_id, 1, seq_chunks(5, start=7, phase=1), "phase 2/2")
    assert not store.start_phase(job_id, 1, seq_chunks(5, start=7, phase=1), "phase 2/2")
    assert_counts_agree(store, job_id)
    assert store.job_progress(job_id).chunks == {ChunkState.PENDING: 12}
    assert store.add_chunks(job_id, []) == 0
    assert_counts_agree(store, job_id)


def test_sqlite_inserts_chunks_through_the_one_counted_statement() -> None:
    """SQLite has no row trigger on insert (migration 0008): the store counts
    what ``insert_chunk`` inserts. A second statement inserting chunk rows
    would go uncounted, so there is none."""
    from orchestrator.store.queries import load_queries

    inserting = sorted(
        name
        for name, sql in load_queries("sqlite").items()
        if re.search(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+chunks\b", sql, re.IGNORECASE)
    )
    assert inserting == ["insert_chunk"]
