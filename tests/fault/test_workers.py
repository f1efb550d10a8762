"""Workers killed, paused, or crashing on a poison chunk."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from orchestrator.dispatch.retry import INFRA_MAX_ATTEMPTS
from orchestrator.states import ChunkState
from tests.fault.harness import Scenario, children, scenario_store, send, wait_for


def test_sigkill_of_a_worker_charges_only_its_running_chunk(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    s = scenario_factory(pg_url, chunks=10, params={"seconds": 0.6})
    run = s.run()
    workers = wait_for(lambda: len(children(run.pid)) == 2 and children(run.pid), 30, "workers")
    wait_for(lambda: s.chunk_states().get("running", 0) >= 2, 30, "running chunks")
    time.sleep(0.3)  # well inside a chunk
    send(workers[0], signal.SIGKILL)
    code, err = s.finish(run)
    assert code == 0, err
    report = s.check(expect_events={"chunk_lost"})
    kinds = report.kinds()
    assert kinds["chunk_lost"] == 1  # the chunk it was running
    with scenario_store(s) as store:
        infra = [c.infra_attempts for c in store.list_chunks(s.job_id())]
    assert sorted(infra)[-2:] == [0, 1], "only the running chunk spent an infra attempt"
    assert kinds["chunk_released"] == kinds["chunk_leased"] - report.chunks - 1


def test_sigstop_of_a_worker_past_its_lease(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """A paused worker stops saying it is alive: its chunk's lease is no longer
    renewed, expires, is reaped and runs elsewhere; the paused worker is
    stopped (its lease is lost) and its result never counts."""
    s = scenario_factory(
        pg_url,
        chunks=8,
        params={"seconds": 1.5},
        timeouts="{lease: 2s, heartbeat: 500ms}",
    )
    run = s.run()
    workers = wait_for(lambda: len(children(run.pid)) == 2 and children(run.pid), 30, "workers")
    # both workers warmed up (a chunk done, so the pause hits a worker that is
    # ready and heartbeating, not one still importing), then both busy again
    s.wait_succeeded(1)
    wait_for(lambda: s.chunk_states().get("running", 0) >= 2, 30, "running chunks")
    time.sleep(0.3)
    paused = workers[0]
    send(paused, signal.SIGSTOP)
    try:
        wait_for(lambda: "chunk_reaped" in s.events(), 30, "the paused chunk to be reaped")
        wait_for(lambda: "chunk_lease_lost" in s.events(), 30, "the lease loss to be noticed")
    finally:
        send(paused, signal.SIGCONT)
    code, err = s.finish(run)
    assert code == 0, err
    s.check(expect_events={"worker_silent", "chunk_reaped", "chunk_lease_lost"})
    assert paused not in children(run.pid)


def test_poison_chunk_that_segfaults_ends_dead(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """Every attempt of chunk 3 kills its worker with SIGSEGV: it is retried as
    an infrastructure loss (no processor attempt spent) until the separate
    cap, then dead; the other chunks succeed; no _SUCCESS; the job fails."""
    s = scenario_factory(
        pg_url,
        chunks=6,
        python="tests.procs:crash_on_seq",
        params={"seq": 3, "how": "segv", "seconds": 0.05},
    )
    code, err = s.finish(s.run())
    assert code == 1, err
    report = s.check(succeeded=False, expect_events={"chunk_lost", "chunk_dead"})
    with scenario_store(s) as store:
        chunks = store.list_chunks(s.job_id())
    dead = [c for c in chunks if c.state == ChunkState.DEAD]
    assert [(c.seq, c.attempts, c.infra_attempts) for c in dead] == [(3, 0, INFRA_MAX_ATTEMPTS)]
    assert "exit status -11" in (dead[0].error or "")
    assert all(c.state == ChunkState.SUCCEEDED for c in chunks if c.seq != 3)
    assert report.kinds()["chunk_lost"] == INFRA_MAX_ATTEMPTS - 1  # then chunk_dead: bounded
