"""Queues in the store, on both backends: pause and resume, concurrency limits
(also under concurrent coordinators), `queue list` and `queue stats` figures.

A queue without a row is open and unlimited; a paused queue leases nothing
while its running chunks finish; a limit caps the running chunks of a queue's
jobs across every coordinator.
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import threading
import time
from typing import Any

import psycopg
import pytest

from orchestrator.states import ChunkState, JobState, Priority
from orchestrator.store import open_store
from orchestrator.store.base import OutcomeKind, Store
from tests.contract.test_store_contract import new_job, outcome, seq_chunks


def queue_job(
    store: Store,
    queue: str,
    n: int,
    name: str,
    priority: Priority = Priority.NORMAL,
    running: bool = True,
) -> int:
    job = dataclasses.replace(new_job(name=name, priority=priority), queue=queue)
    job_id, _ = store.submit_job(job, [], seq_chunks(n))
    if running:
        store.set_job_state(job_id, JobState.RUNNING)
    return job_id


def queue_events(url: str) -> list[tuple[str, dict[str, Any]]]:
    """The queue events, read with the bare driver (they belong to no job)."""
    query = "SELECT kind, detail FROM events WHERE kind LIKE 'queue%' ORDER BY id"
    if url.startswith("sqlite:"):
        import json

        conn = sqlite3.connect(url[len("sqlite://") :])
        try:
            return [(k, json.loads(d)) for k, d in conn.execute(query).fetchall()]
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return [(k, d) for k, d in pg.execute(query).fetchall()]


def queue_info(store: Store, name: str) -> Any:
    return next(q for q in store.list_queues() if q.name == name)


def test_paused_queue_leases_nothing_until_resumed(store_url: str) -> None:
    store = open_store(store_url)
    try:
        bulk = queue_job(store, "bulk", 4, "bulk", Priority.HIGH)
        etl = queue_job(store, "etl", 3, "etl")
        early = store.lease_chunks("o", [bulk, etl], 1, 30)  # bulk is HIGH: it comes first
        assert [x.job_id for x in early] == [bulk]

        assert store.pause_queue("bulk") is True
        assert store.pause_queue("bulk") is False  # paused already: no change, no event
        leased = store.lease_chunks("o", [bulk, etl], 10, 30)
        assert {x.job_id for x in leased} == {etl} and len(leased) == 3
        assert store.lease_chunks("o", [bulk, etl], 10, 30) == []
        # a running chunk of a paused queue finishes
        assert store.complete_chunks("o", [outcome(early[0])]) == [True]
        info = queue_info(store, "bulk")
        assert (info.paused, info.pending, info.running, info.jobs_active) == (True, 3, 0, 1)

        assert store.resume_queue("bulk") is True
        assert store.resume_queue("bulk") is False
        assert store.resume_queue("never-paused") is False  # no row: open already
        again = store.lease_chunks("o", [bulk, etl], 10, 30)
        assert [x.seq for x in again] == [1, 2, 3] and {x.job_id for x in again} == {bulk}
        assert not queue_info(store, "bulk").paused
        assert queue_events(store_url) == [
            ("queue_paused", {"queue": "bulk"}),
            ("queue_resumed", {"queue": "bulk"}),
        ]
    finally:
        store.close()


def test_queue_paused_before_it_has_jobs(store: Store) -> None:
    assert store.pause_queue("later")
    info = queue_info(store, "later")
    assert (info.paused, info.concurrency_limit, info.pending, info.jobs_active) == (
        True,
        None,
        0,
        0,
    )
    job_id = queue_job(store, "later", 2, "j")
    assert store.lease_chunks("o", [job_id], 5, 30) == []
    store.resume_queue("later")
    assert len(store.lease_chunks("o", [job_id], 5, 30)) == 2


def test_queue_limit_caps_running_chunks(store_url: str) -> None:
    store = open_store(store_url)
    try:
        low = queue_job(store, "q", 5, "low", Priority.LOW)
        high = queue_job(store, "q", 5, "high", Priority.HIGH)
        free = queue_job(store, "free", 4, "free")
        jobs = [low, high, free]
        assert store.set_queue_limit("q", 3) is True
        assert store.set_queue_limit("q", 3) is False

        first = store.lease_chunks("o", jobs, 100, 30)
        in_q = [x for x in first if x.job_id != free]
        assert [(x.job_id, x.seq) for x in in_q] == [(high, 0), (high, 1), (high, 2)]
        assert len(first) == 3 + 4  # the other queue is not limited
        assert store.lease_chunks("o", jobs, 100, 30) == []
        assert queue_info(store, "q").running == 3

        store.complete_chunks("o", [outcome(in_q[0])])
        one = store.lease_chunks("o", jobs, 100, 30)
        assert [(x.job_id, x.seq) for x in one] == [(high, 3)]

        # lowered below what runs: nothing more until enough finished
        assert store.set_queue_limit("q", 1)
        assert store.lease_chunks("o", jobs, 100, 30) == []
        store.complete_chunks("o", [outcome(x) for x in [*in_q[1:], *one]])
        assert [(x.job_id, x.seq) for x in store.lease_chunks("o", jobs, 100, 30)] == [(high, 4)]

        assert store.set_queue_limit("q", None) is True  # no limit
        rest = store.lease_chunks("o", jobs, 100, 30)
        assert [(x.job_id, x.seq) for x in rest] == [(low, s) for s in range(5)]
        assert queue_info(store, "q").concurrency_limit is None

        with pytest.raises(ValueError, match="at least 1"):
            store.set_queue_limit("q", 0)
        assert queue_events(store_url) == [
            ("queue_limit", {"queue": "q", "from": None, "to": 3}),
            ("queue_limit", {"queue": "q", "from": 3, "to": 1}),
            ("queue_limit", {"queue": "q", "from": 1, "to": None}),
        ]
    finally:
        store.close()


def test_paused_and_limited_queue_leases_nothing(store: Store) -> None:
    job_id = queue_job(store, "q", 3, "j")
    store.set_queue_limit("q", 2)
    store.pause_queue("q")
    assert store.lease_chunks("o", [job_id], 10, 30) == []
    store.resume_queue("q")
    assert len(store.lease_chunks("o", [job_id], 10, 30)) == 2


LIMIT = 3


def test_queue_limit_holds_across_concurrent_coordinators(store_url: str) -> None:
    """Four coordinators lease from one limited queue (two jobs) at once while
    an observer reads the running count: it never exceeds the limit, and
    every chunk runs exactly once."""
    setup = open_store(store_url)
    jobs = [queue_job(setup, "q", 40, f"j{i}") for i in range(2)]
    setup.set_queue_limit("q", LIMIT)
    stores = [open_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores) + 1)
    taken: list[list[int]] = [[] for _ in stores]
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def coordinator(index: int) -> None:
        rng = random.Random(index)
        try:
            barrier.wait(timeout=10)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                leases = stores[index].lease_chunks(f"c{index}", jobs, 2, 30)
                if not leases:
                    progress = [setup.job_progress(j).chunks for j in jobs]
                    if all(p == {ChunkState.SUCCEEDED: 40} for p in progress):
                        return
                    time.sleep(0.001)
                    continue
                taken[index] += [x.chunk_id for x in leases]
                time.sleep(rng.uniform(0, 0.004))
                stores[index].complete_chunks(f"c{index}", [outcome(x) for x in leases])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def observer() -> None:
        barrier.wait(timeout=10)
        while not done.is_set():
            seen.append(queue_info(setup, "q").running)

    threads = [threading.Thread(target=coordinator, args=(i,)) for i in range(len(stores))]
    watcher = threading.Thread(target=observer)
    try:
        for t in [*threads, watcher]:
            t.start()
        for t in threads:
            t.join(timeout=90)
        done.set()
        watcher.join(timeout=10)
        assert not errors, errors
        every = [chunk_id for ids in taken for chunk_id in ids]
        assert len(every) == len(set(every)) == 80
        assert seen and max(seen) <= LIMIT
        assert sum(1 for ids in taken if ids) >= 2  # several coordinators took part
    finally:
        for s in [*stores, setup]:
            s.close()


def test_queue_stats(store: Store) -> None:
    normal = queue_job(store, "s", 4, "normal")
    high = queue_job(store, "s", 3, "high", Priority.HIGH)
    queue_job(store, "s", 2, "low", Priority.LOW, running=False)  # submitted, not started
    queue_job(store, "other", 2, "other")
    h0, h1, h2, n0, n1 = store.lease_chunks("o", [normal, high], 5, 30)
    assert [(x.job_id, x.seq) for x in (h0, h1, h2, n0, n1)] == [
        (high, 0),
        (high, 1),
        (high, 2),
        (normal, 0),
        (normal, 1),
    ]
    store.complete_chunks(
        "o",
        [
            outcome(h0, rows_in=10),
            outcome(h1, OutcomeKind.FAILED, error="boom"),
            outcome(h2, OutcomeKind.LOST, error="host lost"),
            outcome(n0, rows_in=5),
            outcome(n1, OutcomeKind.FAILED, error="bad", dead=True),
        ],
    )
    again = store.lease_chunks("o", [normal, high], 10, 30)
    assert [(x.job_id, x.seq) for x in again] == [(high, 1), (high, 2), (normal, 2), (normal, 3)]
    store.complete_chunks("o", [outcome(again[0], rows_in=7)])

    stats = store.queue_stats("s", 3600)
    assert stats.depth == {
        Priority.URGENT: 0,
        Priority.HIGH: 0,
        Priority.NORMAL: 0,
        Priority.LOW: 2,
    }
    assert (stats.running, stats.dead, stats.paused, stats.concurrency_limit) == (3, 1, False, None)
    flow = (stats.succeeded, stats.rows, stats.failed, stats.ended, stats.retries)
    assert flow == (3, 22, 2, 6, 2)
    assert stats.chunks_per_hour == pytest.approx(3.0)
    assert stats.rows_per_hour == pytest.approx(22.0)
    assert stats.failure_rate == pytest.approx(2 / 6)

    # the waits, from the events: job submitted -> the chunk's first lease
    waits = []
    for job_id in (normal, high):
        events = store.list_events(job_id)
        submitted = next(e.at for e in events if e.kind == "job_submitted")
        first: dict[int, Any] = {}
        for e in events:
            if e.kind == "chunk_leased" and e.chunk_id is not None:
                first.setdefault(e.chunk_id, e.at)
        waits += [(at - submitted).total_seconds() for at in first.values()]
    assert stats.leased == len(waits) == 7
    assert stats.wait_avg == pytest.approx(sum(waits) / 7, abs=1e-3)
    assert stats.wait_p95 == pytest.approx(max(waits), abs=1e-3)  # rank ceil(0.95 * 7) = 7

    info = queue_info(store, "s")
    assert (info.pending, info.running, info.jobs_active) == (2, 3, 3)

    time.sleep(0.05)  # a window that ended before now holds none of it
    quiet = store.queue_stats("s", 0.01)
    assert (quiet.leased, quiet.succeeded, quiet.ended, quiet.retries) == (0, 0, 0, 0)
    assert quiet.wait_avg is None and quiet.wait_p95 is None and quiet.failure_rate is None
    assert (quiet.running, quiet.dead, quiet.depth[Priority.LOW]) == (3, 1, 2)

    unknown = store.queue_stats("nobody", 60)
    assert (unknown.leased, unknown.running, sum(unknown.depth.values())) == (0, 0, 0)
    with pytest.raises(ValueError, match="positive"):
        store.queue_stats("s", 0)
