"""The store's fault-tolerance methods, on both backends: coordinator registry
and heartbeats, reclaiming a gone owner's chunks, released outcomes, audit of
rejected commits, the dead-letter queue, replanning; and the reap-vs-commit
race forced in both orders on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from orchestrator.errors import IllegalTransition
from orchestrator.planning.model import InputFile
from orchestrator.states import ChunkState, JobState
from orchestrator.store import open_store
from orchestrator.store.base import ChunkOutcome, OutcomeKind, Store
from orchestrator.store.queries import load_queries
from tests.contract.test_store_contract import chunk, kinds, outcome, running_job, seq_chunks


def test_heartbeat_registers_renews_and_reports_what_is_held(store: Store) -> None:
    job_id = running_job(store, 4)
    a, b, c = store.lease_chunks("me", [job_id], 3, 0.5)
    store.lease_chunks("peer", [job_id], 1, 0.5)
    held = store.coordinator_heartbeat("me", [(a.chunk_id, a.fencing_token)], 300)
    assert held == {x.chunk_id: x.fencing_token for x in (a, b, c)}
    [me] = [o for o in store.lease_owners() if o.owner == "me"]
    actor = store.actor  # type: ignore[attr-defined]
    assert (me.chunks, me.host, me.pid) == (3, actor.host, actor.pid)
    assert me.heartbeat_age is not None and me.heartbeat_age < 5
    time.sleep(0.7)
    assert store.reap_expired() == 3  # b, c (not renewed) and the peer's
    assert chunk(store, job_id, 0).state == ChunkState.RUNNING
    stale = store.coordinator_heartbeat("me", [(b.chunk_id, b.fencing_token)], 300)
    assert stale == {a.chunk_id: a.fencing_token}  # b was lost
    [peer] = [o for o in store.lease_owners() if o.owner == "me"]
    assert peer.chunks == 1
    store.deregister_coordinator("me")
    [unregistered] = store.lease_owners()
    assert unregistered.host is None and unregistered.heartbeat_age is None


def test_renewal_needs_the_current_token(store: Store) -> None:
    job_id = running_job(store, 1)
    first = store.lease_chunks("me", [job_id], 1, 30)[0]
    store.release_leases("me", "test")
    second = store.lease_chunks("me", [job_id], 1, 0.3)[0]
    store.coordinator_heartbeat("me", [(first.chunk_id, first.fencing_token)], 300)
    time.sleep(0.5)
    assert store.reap_expired() == 1  # the old token renewed nothing
    assert store.complete_chunks("me", [outcome(second)]) == [False]


def test_reclaim_owner_returns_its_chunks_at_once(store: Store) -> None:
    job_id = running_job(store, 3)
    store.coordinator_heartbeat("dead", [], 300)
    leases = store.lease_chunks("dead", [job_id], 2, 300)
    assert store.reclaim_owner("dead", "pid 1234 is gone") == 2
    assert store.lease_owners() == []
    reclaimed = store.list_chunks(job_id)[:2]
    assert [(x.state, x.infra_attempts, x.attempts) for x in reclaimed] == [("pending", 1, 0)] * 2
    reaped = [e for e in store.list_events(job_id) if e.kind == "chunk_reaped"]
    assert [e.detail["reason"] for e in reaped] == ["pid 1234 is gone"] * 2
    assert store.complete_chunks("dead", [outcome(x) for x in leases]) == [False, False]


def test_released_outcome_spends_nothing(store: Store) -> None:
    job_id = running_job(store, 1)
    lease = store.lease_chunks("o", [job_id], 1, 30)[0]
    released = outcome(lease, OutcomeKind.RELEASED, error="never started", dead=True)
    assert store.complete_chunks("o", [released]) == [True]
    again = store.lease_chunks("o", [job_id], 1, 30)
    assert [(x.attempts, x.infra_attempts) for x in again] == [(0, 0)]
    assert kinds(store, job_id).count("chunk_released") == 1


def test_rejected_commits_are_audited(store: Store) -> None:
    job_id = running_job(store, 2)
    a, b = store.lease_chunks("o", [job_id], 2, 30)
    store.release_leases("o", "test")
    store.lease_chunks("o2", [job_id], 1, 30)
    assert store.complete_chunks("o", [outcome(a), outcome(b, OutcomeKind.FAILED)]) == [
        False,
        False,
    ]
    rejected = [e for e in store.list_events(job_id) if e.kind == "chunk_commit_rejected"]
    details = sorted((e.chunk_id, e.detail["chunk_state"]) for e in rejected)
    assert details == [(a.chunk_id, "running"), (b.chunk_id, "pending")]
    first = next(e for e in rejected if e.chunk_id == a.chunk_id).detail
    assert (first["owner"], first["fencing_token"], first["current_token"]) == ("o", 1, 2)
    assert first["lease_owner"] == "o2" and first["outcome"] == "succeeded"


def test_dead_letter_queue(store: Store) -> None:
    one = running_job(store, 3, name="one")
    two = running_job(store, 2, name="two")
    for job_id in (one, two):
        leases = store.lease_chunks("o", [job_id], 10, 30)
        dead = [outcome(x, OutcomeKind.FAILED, error=f"bad {x.seq}", dead=True) for x in leases]
        store.complete_chunks("o", [*dead[1:], outcome(leases[0])])
    assert [(c.job_id, c.seq) for c in store.dead_chunks()] == [(one, 1), (one, 2), (two, 1)]
    assert [c.seq for c in store.dead_chunks(one, limit=1)] == [1]
    assert store.requeue_chunk_seqs(one, [ChunkState.DEAD], [2]) == 1
    assert store.requeue_chunk_seqs(one, [ChunkState.DEAD], [0]) == 0  # succeeded: untouched
    assert chunk(store, one, 2).state == ChunkState.PENDING
    assert store.purge_dead(one) == 1
    assert chunk(store, one, 1).state == ChunkState.CANCELLED
    purged = [e for e in store.list_events(one) if e.kind == "chunk_purged"]
    assert [e.detail["error"] for e in purged] == ["bad 1"]
    assert store.purge_dead(one) == 0
    assert [(c.job_id, c.seq) for c in store.dead_chunks()] == [(two, 1)]


def test_replan_replaces_the_plan(store: Store) -> None:
    job_id = running_job(store, 3)
    old = store.list_chunks(job_id)
    first = store.lease_chunks("o", [job_id], 1, 30)[0]
    store.complete_chunks("o", [outcome(first)])
    running = store.lease_chunks("o", [job_id], 1, 30)
    with pytest.raises(IllegalTransition, match="running under o"):
        store.replan_job(job_id, {"name": "job"}, "hash-2", [], seq_chunks(2))
    store.release_leases("o", "test")
    inputs = [InputFile("/data/new.csv", "csv", 10, 1, "s")]
    assert store.replan_job(job_id, {"name": "job", "v": 2}, "hash-2", inputs, seq_chunks(2)) == 3
    record = store.get_job(job_id)
    assert (record.spec_hash, record.spec) == ("hash-2", {"name": "job", "v": 2})
    new = store.list_chunks(job_id)
    assert [(c.seq, c.state) for c in new] == [(0, "pending"), (1, "pending")]
    assert not {c.id for c in new} & {c.id for c in old}
    assert store.job_inputs(job_id) == inputs
    [event] = [e for e in store.list_events(job_id) if e.kind == "job_replanned"]
    assert event.detail["succeeded_dropped"] == 1 and event.detail["chunks_dropped"] == 3
    assert store.complete_chunks("o", [outcome(running[0])]) == [False]  # dropped chunk
    store.set_job_state(job_id, JobState.SUCCEEDED)
    with pytest.raises(IllegalTransition, match="succeeded"):
        store.replan_job(job_id, {}, "h", [], [])


# -- reap vs commit, forced on a real server ----------------------------------------


def test_reap_skips_a_chunk_whose_commit_is_in_flight(pg_url: str) -> None:
    store = open_store(pg_url)
    other = open_store(pg_url)
    try:
        job_id = running_job(store, 1)
        lease = store.lease_chunks("o", [job_id], 1, 0.2)[0]
        time.sleep(0.4)  # expired, but its commit is under way
        committing = psycopg.connect(pg_url)
        batch = _outcome_batch(store, lease)
        committing.execute(load_queries("postgres")["complete_chunks"], batch)  # row locked
        assert other.reap_expired() == 0  # SKIP LOCKED: not reverted under the commit
        committing.commit()
        committing.close()
        assert other.reap_expired() == 0
        done = chunk(store, job_id, 0)
        assert (done.state, done.infra_attempts) == (ChunkState.SUCCEEDED, 0)
    finally:
        store.close()
        other.close()


def test_commit_after_a_reap_in_flight_is_rejected(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        job_id = running_job(store, 1)
        lease = store.lease_chunks("o", [job_id], 1, 0.2)[0]
        time.sleep(0.4)
        reaping = psycopg.connect(pg_url)
        reaping.execute(load_queries("postgres")["return_running"], _reap_params())  # row locked
        result: list[list[bool]] = []
        committer = threading.Thread(
            target=lambda: result.append(store.complete_chunks("o", [outcome(lease)]))
        )
        committer.start()
        time.sleep(0.3)
        assert committer.is_alive(), "the commit waits for the reaper's row lock"
        reaping.commit()
        reaping.close()
        committer.join(timeout=10)
        assert result == [[False]]  # re-checked after the wait: no longer running
        reaped = chunk(store, job_id, 0)
        assert (reaped.state, reaped.infra_attempts) == (ChunkState.PENDING, 1)
        # the audit shows the chunk as the reaper left it, not as the commit began
        [rejected] = [e for e in store.list_events(job_id) if e.kind == "chunk_commit_rejected"]
        assert (rejected.detail["chunk_state"], rejected.detail["lease_owner"]) == ("pending", None)
    finally:
        store.close()


def _reap_params() -> dict[str, Any]:
    """What ``Store.reap_expired`` passes to the one back-to-pending query."""
    reap = {"owner": None, "expired": True, "limit": 10, "outcome": "expired"}
    reap.update(event="chunk_reaped", infra_spent=1, reason="lease expired")
    return {**reap, "user": "t", "host": "h", "pid": 1}


def _outcome_batch(store: Store, lease: Any) -> dict[str, Any]:
    from orchestrator.store import rows

    row = rows.outcome_row("o", ChunkOutcome(lease.chunk_id, lease.fencing_token, "succeeded"))
    return {"batch": rows.dump_json([row]), "owner": "o", "user": "t", "host": "h", "pid": 1}
