"""The coordinator killed, paused, stopped by signals, or slow to commit."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import ExitCode
from orchestrator.states import ChunkState
from tests.fault.harness import Scenario, children, scenario_store, send, wait_for
from tests.fault.invariants import wait_no_processes


def test_sigkill_of_the_coordinator_then_resume(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """Chunks held by the dead coordinator are taken over at once (its pid is
    gone: no waiting for the 60 s lease), succeeded chunks never run again,
    and the work redone is at most what was in flight at the kill."""
    s = scenario_factory(pg_url, chunks=12, params={"seconds": 0.4})
    run = s.run()
    wait_for(lambda: s.chunk_states().get("succeeded", 0) >= 3, 60, "some progress")
    send(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    with scenario_store(s) as store:
        in_flight = {c.id for c in store.list_chunks(s.job_id(), [ChunkState.RUNNING])}
        done_before = {c.id for c in store.list_chunks(s.job_id(), [ChunkState.SUCCEEDED])}
    assert in_flight, "the kill should catch chunks in flight"
    resumed = s.cli("resume", str(s.job_id()), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = s.check(expect_events={"chunk_reaped"})
    assert report.repeated <= len(in_flight)
    reaped = [e for e in report.events if e.kind == "chunk_reaped"]
    assert {e.chunk_id for e in reaped} == in_flight
    assert all("no longer exists" in e.detail["reason"] for e in reaped)  # not expiry
    leased_after = [
        e.chunk_id for e in report.events if e.kind == "chunk_leased" and e.actor_pid != run.pid
    ]
    assert not done_before & set(leased_after), "a succeeded chunk ran again"


def test_paused_coordinator_late_commits_are_rejected(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """A coordinator paused (SIGSTOP, like a frozen VM) past its leases: a second
    coordinator takes the job over and finishes it; when the first wakes up,
    its workers' results are late and every commit of them is rejected, and
    none of its part files is published."""
    s = scenario_factory(
        pg_url, chunks=8, params={"seconds": 1.0}, timeouts="{lease: 2s, heartbeat: 500ms}"
    )
    first = s.run()
    wait_for(lambda: len(children(first.pid)) == 2, 30, "workers")
    wait_for(lambda: s.chunk_states().get("running", 0) >= 2, 30, "running chunks")
    time.sleep(0.3)  # the chunks reached the workers
    send(first.pid, signal.SIGSTOP)
    try:
        second = s.cli("resume", str(s.job_id()), timeout=120)
    finally:
        send(first.pid, signal.SIGCONT)
    assert second.returncode == 0, second.stderr
    code, err = s.finish(first)
    assert code == 0, err  # it finds the job done by the other one
    report = s.check(expect_events={"chunk_reaped", "chunk_commit_rejected"})
    rejected = [e for e in report.events if e.kind == "chunk_commit_rejected"]
    assert all(e.actor_pid == first.pid for e in rejected)
    assert all(e.detail["current_token"] > e.detail["fencing_token"] for e in rejected)


def test_reap_versus_commit_race(pg_url: str, scenario_factory: Callable[..., Scenario]) -> None:
    """Forced with a test hook: a finished chunk's commit is withheld (and its
    lease not renewed) until the lease expired and the reaper returned the
    chunk to pending. The chunk runs again; the late commit is rejected; the
    output holds it exactly once."""
    s = scenario_factory(
        pg_url, chunks=6, params={"seconds": 0.1}, timeouts="{lease: 1s, heartbeat: 250ms}"
    )
    env = {**s.env, "JOBCTL_TEST_HOOKS": "hold_commit=3"}
    code, err = s.finish(s.run(env=env))
    assert code == 0, err
    report = s.check(expect_events={"chunk_reaped", "chunk_commit_rejected"})
    [rejected] = [e for e in report.events if e.kind == "chunk_commit_rejected"]
    [reaped] = [e for e in report.events if e.kind == "chunk_reaped"]
    assert rejected.chunk_id == reaped.chunk_id
    assert rejected.detail["chunk_state"] == "succeeded"  # by its second execution
    assert report.repeated == 1


def test_first_sigterm_lets_running_chunks_finish(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    s = scenario_factory(pg_url, chunks=10, params={"seconds": 1.5})
    run = s.run()
    wait_for(lambda: s.chunk_states().get("running", 0) >= 2, 30, "running chunks")
    time.sleep(0.3)
    send(run.pid, signal.SIGTERM)
    code, err = s.finish(run, timeout=60)
    assert code == ExitCode.INTERRUPTED, err
    states = s.chunk_states()
    assert states.get("running", 0) == 0, "nothing left claimed by the stopped run"
    assert states.get("succeeded", 0) >= 2, "the running chunks were let finish"
    kinds = s.events()
    assert "chunk_released" in kinds and "chunk_lost" not in kinds
    resumed = s.cli("resume", str(s.job_id()), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    s.check(expect_events={"chunk_released"})


def test_second_sigterm_stops_at_once(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    s = scenario_factory(pg_url, chunks=6, params={"seconds": 120})
    run = s.run()
    wait_for(lambda: s.chunk_states().get("running", 0) >= 2, 30, "running chunks")
    workers = children(run.pid)
    send(run.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert run.poll() is None, "the first SIGTERM waits for the running chunks"
    send(run.pid, signal.SIGTERM)
    code, err = s.finish(run, timeout=30)  # the chunks would take 120 s
    assert code == ExitCode.INTERRUPTED, err
    wait_no_processes(s.mark)  # the workers went with it
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    with scenario_store(s) as store:
        assert store.job_progress(s.job_id()).chunks == {ChunkState.PENDING: 6}
        assert store.lease_owners() == []
    kinds = s.events()
    assert kinds.count("chunk_released") >= 2 and "chunk_lost" not in kinds
    with scenario_store(s) as store:  # nothing spent by the stop
        assert {(c.attempts, c.infra_attempts) for c in store.list_chunks(s.job_id())} == {(0, 0)}
