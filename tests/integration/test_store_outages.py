"""A PostgreSQL store under trouble: sessions killed, the pool exhausted. Every
failure surfaces as StoreUnavailable, fast and bounded, and the next call
works again once the server does (what the coordinator's StoreGuard relies on)."""

from __future__ import annotations

import threading
import time

from orchestrator.errors import StoreUnavailable
from orchestrator.store import open_store
from orchestrator.store.postgres import POOL_MAX_SIZE
from tests.contract.test_store_contract import running_job
from tests.fault.harness import terminate_backends


def test_terminated_sessions_fail_one_call_then_recover(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        job_id = running_job(store, 2)
        store.lease_chunks("me", [job_id], 1, 60)
        assert terminate_backends(pg_url) >= 1
        failures = 0
        for _ in range(POOL_MAX_SIZE + 1):  # each pooled connection fails once at most
            try:
                held = store.coordinator_heartbeat("me", [], 60)
                break
            except StoreUnavailable as exc:
                assert "PostgreSQL" in str(exc)
                failures += 1
        assert failures >= 1 and len(held) == 1
    finally:
        store.close()


def test_an_exhausted_pool_is_unavailable_not_a_hang(pg_url: str) -> None:
    store = open_store(pg_url)
    store._pool.timeout = 0.5  # type: ignore[attr-defined]  # POOL_TIMEOUT_S is 10 s
    release = threading.Event()
    taken = threading.Barrier(POOL_MAX_SIZE + 1)

    def hog() -> None:
        with store._pool.connection():  # type: ignore[attr-defined]
            taken.wait(timeout=10)
            release.wait(timeout=10)

    hogs = [threading.Thread(target=hog) for _ in range(POOL_MAX_SIZE)]
    try:
        for thread in hogs:
            thread.start()
        taken.wait(timeout=10)
        started = time.monotonic()
        try:
            store.coordinator_heartbeat("me", [], 60)
            raise AssertionError("a call on an exhausted pool should not succeed")
        except StoreUnavailable as exc:
            assert "connections busy" in str(exc)
        assert time.monotonic() - started < 5
        release.set()
        for thread in hogs:
            thread.join(timeout=10)
        assert store.coordinator_heartbeat("me", [], 60) == {}
    finally:
        release.set()
        store.close()
