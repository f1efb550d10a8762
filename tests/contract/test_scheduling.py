"""The store's part in scheduling, on both backends: dependencies, the jobs a
serve takes on, the one coordinator that settles a job, priority changes, and
(PostgreSQL) the LISTEN channel that wakes a serve."""

from __future__ import annotations

import dataclasses
import selectors
import time

import pytest

from orchestrator.errors import IllegalTransition
from orchestrator.states import JobState, Priority
from orchestrator.store import open_store
from orchestrator.store.base import Store
from tests.contract.test_store_contract import new_job, seq_chunks


def submit(
    store: Store,
    name: str,
    upstream: tuple[int, ...] = (),
    priority: Priority = Priority.NORMAL,
    queue: str = "default",
) -> int:
    job = dataclasses.replace(
        new_job(name=name, priority=priority), queue=queue, upstream_ids=upstream
    )
    job_id, created = store.submit_job(job, [], seq_chunks(2))
    assert created
    return job_id


def fail(store: Store, job_id: int) -> None:
    store.set_job_state(job_id, JobState.RUNNING)
    store.set_job_state(job_id, JobState.FAILED, error="boom")


def test_upstream_failure_cascades_down_the_graph(store: Store) -> None:
    extract = submit(store, "extract")
    transform = submit(store, "transform", (extract,))
    load = submit(store, "load", (transform,))
    other = submit(store, "other")
    assert [u[1:] for u in store.upstream_jobs(load)] == [("transform", JobState.PENDING)]
    assert store.runnable_jobs(None) == [extract, other]  # the others wait
    assert store.fail_blocked_jobs() == []
    fail(store, extract)
    assert sorted(store.fail_blocked_jobs()) == [transform, load]
    states = {r.id: r for r in store.get_jobs([transform, load, other])}
    assert states[transform].state == JobState.UPSTREAM_FAILED
    assert "extract (failed)" in (states[transform].error or "")
    assert "transform (upstream_failed)" in (states[load].error or "")
    assert states[other].state == JobState.PENDING
    events = [e for e in store.list_events(load) if e.kind == "job_state"]
    assert events[-1].detail["to"] == "upstream_failed"


def test_runnable_jobs_by_queue_priority_then_age(store: Store) -> None:
    low = submit(store, "low", priority=Priority.LOW)
    first = submit(store, "first")
    urgent = submit(store, "urgent", priority=Priority.URGENT, queue="etl")
    second = submit(store, "second")
    assert store.runnable_jobs(None) == [urgent, first, second, low]
    assert store.runnable_jobs(["default"]) == [first, second, low]
    store.cancel_job(first)
    assert store.runnable_jobs(["default", "etl"]) == [urgent, second, low]


def test_one_coordinator_at_a_time_settles_a_job(store: Store) -> None:
    job_id = submit(store, "settle")
    assert not store.claim_settlement(job_id, "a", 60)  # pending: nothing to settle
    store.set_job_state(job_id, JobState.RUNNING)
    assert store.claim_settlement(job_id, "a", 60)
    assert not store.claim_settlement(job_id, "b", 60)
    assert store.claim_settlement(job_id, "a", 60)  # its own claim, renewed
    assert store.claim_settlement(job_id, "a", 0.01)
    time.sleep(0.05)
    assert store.claim_settlement(job_id, "b", 60)  # a's claim lapsed
    # every state change ends a claim: a resumed job is anyone's to settle again
    store.set_job_state(job_id, JobState.FAILED, error="x")
    store.set_job_state(job_id, JobState.RUNNING)
    assert store.claim_settlement(job_id, "a", 60)


def test_a_claim_is_taken_from_a_named_claimant_and_its_holder_is_known(store: Store) -> None:
    job_id = submit(store, "takeover")
    store.set_job_state(job_id, JobState.RUNNING)
    assert store.settlement_holder(job_id) is None
    store.coordinator_heartbeat("a", [], 300)
    assert store.claim_settlement(job_id, "a", 60)
    holder = store.settlement_holder(job_id)
    actor = store.actor  # type: ignore[attr-defined]
    assert holder is not None
    assert (holder.owner, holder.chunks, holder.host, holder.pid) == ("a", 0, actor.host, actor.pid)
    assert not store.claim_settlement(job_id, "b", 60, take_from="c")  # not the holder
    assert store.claim_settlement(job_id, "b", 60, take_from="a")
    holder = store.settlement_holder(job_id)
    assert holder is not None and (holder.owner, holder.host) == ("b", None)  # b never registered


def test_priority_of_queued_and_running_jobs_only(store: Store) -> None:
    job_id = submit(store, "later")
    changed = store.set_job_priority(job_id, Priority.URGENT)
    assert changed.priority == Priority.URGENT
    [event] = [e for e in store.list_events(job_id) if e.kind == "job_priority"]
    assert event.detail == {"from": "NORMAL", "to": "URGENT"}
    store.cancel_job(job_id)
    with pytest.raises(IllegalTransition, match="cancelled"):
        store.set_job_priority(job_id, Priority.LOW)


def test_a_submit_wakes_a_listener(pg_url: str) -> None:
    listening = open_store(pg_url)
    submitting = open_store(pg_url)
    listener = listening.listen()
    assert listener is not None
    try:
        assert listener.drain() == 0
        selector = selectors.DefaultSelector()
        selector.register(listener.fileno(), selectors.EVENT_READ)
        submit(submitting, "wake")
        assert selector.select(timeout=10), "no notification within 10 s"
        assert listener.drain() >= 1
        selector.close()
    finally:
        listener.close()
        listening.close()
        submitting.close()


def test_sqlite_has_no_listener(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        assert store.listen() is None  # a serve polls
    finally:
        store.close()
