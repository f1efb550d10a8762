"""A model-based test of leases: random sequences of lease / heartbeat /
expire / reap / commit (current or stale token, every outcome kind) /
release / reclaim / cancel / resume / DLQ retry against the real store, on
both backends, compared after every step with a plain in-memory model.

Expiry is made deterministic by renewing a lease with a negative duration
(the database clock still decides what has expired).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from orchestrator.states import ChunkState, JobState
from orchestrator.store import open_store
from orchestrator.store.base import ChunkOutcome, OutcomeKind, Store
from tests.contract.test_store_contract import new_job, seq_chunks

CHUNKS = 4
OWNERS = ("a", "b")
LONG = 3600.0


@dataclass
class Chunk:
    id: int
    state: str = ChunkState.PENDING
    owner: str | None = None
    token: int = 0
    attempts: int = 0
    infra: int = 0
    expired: bool = False


class LeaseModel(RuleBasedStateMachine):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.job_id = 0
        self.chunks: list[Chunk] = []
        self.job_state = JobState.RUNNING
        self.tag = uuid.uuid4().hex[:8]  # examples share the store: owners of our own

    def teardown(self) -> None:
        if self.job_id:  # leave no running chunk for the next example's reaper
            self.store.cancel_job(self.job_id)

    def who(self, owner: str) -> str:
        return f"{owner}-{self.tag}"

    @initialize()
    def new_job(self) -> None:
        job = new_job(name=f"model-{self.tag}")
        self.job_id, _ = self.store.submit_job(job, [], seq_chunks(CHUNKS))
        self.store.set_job_state(self.job_id, JobState.RUNNING)
        self.chunks = [Chunk(c.id) for c in self.store.list_chunks(self.job_id)]

    def held(self, owner: str) -> list[Chunk]:
        return [c for c in self.chunks if c.state == ChunkState.RUNNING and c.owner == owner]

    def to_pending(self, c: Chunk, infra: int = 0) -> None:
        c.state, c.owner, c.expired = ChunkState.PENDING, None, False
        c.infra += infra

    # -- rules ----------------------------------------------------------------------

    @rule(owner=st.sampled_from(OWNERS), limit=st.integers(1, 3))
    def lease(self, owner: str, limit: int) -> None:
        got = self.store.lease_chunks(self.who(owner), [self.job_id], limit, LONG)
        want = []
        if self.job_state == JobState.RUNNING:
            want = [c for c in self.chunks if c.state == ChunkState.PENDING][:limit]
        for c in want:
            c.state, c.owner, c.expired = ChunkState.RUNNING, owner, False
            c.token += 1
        assert [(x.chunk_id, x.fencing_token) for x in got] == [(c.id, c.token) for c in want]

    @rule(owner=st.sampled_from(OWNERS), stale=st.booleans())
    def heartbeat(self, owner: str, stale: bool) -> None:
        mine = self.held(owner)
        leases = [(c.id, c.token - 1 if stale else c.token) for c in mine]
        held = self.store.coordinator_heartbeat(self.who(owner), leases, LONG)
        assert held == {c.id: c.token for c in mine}
        if not stale:
            for c in mine:
                c.expired = False

    @rule(owner=st.sampled_from(OWNERS))
    def expire(self, owner: str) -> None:
        mine = self.held(owner)
        leases = [(c.id, c.token) for c in mine]
        self.store.coordinator_heartbeat(self.who(owner), leases, -1.0)
        for c in mine:
            c.expired = True

    @rule()
    def reap(self) -> None:
        victims = [c for c in self.chunks if c.state == ChunkState.RUNNING and c.expired]
        assert self.store.reap_expired() == len(victims)
        for c in victims:
            self.to_pending(c, infra=1)

    @rule(
        index=st.integers(0, CHUNKS - 1),
        stale=st.booleans(),
        kind=st.sampled_from(
            [
                OutcomeKind.SUCCEEDED,
                OutcomeKind.FAILED,
                OutcomeKind.LOST,
                OutcomeKind.RELEASED,
                OutcomeKind.CANCELLED,
            ]
        ),
        dead=st.booleans(),
    )
    def commit(self, index: int, stale: bool, kind: str, dead: bool) -> None:
        c = self.chunks[index]
        token = c.token - 1 if stale else c.token
        outcome = ChunkOutcome(c.id, token, kind, part_file="p", dead=dead)
        accepted = self.store.complete_chunks(c.owner or "nobody", [outcome]) == [True]
        assert accepted == (c.state == ChunkState.RUNNING and not stale)
        if not accepted:
            return
        c.owner, c.expired = None, False
        if kind == OutcomeKind.SUCCEEDED:
            c.state = ChunkState.SUCCEEDED
        elif kind == OutcomeKind.CANCELLED:
            c.state = ChunkState.CANCELLED
        elif kind == OutcomeKind.RELEASED:
            c.state = ChunkState.PENDING
        else:
            c.attempts += kind == OutcomeKind.FAILED
            c.infra += kind == OutcomeKind.LOST
            c.state = ChunkState.DEAD if dead else ChunkState.PENDING

    @rule(owner=st.sampled_from(OWNERS))
    def release(self, owner: str) -> None:
        mine = self.held(owner)
        assert self.store.release_leases(self.who(owner), "model") == len(mine)
        for c in mine:
            self.to_pending(c)

    @rule(owner=st.sampled_from(OWNERS))
    def reclaim(self, owner: str) -> None:
        mine = self.held(owner)
        assert self.store.reclaim_owner(self.who(owner), "model") == len(mine)
        for c in mine:
            self.to_pending(c, infra=1)

    @rule()
    def cancel(self) -> None:
        changed = self.store.cancel_job(self.job_id)
        assert changed == (self.job_state == JobState.RUNNING)
        if changed:
            self.job_state = JobState.CANCELLED
            for c in self.chunks:
                if c.state in (ChunkState.PENDING, ChunkState.RUNNING):
                    c.state, c.owner, c.expired = ChunkState.CANCELLED, None, False

    @rule()
    def resume(self) -> None:
        states = [ChunkState.DEAD, ChunkState.CANCELLED]
        again = [c for c in self.chunks if c.state in states]
        assert self.store.requeue_chunks(self.job_id, states) == len(again)
        for c in again:
            c.state, c.attempts, c.infra = ChunkState.PENDING, 0, 0
        if self.job_state == JobState.CANCELLED:
            self.store.set_job_state(self.job_id, JobState.RUNNING)
            self.job_state = JobState.RUNNING

    @rule(index=st.integers(0, CHUNKS - 1))
    def dlq_retry(self, index: int) -> None:
        c = self.chunks[index]
        count = self.store.requeue_chunk_seqs(self.job_id, [ChunkState.DEAD], [index])
        assert count == (c.state == ChunkState.DEAD)
        if count:
            c.state, c.attempts, c.infra = ChunkState.PENDING, 0, 0

    # -- the store agrees with the model ---------------------------------------------

    @invariant()
    def same_as_model(self) -> None:
        if not self.chunks:
            return
        got = [
            (c.state, c.lease_owner, c.fencing_token, c.attempts, c.infra_attempts)
            for c in self.store.list_chunks(self.job_id)
        ]
        want = [
            (c.state, c.owner and self.who(c.owner), c.token, c.attempts, c.infra)
            for c in self.chunks
        ]
        assert got == want


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_leases_follow_the_model(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    store = open_store(url)
    try:
        run_state_machine_as_test(
            lambda: LeaseModel(store),
            settings=settings(max_examples=60, stateful_step_count=40, deadline=None),
        )
    finally:
        store.close()
