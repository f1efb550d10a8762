"""The store contract: one suite, run unchanged against SQLite and PostgreSQL.

Every test takes the ``store`` (or ``store_url``) fixture, parametrized over
both backends. Waits are bounded: leases in the expiry tests last 0.2 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC
from typing import Any

import pytest

from orchestrator.errors import IllegalTransition, NotFound, StoreError, StoreUnavailable
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.states import ChunkState, JobState, Priority
from orchestrator.store import open_store
from orchestrator.store.base import Actor, ChunkOutcome, Lease, NewJob, OutcomeKind, Store


def new_job(name: str = "job", run_key: str = "k1", priority: Priority = Priority.NORMAL) -> NewJob:
    return NewJob(
        name=name,
        run_key=run_key,
        spec={"name": name, "params": {"x": [1, 2]}},
        spec_hash="hash-" + name,
        priority=priority,
        queue="default",
        output_path="/out/" + name,
        source_file="jobs.yaml",
    )


def seq_chunks(n: int, start: int = 0, phase: int = 0) -> list[ChunkDescriptor]:
    return [
        ChunkDescriptor(
            seq=i, kind="sequence", path=None, start=i, stop=i + 1, est_rows=1, phase=phase
        )
        for i in range(start, start + n)
    ]


def running_job(store: Store, n: int = 5, **kwargs: Any) -> int:
    job_id, _ = store.submit_job(new_job(**kwargs), [], seq_chunks(n))
    store.set_job_state(job_id, JobState.RUNNING)
    return job_id


def outcome(lease: Lease, kind: str = OutcomeKind.SUCCEEDED, **kwargs: Any) -> ChunkOutcome:
    return ChunkOutcome(lease.chunk_id, lease.fencing_token, kind, **kwargs)


def chunk(store: Store, job_id: int, seq: int) -> Any:
    return next(c for c in store.list_chunks(job_id) if c.seq == seq)


def kinds(store: Store, job_id: int) -> list[str]:
    return [e.kind for e in store.list_events(job_id)]


# -- jobs -------------------------------------------------------------------------


def test_submit_round_trip(store: Store) -> None:
    inputs = [InputFile("/data/a.parquet", "parquet", 1234, 99, "abc")]
    chunks = [
        ChunkDescriptor(0, "parquet", "/data/a.parquet", 0, 100, 100, row_groups=(0, 1)),
        ChunkDescriptor(1, "csv", "/data/b.csv", 10, 500, 40, header="a,b\n", phase=1),
    ]
    job_id, created = store.submit_job(new_job(priority=Priority.HIGH), inputs, chunks)
    assert created
    job = store.get_job(job_id)
    assert (job.name, job.run_key, job.state, job.priority) == ("job", "k1", "pending", 2)
    assert job.spec == {"name": "job", "params": {"x": [1, 2]}}
    assert (job.spec_hash, job.output_path) == ("hash-job", "/out/job")
    assert job.source_file == "jobs.yaml"
    assert job.created_at.tzinfo == UTC and job.started_at is None and job.finished_at is None
    assert store.find_job("job", "k1") == job
    assert store.find_job("job") == job
    assert store.find_job("job", "other") is None and store.find_job("nope") is None
    assert store.job_inputs(job_id) == inputs
    listed = store.list_chunks(job_id)
    assert [c.descriptor for c in listed] == chunks
    assert [c.phase for c in listed] == [0, 1]
    assert all(c.state == ChunkState.PENDING and c.fencing_token == 0 for c in listed)
    assert all(c.updated_at.tzinfo == UTC for c in listed)
    progress = store.job_progress(job_id)
    assert progress.state == JobState.PENDING and progress.chunks == {ChunkState.PENDING: 2}
    assert (progress.total, progress.done, progress.rows_out, progress.retries) == (2, 0, 0, 0)
    with pytest.raises(NotFound):
        store.get_job(job_id + 1000)
    with pytest.raises(NotFound):
        store.job_progress(job_id + 1000)


def test_list_jobs_newest_first_and_by_state(store: Store) -> None:
    ids = [store.submit_job(new_job(run_key=f"k{i}"), [], seq_chunks(1))[0] for i in range(3)]
    store.set_job_state(ids[1], JobState.RUNNING)
    assert [j.id for j in store.list_jobs()] == ids[::-1]
    assert [j.id for j in store.list_jobs(limit=2)] == ids[:0:-1]
    assert [j.id for j in store.list_jobs([JobState.RUNNING])] == [ids[1]]
    assert store.find_job("job") == store.get_job(ids[2])  # newest of the name


def test_submit_is_idempotent(store: Store) -> None:
    first = store.submit_job(new_job(), [], seq_chunks(3))
    again = store.submit_job(new_job(), [], seq_chunks(7))
    assert first == (first[0], True) and again == (first[0], False)
    assert len(store.list_chunks(first[0])) == 3
    assert kinds(store, first[0]) == ["job_submitted"]
    other, created = store.submit_job(new_job(run_key="k2"), [], seq_chunks(1))
    assert created and other != first[0]


def test_concurrent_submit_from_threads_creates_one_job(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []

    def submit(s: Store) -> None:
        barrier.wait(timeout=10)
        results.append(s.submit_job(new_job(name="race"), [], seq_chunks(200)))

    threads = [threading.Thread(target=submit, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(results) == 2
        assert sorted(created for _, created in results) == [False, True]
        assert results[0][0] == results[1][0]
        assert len(stores[0].list_chunks(results[0][0])) == 200
        assert len(stores[0].list_jobs()) == 1
    finally:
        for s in stores:
            s.close()


SUBMIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from orchestrator.planning.model import ChunkDescriptor
    from orchestrator.states import Priority
    from orchestrator.store import open_store
    from orchestrator.store.base import NewJob

    store = open_store(sys.argv[1])
    job = NewJob("proc-race", "k", {}, "h", Priority.NORMAL, "default", None, None)
    chunks = [ChunkDescriptor(i, "sequence", None, i, i + 1, 1) for i in range(500)]
    print("ready", flush=True)
    sys.stdin.readline()  # "go": both processes submit at the same moment
    print(json.dumps(store.submit_job(job, [], chunks)), flush=True)
    store.close()
    """
)


def test_concurrent_submit_from_processes_creates_one_job(store_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMIT_SCRIPT, store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sorted(created for _, created in outputs) == [False, True]
    assert outputs[0][0] == outputs[1][0]
    store = open_store(store_url)
    try:
        assert len(store.list_chunks(outputs[0][0])) == 500
        assert [j.name for j in store.list_jobs()] == ["proc-race"]
    finally:
        store.close()


def test_set_job_state_timestamps_and_events(store: Store) -> None:
    job_id, _ = store.submit_job(new_job(), [], seq_chunks(1))
    running = store.set_job_state(job_id, JobState.RUNNING, detail={"reason": "test"})
    assert running.state == JobState.RUNNING and running.started_at is not None
    failed = store.set_job_state(job_id, JobState.FAILED, error="2 chunks dead")
    assert failed.error == "2 chunks dead" and failed.finished_at is not None
    resumed = store.set_job_state(job_id, JobState.RUNNING)
    assert resumed.error is None and resumed.finished_at is None
    assert resumed.started_at == running.started_at
    events = [e for e in store.list_events(job_id) if e.kind == "job_state"]
    assert [(e.detail["from"], e.detail["to"]) for e in events] == [
        ("pending", "running"),
        ("running", "failed"),
        ("failed", "running"),
    ]
    assert events[0].detail["reason"] == "test" and events[1].detail["error"] == "2 chunks dead"


def test_illegal_job_transition_changes_nothing(store: Store) -> None:
    job_id, _ = store.submit_job(new_job(), [], seq_chunks(1))
    with pytest.raises(IllegalTransition, match="pending"):
        store.set_job_state(job_id, JobState.SUCCEEDED)
    assert store.get_job(job_id).state == JobState.PENDING
    assert kinds(store, job_id) == ["job_submitted"]
    with pytest.raises(NotFound):
        store.set_job_state(job_id + 1000, JobState.RUNNING)


def test_events_carry_the_actor(store_url: str) -> None:
    actor = Actor(user="alice", host="node-7", pid=4242)
    store = open_store(store_url, actor=actor)
    try:
        job_id = running_job(store, 1)
        store.lease_chunks("owner-a", [job_id], 1, 30)
        store.record_event("note", job_id=job_id, detail={"text": "hi"})
        events = store.list_events(job_id)
        assert [e.kind for e in events] == ["job_submitted", "job_state", "chunk_leased", "note"]
        assert {(e.actor_user, e.actor_host, e.actor_pid) for e in events} == {
            ("alice", "node-7", 4242)
        }
        assert events[-1].detail == {"text": "hi"} and events[0].at.tzinfo == UTC
        assert [e.kind for e in store.list_events(job_id, limit=2)] == kinds(store, job_id)[:2]
    finally:
        store.close()
    default = open_store(store_url)
    try:
        default.record_event("note", job_id=job_id)
        last = default.list_events(job_id)[-1]
        me = Actor.current()
        assert (last.actor_user, last.actor_host, last.actor_pid) == (me.user, me.host, me.pid)
    finally:
        default.close()


# -- leasing ----------------------------------------------------------------------


def test_lease_order_priority_then_fair_share_then_job_age(store: Store) -> None:
    """Strict priority; at equal priority jobs take turns by running chunks
    (store/fairshare.py), the older job first on a tie."""
    older = running_job(store, 3, run_key="older")
    urgent = running_job(store, 2, run_key="urgent", priority=Priority.URGENT)
    newer = running_job(store, 2, run_key="newer")
    low = running_job(store, 2, run_key="low", priority=Priority.LOW)
    jobs = [low, newer, older, urgent]
    first = store.lease_chunks("o", jobs, 3, 30)
    assert [(x.job_id, x.seq) for x in first] == [(urgent, 0), (urgent, 1), (older, 0)]
    rest = store.lease_chunks("o", jobs, 100, 30)
    assert [(x.job_id, x.seq) for x in rest] == [
        (newer, 0),
        (older, 1),
        (newer, 1),
        (older, 2),
        (low, 0),
        (low, 1),
    ]
    assert store.lease_chunks("o", jobs, 100, 30) == []


def test_lease_marks_running_and_respects_filter_and_job_state(store: Store) -> None:
    mine = running_job(store, 3, run_key="mine")
    other = running_job(store, 3, run_key="other")
    pending_job, _ = store.submit_job(new_job(run_key="pending"), [], seq_chunks(3))
    assert store.lease_chunks("o", [pending_job], 10, 30) == []
    assert store.lease_chunks("o", [mine], 0, 30) == [] and store.lease_chunks("o", [], 5, 30) == []
    leases = store.lease_chunks("o", [mine], 2, 30)
    assert [(x.job_id, x.seq, x.fencing_token, x.attempts) for x in leases] == [
        (mine, 0, 1, 0),
        (mine, 1, 1, 0),
    ]
    assert leases[0].descriptor == seq_chunks(1)[0] and leases[0].checkpoint is None
    first = chunk(store, mine, 0)
    assert first.state == ChunkState.RUNNING and first.lease_owner == "o"
    assert first.lease_expires_at is not None and first.lease_expires_at.tzinfo == UTC
    assert store.job_progress(other).chunks == {ChunkState.PENDING: 3}
    leased_events = [e for e in store.list_events(mine) if e.kind == "chunk_leased"]
    assert [(e.chunk_id, e.detail) for e in leased_events] == [
        (x.chunk_id, {"owner": "o", "fencing_token": 1}) for x in leases
    ]


def test_concurrent_coordinators_lease_disjoint_chunks(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(3)]
    job_id = running_job(stores[0], 300)
    barrier = threading.Barrier(3)
    taken: list[list[int]] = [[] for _ in stores]

    def coordinator(index: int) -> None:
        barrier.wait(timeout=10)
        while leases := stores[index].lease_chunks(f"c{index}", [job_id], 10, 30):
            taken[index] += [x.chunk_id for x in leases]
            stores[index].complete_chunks(f"c{index}", [outcome(x) for x in leases])

    threads = [threading.Thread(target=coordinator, args=(i,)) for i in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        every = [chunk_id for ids in taken for chunk_id in ids]
        assert len(every) == len(set(every)) == 300
        assert stores[0].job_progress(job_id).chunks == {ChunkState.SUCCEEDED: 300}
    finally:
        for s in stores:
            s.close()


def test_failed_chunk_waits_for_its_backoff(store: Store) -> None:
    job_id = running_job(store, 2)
    a, b = store.lease_chunks("o", [job_id], 2, 30)
    done = store.complete_chunks(
        "o",
        [
            outcome(a, OutcomeKind.FAILED, error="boom", retry_delay=60),
            outcome(b, OutcomeKind.FAILED, error="bang", retry_delay=0.2),
        ],
    )
    assert done == [True, True]
    failed = chunk(store, job_id, 0)
    assert (failed.state, failed.attempts, failed.error, failed.lease_owner) == (
        ChunkState.PENDING,
        1,
        "boom",
        None,
    )
    assert store.lease_chunks("o", [job_id], 10, 30) == []
    deadline = time.monotonic() + 5
    again: list[Lease] = []
    while not again and time.monotonic() < deadline:
        time.sleep(0.1)
        again = store.lease_chunks("o", [job_id], 10, 30)
    assert [(x.seq, x.attempts, x.fencing_token) for x in again] == [(1, 1, 2)]
    assert kinds(store, job_id).count("chunk_failed") == 2


# -- completing -------------------------------------------------------------------


def test_succeeded_outcome_is_recorded(store: Store) -> None:
    job_id = running_job(store, 2)
    lease = store.lease_chunks("o", [job_id], 1, 30)[0]
    result = outcome(
        lease, rows_in=10, rows_out=8, rows_rejected=2, bytes_out=640, checksum="c1",
        part_file="part-00000.attempt-1.parquet", duration=1.5, worker="w1",
    )  # fmt: skip
    assert store.complete_chunks("o", [result]) == [True]
    done = chunk(store, job_id, 0)
    assert done.state == ChunkState.SUCCEEDED and done.lease_owner is None
    assert (done.rows_in, done.rows_out, done.rows_rejected, done.bytes_out) == (10, 8, 2, 640)
    assert (done.checksum, done.part_file) == ("c1", "part-00000.attempt-1.parquet")
    progress = store.job_progress(job_id)
    assert progress.chunks == {ChunkState.SUCCEEDED: 1, ChunkState.PENDING: 1}
    assert (progress.done, progress.rows_in, progress.rows_out, progress.rows_rejected) == (
        1,
        10,
        8,
        2,
    )
    assert progress.bytes_out == 640
    event = store.list_events(job_id)[-1]
    assert event.kind == "chunk_succeeded" and event.chunk_id == lease.chunk_id
    assert event.detail["rows_out"] == 8 and event.detail["worker"] == "w1"
    assert store.complete_chunks("o", [result]) == [False]  # a second commit is rejected


def test_stale_fencing_token_is_rejected_and_changes_nothing(store: Store) -> None:
    job_id = running_job(store, 1)
    first = store.lease_chunks("o", [job_id], 1, 30)[0]
    before = chunk(store, job_id, 0)
    stale = ChunkOutcome(first.chunk_id, first.fencing_token + 1, OutcomeKind.SUCCEEDED, rows_out=5)
    assert store.complete_chunks("o", [stale]) == [False]
    assert chunk(store, job_id, 0) == before
    assert store.release_leases("o", "test") == 1
    second = store.lease_chunks("o2", [job_id], 1, 30)[0]
    assert second.fencing_token == first.fencing_token + 1
    late = outcome(first, rows_out=1, part_file="part-00000.attempt-1.parquet")
    assert store.complete_chunks("o", [late]) == [False]
    assert chunk(store, job_id, 0).state == ChunkState.RUNNING
    assert chunk(store, job_id, 0).part_file is None
    assert store.complete_chunks("o2", [outcome(second, part_file="p2")]) == [True]
    assert chunk(store, job_id, 0).part_file == "p2"


def test_complete_batch_mixes_accepted_and_rejected(store: Store) -> None:
    job_id = running_job(store, 4)
    a, b, c, d = store.lease_chunks("o", [job_id], 4, 30)
    stale = ChunkOutcome(b.chunk_id, b.fencing_token + 5, OutcomeKind.SUCCEEDED)
    batch = [outcome(a), stale, outcome(c, OutcomeKind.FAILED, error="x"), outcome(a), outcome(d)]
    assert store.complete_chunks("o", batch) == [True, False, True, False, True]
    states = [x.state for x in store.list_chunks(job_id)]
    assert states == [ChunkState.SUCCEEDED, ChunkState.RUNNING, ChunkState.PENDING, "succeeded"]
    assert store.complete_chunks("o", []) == []
    with pytest.raises(ValueError, match="unknown outcome"):
        store.complete_chunks("o", [outcome(b, "exploded")])


def test_dead_outcomes(store: Store) -> None:
    job_id = running_job(store, 2)
    a, b = store.lease_chunks("o", [job_id], 2, 30)
    assert store.complete_chunks(
        "o",
        [
            outcome(a, OutcomeKind.FAILED, error="bad row", dead=True),
            outcome(b, OutcomeKind.LOST, error="host gone", dead=True),
        ],
    ) == [True, True]
    dead = store.list_chunks(job_id, [ChunkState.DEAD])
    assert [(x.seq, x.attempts, x.infra_attempts, x.error) for x in dead] == [
        (0, 1, 0, "bad row"),
        (1, 0, 1, "host gone"),
    ]
    assert store.job_progress(job_id).chunks == {ChunkState.DEAD: 2}
    assert kinds(store, job_id)[-2:] == ["chunk_dead", "chunk_dead"]
    assert store.lease_chunks("o", [job_id], 10, 30) == []


def test_lost_does_not_spend_attempts(store: Store) -> None:
    job_id = running_job(store, 1)
    lease = store.lease_chunks("o", [job_id], 1, 30)[0]
    lost = outcome(lease, OutcomeKind.LOST, error="worker died", retry_delay=60)
    assert store.complete_chunks("o", [lost]) == [True]
    again = store.lease_chunks("o", [job_id], 1, 30)  # at once, no backoff
    assert [(x.attempts, x.infra_attempts) for x in again] == [(0, 1)]
    assert "chunk_lost" in kinds(store, job_id)
    assert store.job_progress(job_id).retries == 1


def test_cancelled_outcome(store: Store) -> None:
    job_id = running_job(store, 1)
    lease = store.lease_chunks("o", [job_id], 1, 30)[0]
    assert store.complete_chunks("o", [outcome(lease, OutcomeKind.CANCELLED)]) == [True]
    assert chunk(store, job_id, 0).state == ChunkState.CANCELLED
    assert kinds(store, job_id)[-1] == "chunk_cancelled"


# -- leases over time ---------------------------------------------------------------


def test_release_leases_returns_chunks_without_penalty(store: Store) -> None:
    job_id = running_job(store, 3)
    store.lease_chunks("o", [job_id], 2, 30)
    store.lease_chunks("other", [job_id], 1, 30)
    assert store.release_leases("o", "coordinator stopping") == 2
    assert store.release_leases("o", "again") == 0
    pending = store.list_chunks(job_id, [ChunkState.PENDING])
    assert [(x.seq, x.attempts, x.infra_attempts, x.lease_owner) for x in pending] == [
        (0, 0, 0, None),
        (1, 0, 0, None),
    ]
    released = [e for e in store.list_events(job_id) if e.kind == "chunk_released"]
    assert [e.detail["reason"] for e in released] == ["coordinator stopping"] * 2
    assert chunk(store, job_id, 2).lease_owner == "other"


def test_renew_leases_extends_expiry(store: Store) -> None:
    job_id = running_job(store, 2)
    store.lease_chunks("o", [job_id], 1, 0.5)
    store.lease_chunks("p", [job_id], 1, 0.5)
    before = chunk(store, job_id, 0).lease_expires_at
    assert before is not None
    assert store.renew_leases("o", 300) == 1
    after = chunk(store, job_id, 0).lease_expires_at
    assert after is not None and (after - before).total_seconds() > 250
    time.sleep(0.7)
    assert store.reap_expired() == 1  # only p's lease expired
    assert chunk(store, job_id, 0).state == ChunkState.RUNNING
    assert store.renew_leases("nobody", 300) == 0


def test_reap_expired_returns_chunks_to_pending(store: Store) -> None:
    job_id = running_job(store, 2)
    leases = store.lease_chunks("o", [job_id], 2, 0.2)
    assert store.reap_expired() == 0
    time.sleep(0.5)
    assert store.reap_expired(limit=1) == 1
    assert store.reap_expired() == 1
    assert store.reap_expired() == 0
    reaped = store.list_chunks(job_id)
    assert [(x.state, x.attempts, x.infra_attempts) for x in reaped] == [("pending", 0, 1)] * 2
    events = [e for e in store.list_events(job_id) if e.kind == "chunk_reaped"]
    assert len(events) == 2 and events[0].detail["owner"] == "o"
    assert store.complete_chunks("o", [outcome(x) for x in leases]) == [False, False]
    again = store.lease_chunks("o2", [job_id], 2, 30)
    assert [x.fencing_token for x in again] == [2, 2]


def test_reap_never_reverts_a_committed_chunk(store: Store) -> None:
    job_id = running_job(store, 1)
    lease = store.lease_chunks("o", [job_id], 1, 0.2)[0]
    assert store.complete_chunks("o", [outcome(lease, rows_out=3)]) == [True]
    time.sleep(0.4)
    assert store.reap_expired() == 0
    done = chunk(store, job_id, 0)
    assert (done.state, done.infra_attempts, done.rows_out) == (ChunkState.SUCCEEDED, 0, 3)


def test_save_checkpoint_needs_the_current_token(store: Store) -> None:
    job_id = running_job(store, 1)
    lease = store.lease_chunks("o", [job_id], 1, 30)[0]
    state = {"offset": 1200, "partial": ["a", "b"]}
    assert store.save_checkpoint(lease.chunk_id, lease.fencing_token, state)
    assert not store.save_checkpoint(lease.chunk_id, lease.fencing_token + 1, {"x": 1})
    assert chunk(store, job_id, 0).checkpoint == state
    store.release_leases("o", "preempted")
    again = store.lease_chunks("o", [job_id], 1, 30)[0]
    assert again.checkpoint == state
    assert not store.save_checkpoint(lease.chunk_id, lease.fencing_token, {"late": True})
    assert chunk(store, job_id, 0).checkpoint == state


# -- resume, cancel, growth -----------------------------------------------------------


def test_requeue_chunks_for_resume(store: Store) -> None:
    job_id = running_job(store, 4)
    a, b, c, _ = store.lease_chunks("o", [job_id], 4, 30)
    store.complete_chunks(
        "o",
        [
            outcome(a),
            outcome(b, OutcomeKind.FAILED, error="x", dead=True),
            outcome(c, OutcomeKind.CANCELLED),
        ],
    )
    store.set_job_state(job_id, JobState.FAILED, error="dead chunks")
    states = [ChunkState.DEAD, ChunkState.CANCELLED, ChunkState.FAILED, ChunkState.SUCCEEDED]
    assert store.requeue_chunks(job_id, states) == 2
    assert store.requeue_chunks(job_id, [ChunkState.SUCCEEDED]) == 0
    listed = store.list_chunks(job_id)
    assert [x.state for x in listed] == ["succeeded", "pending", "pending", "running"]
    assert (listed[1].attempts, listed[1].error) == (0, None)
    requeued = [e for e in store.list_events(job_id) if e.kind == "chunk_requeued"]
    assert sorted(e.detail["from"] for e in requeued) == ["cancelled", "dead"]
    store.set_job_state(job_id, JobState.RUNNING, detail={"reason": "resume"})
    assert [x.seq for x in store.lease_chunks("o", [job_id], 10, 30)] == [1, 2]


def test_cancel_job_is_idempotent_and_rejects_late_commits(store: Store) -> None:
    job_id = running_job(store, 4)
    a, b = store.lease_chunks("o", [job_id], 2, 30)
    store.complete_chunks("o", [outcome(a)])
    assert store.cancel_job(job_id) is True
    job = store.get_job(job_id)
    assert job.state == JobState.CANCELLED and job.finished_at is not None
    assert [x.state for x in store.list_chunks(job_id)] == ["succeeded"] + ["cancelled"] * 3
    assert store.complete_chunks("o", [outcome(b)]) == [False]
    assert store.cancel_job(job_id) is False
    assert kinds(store, job_id).count("job_cancelled") == 1
    assert kinds(store, job_id).count("chunk_cancelled") == 3
    assert store.lease_chunks("o", [job_id], 10, 30) == []
    with pytest.raises(NotFound):
        store.cancel_job(job_id + 1000)
    done, _ = store.submit_job(new_job(run_key="done"), [], seq_chunks(1))
    store.set_job_state(done, JobState.CANCELLED)
    assert store.cancel_job(done) is False


def test_add_chunks_to_a_running_job(store: Store) -> None:
    job_id = running_job(store, 2)
    assert store.add_chunks(job_id, seq_chunks(3, start=2, phase=1)) == 3
    listed = store.list_chunks(job_id)
    assert [(x.seq, x.phase) for x in listed] == [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1)]
    assert len(store.lease_chunks("o", [job_id], 10, 30)) == 5
    assert kinds(store, job_id)[2] == "chunks_added"
    assert store.list_chunks(job_id, [ChunkState.RUNNING], limit=2)[1].seq == 1
    with pytest.raises(NotFound):
        store.add_chunks(job_id + 1000, seq_chunks(1))
    with pytest.raises(StoreError):
        store.add_chunks(job_id, seq_chunks(1))  # seq 0 exists
    assert len(store.list_chunks(job_id)) == 5


def test_progress_counts_every_state(store: Store) -> None:
    job_id = running_job(store, 6)
    leases = store.lease_chunks("o", [job_id], 4, 30)
    store.complete_chunks(
        "o",
        [
            outcome(leases[0], rows_in=5, rows_out=4, rows_rejected=1, bytes_out=10),
            outcome(leases[1], rows_in=7, rows_out=7, bytes_out=20),
            outcome(leases[2], OutcomeKind.FAILED, error="e", dead=True),
        ],
    )
    p = store.job_progress(job_id)
    assert p.chunks == {"succeeded": 2, "dead": 1, "running": 1, "pending": 2}
    assert (p.total, p.done, p.rows_in, p.rows_out, p.rows_rejected, p.bytes_out, p.retries) == (
        6,
        2,
        12,
        11,
        1,
        30,
        1,
    )


# -- schema and connectivity ------------------------------------------------------------


def test_schema_version_is_latest(store: Store) -> None:
    current, latest = store.schema_version()
    assert current == latest >= 1
    assert store.upgrade() == []


def test_unreachable_postgres_fails_fast_without_password() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://u:secretpw@127.0.0.1:1/x")
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "secretpw" not in message and "127.0.0.1" in message
    assert "secretpw" not in repr(info.value.__cause__) and info.value.__cause__ is None
