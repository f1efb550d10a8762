"""The lease order at equal priority (store/fairshare.py): jobs take turns."""

from __future__ import annotations

from orchestrator.store.fairshare import fair_quotas, lease_fairly


def test_quotas_even_out_running_chunks() -> None:
    assert fair_quotas(4, [0, 0]) == [2, 2]
    assert fair_quotas(4, [3, 0]) == [1, 3]  # 3 running: the other catches up first
    assert fair_quotas(3, [1, 0, 0]) == [1, 1, 1]
    assert fair_quotas(1, [0, 0], served=[5, 0]) == [0, 1]  # a tie: fewer served first
    assert fair_quotas(0, [0]) == [0] and fair_quotas(3, []) == []


def test_lease_fairly_interleaves_and_keeps_priorities() -> None:
    pending = {1: 5, 2: 5, 3: 1, 4: 9}
    jobs = [
        {"id": 4, "priority": 30, "running": 0, "served": 0},  # HIGH, one chunk asked
        {"id": 1, "priority": 20, "running": 0, "served": 0},
        {"id": 2, "priority": 20, "running": 0, "served": 0},
        {"id": 3, "priority": 20, "running": 0, "served": 0},
    ]
    pending[4] = 1

    def lease_job(job: dict[str, int], n: int) -> list[tuple[int, int]]:
        k = min(n, pending[job["id"]])
        pending[job["id"]] -= k
        return [(job["id"], i) for i in range(k)]

    got = lease_fairly(jobs, 7, lease_job)
    assert [job for job, _ in got] == [4, 1, 2, 3, 1, 2, 1]
