"""A serial phase on both stores: one chunk at a time in seq order (a failed
chunk in backoff holds its successors back), its committed result carried to
the next chunk; and the per-phase progress the status shows."""

from __future__ import annotations

from orchestrator.store.base import OutcomeKind, Store
from tests.contract.test_store_contract import outcome, running_job, seq_chunks


def test_a_serial_phase_leases_one_chunk_at_a_time_in_seq_order(store: Store) -> None:
    job_id = running_job(store, 3)
    serial = [(job_id, 0)]
    first = store.lease_chunks("o", [job_id], 10, 30, serial)
    assert [lease.seq for lease in first] == [0]
    assert store.lease_chunks("o2", [job_id], 10, 30, serial) == []  # seq 0 runs
    assert store.carried_state(job_id, 0, 0) is None
    store.complete_chunks("o", [outcome(first[0], result={"state": {"total": 5}})])
    second = store.lease_chunks("o2", [job_id], 10, 30, serial)
    assert [lease.seq for lease in second] == [1]
    assert store.carried_state(job_id, 0, 1) == {"total": 5}
    # a failure in backoff holds the rest back: seq 2 never overtakes seq 1
    store.complete_chunks(
        "o2", [outcome(second[0], OutcomeKind.FAILED, error="boom", retry_delay=60)]
    )
    assert store.lease_chunks("o", [job_id], 10, 30, serial) == []
    # the same job, leased without the serial rule, hands out both
    assert [lease.seq for lease in store.lease_chunks("o", [job_id], 10, 30)] == [2]


def test_results_and_phase_progress(store: Store) -> None:
    job_id = running_job(store, 2)
    leases = store.lease_chunks("o", [job_id], 10, 30)
    store.complete_chunks(
        "o", [outcome(lease, rows_in=10, rows_out=4, result={"value": 7}) for lease in leases]
    )
    assert store.start_phase(job_id, 1, seq_chunks(3, start=2, phase=1), "phase 2/2 reduce")
    assert not store.start_phase(job_id, 1, seq_chunks(3, start=2, phase=1), "again")
    assert [c.result for c in store.list_chunks(job_id)][:2] == [{"value": 7}, {"value": 7}]
    progress = store.phase_progress(job_id)
    assert [(p["phase"], p["chunks"], p["done"], p["rows_in"]) for p in progress] == [
        (0, 2, 2, 20),
        (1, 3, 0, 0),
    ]
