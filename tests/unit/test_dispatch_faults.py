"""The small pieces of fault handling, without processes: the store guard's
backoff, test hooks, proof that a coordinator is gone, and the ledger's
bookkeeping of what each ending costs a chunk."""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dispatch.hooks import TestHooks, installed
from orchestrator.dispatch.ledger import Ledger, Task
from orchestrator.dispatch.recovery import gone_reason, pid_alive
from orchestrator.dispatch.storeguard import BACKOFF_MAX_SECONDS, StoreGuard
from orchestrator.errors import JobctlError, StoreUnavailable
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.store.base import ChunkOutcome, Lease, LeaseOwner, OutcomeKind


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def down() -> None:
    raise StoreUnavailable("server closed the connection")


def test_store_guard_backs_off_then_recovers() -> None:
    clock = Clock()
    guard = StoreGuard(max_outage=60, clock=clock, rng=random.Random(1))
    assert guard.attempt(lambda: 7) == (True, 7)
    assert guard.attempt(down) == (False, None) and guard.down
    assert not guard.ready()  # the gate is closed: the loop skips store work
    assert guard.attempt(lambda: 1) == (False, None)
    waits = []
    for _ in range(12):
        clock.now = guard.retry_at
        waits.append(guard.backoff)
        guard.attempt(down)
    assert waits == sorted(waits) and max(waits) == BACKOFF_MAX_SECONDS
    clock.now = guard.retry_at
    assert guard.attempt(lambda: 2) == (True, 2)
    assert guard.recovered and not guard.down and len(guard.outages) == 1


def test_store_guard_gives_up_after_the_longest_outage() -> None:
    clock = Clock()
    guard = StoreGuard(max_outage=10, clock=clock)
    guard.attempt(down)
    clock.now += 11
    with pytest.raises(StoreUnavailable, match="unavailable for 11 s"):
        guard.attempt(down)


def test_store_guard_insists_within_a_deadline() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            down()
        return "ok"

    guard = StoreGuard()
    assert guard.insist(flaky, deadline=float("inf")) == "ok" and len(calls) == 3
    with pytest.raises(StoreUnavailable):
        StoreGuard().insist(down, deadline=0.0)


def test_test_hooks_are_parsed_not_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert TestHooks.parse([]) == TestHooks()
    assert TestHooks.parse(["hold_commit=2.5"]).hold_commit == 2.5
    with pytest.raises(JobctlError, match="unknown hook 'hold'"):
        TestHooks.parse(["hold=1"])
    with pytest.raises(JobctlError, match="needs a number"):
        TestHooks.parse(["hold_commit=soon"])
    monkeypatch.setenv("JOBCTL_TEST_HOOKS", "hold_commit=3")  # the old way: ignored
    assert installed() == TestHooks()


def test_a_coordinator_is_gone_only_with_proof() -> None:
    def owner(host: str | None, pid: int | None) -> LeaseOwner:
        return LeaseOwner("h:1:x", 3, host, pid, None if host is None else 1.0)

    dead_pid = 2**22 + 12345  # above pid_max on common systems
    assert not pid_alive(dead_pid) and pid_alive(1)
    assert "not registered" in (gone_reason(owner(None, None), "me", "h") or "")
    assert "no longer exists" in (gone_reason(owner("h", dead_pid), "me", "h") or "")
    assert gone_reason(owner("h", 1), "me", "h") is None  # alive (or pid reused)
    assert gone_reason(owner("other", dead_pid), "me", "h") is None  # cannot check there
    assert gone_reason(owner(None, None), "h:1:x", "h") is None  # never ourselves


class FakeSlot:
    def __init__(self, index: int) -> None:
        self.slot = index
        self.known_jobs: set[str] = set()
        self.name = f"local-{index}"


class FakeJob:
    def __init__(self) -> None:
        from orchestrator.spec.model import RetryPolicy

        self.running = 0
        self.key = "k"
        self.spec = type("Spec", (), {"retries": RetryPolicy(max_attempts=3)})()


def make_task(ledger: Ledger, slot: Any, chunk_id: int, job: Any) -> Task:
    descriptor = ChunkDescriptor(chunk_id, "sequence", None, 0, 1, 0)
    lease = Lease(chunk_id, 1, chunk_id, 5, 0, 0, descriptor.to_dict(), None)
    task = Task(f"t{chunk_id}", lease, job, slot, 0.0)
    ledger.add(task, 0.0)
    return task


def test_ledger_charges_only_the_running_chunk_of_a_dead_worker() -> None:
    ledger = Ledger(random.Random(0))
    slot, job = FakeSlot(0), FakeJob()
    ledger.queues[0] = deque()
    tasks = [make_task(ledger, slot, i, job) for i in (1, 2, 3)]
    assert job.running == 3 and tasks[0].started_at == 0.0
    ledger.end_queue(slot, "worker lost", "never started")  # type: ignore[arg-type]
    kinds = [(p.outcome.chunk_id, p.outcome.kind) for p in ledger.pending]
    assert kinds == [(1, OutcomeKind.LOST), (2, OutcomeKind.RELEASED), (3, OutcomeKind.RELEASED)]
    assert job.running == 0 and not ledger.tasks and not ledger.queues[0]


def test_ledger_reconciles_with_what_the_store_holds() -> None:
    ledger = Ledger(random.Random(0))
    slot, job = FakeSlot(0), FakeJob()
    ledger.queues[0] = deque()
    kept, lost = make_task(ledger, slot, 1, job), make_task(ledger, slot, 2, job)
    gone = ledger.reconcile({1: 5, 9: 4})  # 2 lost; 9 held without our knowing
    assert gone == [lost] and kept.task_id in ledger.tasks
    [stray] = ledger.pending
    assert (stray.outcome.chunk_id, stray.outcome.kind, stray.task) == (
        9,
        OutcomeKind.RELEASED,
        None,
    )


def test_a_rejected_commit_keeps_its_file_when_an_earlier_try_may_have_won(
    tmp_path: Path,
) -> None:
    class Store:
        def __init__(self) -> None:
            self.fail = True

        def complete_chunks(self, owner: str, outcomes: list[ChunkOutcome]) -> list[bool]:
            if self.fail:
                self.fail = False
                raise StoreUnavailable("connection lost during COMMIT")
            return [False] * len(outcomes)  # the first try did commit: now stale

    ledger = Ledger(random.Random(0))
    slot, job = FakeSlot(0), FakeJob()
    ledger.queues[0] = deque()
    part = tmp_path / "part-00001.attempt-5.parquet"
    part.write_text("committed by the first try")
    task = make_task(ledger, slot, 1, job)
    ledger.take(slot, task.task_id, 1.0)  # type: ignore[arg-type]
    ledger.succeed(task, {"ok": True, "part_file": str(part)})
    store = Store()
    with pytest.raises(StoreUnavailable):
        ledger.flush(store, "me", 1.0)  # type: ignore[arg-type]
    assert ledger.pending[0].uncertain
    ledger.flush(store, "me", 1.0)  # type: ignore[arg-type]
    assert part.exists() and not ledger.pending


def test_a_background_commit_keeps_its_outcomes_pending_until_settled() -> None:
    import threading

    class Store:
        def __init__(self) -> None:
            self.release = threading.Event()
            self.fail = True
            self.calls: list[list[int]] = []

        def complete_chunks(self, owner: str, outcomes: list[ChunkOutcome]) -> list[bool]:
            self.release.wait(5)
            self.calls.append([o.chunk_id for o in outcomes])
            if self.fail:
                self.fail = False
                raise StoreUnavailable("connection lost during COMMIT")
            return [True] * len(outcomes)

    ledger = Ledger(random.Random(0))
    slot, job = FakeSlot(0), FakeJob()
    ledger.queues[0] = deque()
    job.done = job.rows_in = job.rows_out = 0  # type: ignore[attr-defined]
    first, second = make_task(ledger, slot, 1, job), make_task(ledger, slot, 2, job)
    ledger.take(slot, first.task_id, 1.0)  # type: ignore[arg-type]
    ledger.succeed(first, {"ok": True})
    store = Store()
    try:
        ledger.flush(store, "me", 1.0, background=True)  # type: ignore[arg-type]
        assert ledger.committing and ledger.waiting() == 0
        ledger.take(slot, second.task_id, 1.0)  # type: ignore[arg-type]
        ledger.succeed(second, {"ok": True})  # arrives while the commit runs
        # still pending while in flight: renewed by heartbeats, the job not over
        assert len(ledger.pending) == 2 and ledger.waiting() == 1
        assert {c for c, _ in ledger.renewals(lambda s: True, 1.0)} == {1, 2}
        ledger.settle(wait=False)  # not done yet: nothing changes
        assert ledger.committing
        store.release.set()
        with pytest.raises(StoreUnavailable):
            ledger.settle(wait=True)
        assert [p.uncertain for p in ledger.pending] == [True, False]
        ledger.flush(store, "me", 1.0, background=True)  # type: ignore[arg-type]
        ledger.settle(wait=True)
        assert store.calls == [[1], [1, 2]] and not ledger.pending
        assert job.done == 2  # type: ignore[attr-defined]
    finally:
        store.release.set()
        ledger.close()


def test_a_background_commit_wakes_the_loop_when_it_answered() -> None:
    """``on_committed`` runs once the commit answered, never before (the loop
    waiting in select() is woken to take the answer in, and a job's end is
    seen without waiting for select()'s timeout)."""
    import threading

    class Store:
        def __init__(self) -> None:
            self.release = threading.Event()

        def complete_chunks(self, owner: str, outcomes: list[ChunkOutcome]) -> list[bool]:
            self.release.wait(5)
            return [True] * len(outcomes)

    woken = threading.Event()
    ledger = Ledger(random.Random(0), on_committed=woken.set)
    slot, job = FakeSlot(0), FakeJob()
    ledger.queues[0] = deque()
    job.done = job.rows_in = job.rows_out = 0  # type: ignore[attr-defined]
    task = make_task(ledger, slot, 1, job)
    ledger.take(slot, task.task_id, 1.0)  # type: ignore[arg-type]
    ledger.succeed(task, {"ok": True})
    store = Store()
    try:
        ledger.flush(store, "me", 1.0, background=True)  # type: ignore[arg-type]
        assert not woken.wait(0.2)  # the commit has not answered yet
        store.release.set()
        assert woken.wait(5)
        ledger.settle(wait=False)
        assert not ledger.committing and not ledger.pending
    finally:
        store.release.set()
        ledger.close()
