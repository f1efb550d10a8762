"""Which coordinators run which job (migration 0007), on both backends: what
`status` uses to call a running job `interrupted`."""

from __future__ import annotations

from orchestrator.store.base import Store
from tests.contract.test_store_contract import running_job


def test_links_follow_the_coordinators_that_run_a_job(store: Store) -> None:
    a, b = running_job(store, n=2), running_job(store, n=2, name="other")
    store.coordinator_heartbeat("c1", [], 30.0)
    store.coordinator_heartbeat("c2", [], 30.0)
    assert store.job_coordinators([a, b]) == {}
    store.link_coordinator_job("c1", a)
    store.link_coordinator_job("c1", a)  # twice is once
    store.link_coordinator_job("c2", a)
    store.link_coordinator_job("c2", b)
    linked = store.job_coordinators([a, b])
    assert sorted(c.owner for c in linked[a]) == ["c1", "c2"]
    assert [c.owner for c in linked[b]] == ["c2"]
    assert all(c.heartbeat_age is not None and c.heartbeat_age < 30 for c in linked[a])
    store.unlink_coordinator_job("c2", a)
    assert [c.owner for c in store.job_coordinators([a])[a]] == ["c1"]
    store.deregister_coordinator("c2")  # its links go with it
    assert store.job_coordinators([b]) == {}
    store.reclaim_owner("c1", "proved gone")  # a peer proved it gone: links go too
    assert store.job_coordinators([a, b]) == {}


def test_a_link_without_a_registered_coordinator_is_not_a_runner(store: Store) -> None:
    job = running_job(store, n=1)
    store.link_coordinator_job("never-registered", job)
    assert store.job_coordinators([job]) == {}
