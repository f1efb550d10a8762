"""The coordinator killed, paused, stopped by signals, or slow to commit."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    s.wait_succeeded(3)
    s.kill_run(run)
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
    hooked = (sys.executable, "-m", "tests.hooked", "hold_commit=3", "--")
    code, err = s.finish(s.start("run", str(s.spec), "--run-key", "k1", argv=hooked))
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


def _started(log: Path) -> list[int]:
    """Chunk seqs in the order their processor started (``tests.procs:log_start``)."""
    if not log.exists():
        return []
    return [int(line.split()[1]) for line in log.read_text().splitlines() if line.strip()]


def _kill_mid_chunk(
    scenario_factory: Callable[..., Scenario], pg_url: str, log: Path
) -> tuple[Scenario, list[int], list[int]]:
    """A run of slow chunks whose coordinator is SIGKILLed while both workers
    are in the middle of a chunk: the scenario, the seqs being computed at
    the kill, and the worker pids."""
    s = scenario_factory(
        pg_url, chunks=6, python="tests.procs:log_start", params={"log": str(log), "seconds": 2.0}
    )
    run = s.run()
    wait_for(lambda: len(_started(log)) >= 2, 60, "both workers to start a chunk")
    workers = children(run.pid)
    s.kill_run(run)
    return s, _started(log), workers


def _adopted(report_events: list[Any]) -> dict[int, str]:
    return {
        e.chunk_id: e.detail.get("worker", "")
        for e in report_events
        if e.kind == "chunk_succeeded" and str(e.detail.get("worker", "")).startswith("adopted")
    }


def test_orphaned_workers_finish_their_parts_and_resume_adopts_them(
    tmp_path: Path, pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """SIGKILL of the coordinator mid-chunk: its workers finish the parts they
    were making and leave receipts; a resume started at once waits for them
    and commits those parts instead of computing the chunks again. Every
    chunk's processor runs exactly once; the output holds every row once."""
    log = tmp_path / "starts.log"
    s, running, _workers = _kill_mid_chunk(scenario_factory, pg_url, log)
    assert len(running) == 2
    resumed = s.cli("resume", str(s.job_id()), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = s.check(expect_events={"chunk_reaped"})
    assert sorted(_started(log)) == list(range(6)), "a chunk was computed twice"
    with scenario_store(s) as store:
        by_seq = {c.id: c.seq for c in store.list_chunks(s.job_id())}
    adopted = _adopted(report.events)
    assert sorted(by_seq[chunk_id] for chunk_id in adopted) == sorted(running)
    assert all("(token 1)" in worker for worker in adopted.values())
    staging = s.out.parent / f".{s.out.name}.jobctl-staging"
    assert not staging.exists(), "receipts and markers go with the staging area"


def test_receipts_left_before_the_resume_are_adopted_at_once(
    tmp_path: Path, pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """The orphans finished (and exited) long before anyone resumed: their
    receipts are adopted as soon as the chunks are leased."""
    log = tmp_path / "starts.log"
    s, _running, workers = _kill_mid_chunk(scenario_factory, pg_url, log)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 30, "orphans")
    staging = s.out.parent / f".{s.out.name}.jobctl-staging" / f"job-{s.job_id()}"
    receipts = sorted(p.name for p in staging.glob("*.receipt.json"))
    assert len(receipts) == 2 and not list(staging.glob("*.orphan.json"))
    resumed = s.cli("resume", str(s.job_id()), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = s.check(expect_events={"chunk_reaped"})
    assert sorted(_started(log)) == list(range(6))
    assert len(_adopted(report.events)) == 2


def test_an_orphan_killed_before_its_receipt_is_computed_again(
    tmp_path: Path, pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """Orphans that die before finishing leave a marker and no receipt: the
    resume does not wait for them; their chunks run again, and the output
    is still whole and free of duplicates."""
    log = tmp_path / "starts.log"
    s, running, workers = _kill_mid_chunk(scenario_factory, pg_url, log)
    staging = s.out.parent / f".{s.out.name}.jobctl-staging" / f"job-{s.job_id()}"
    wait_for(lambda: len(list(staging.glob("*.orphan.json"))) == 2, 10, "orphan markers")
    for pid in workers:
        send(pid, signal.SIGKILL)
    resumed = s.cli("resume", str(s.job_id()), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = s.check(expect_events={"chunk_reaped"})
    assert not _adopted(report.events)
    starts = Counter(_started(log))
    assert sorted(seq for seq, n in starts.items() if n == 2) == sorted(running)
    assert set(starts) == set(range(6))


def test_a_settlement_claim_of_a_killed_coordinator_is_taken_over_at_once(
    pg_url: str, scenario_factory: Callable[..., Scenario]
) -> None:
    """A coordinator killed while it publishes leaves its claim to settle the
    job; the resume proves it gone (its pid no longer exists) and settles at
    once instead of waiting out the claim (SETTLE_CLAIM_SECONDS, 120 s)."""
    s = scenario_factory(pg_url, chunks=6, params={"seconds": 0.2})
    run = s.run()
    s.wait_succeeded(2)
    s.kill_run(run)
    with scenario_store(s) as store:
        [dead] = {
            e.detail["owner"]
            for e in store.list_events(s.job_id())
            if e.kind == "chunk_leased" and e.actor_pid == run.pid
        }
        # the moment of the kill that matters: the claim taken, publish under way
        assert store.claim_settlement(s.job_id(), dead, 120)
        holder = store.settlement_holder(s.job_id())
        assert holder is not None and (holder.owner, holder.pid) == (dead, run.pid)

    resumed = s.cli("resume", str(s.job_id()), timeout=60)  # well inside the 120 s claim

    assert resumed.returncode == 0, resumed.stderr
    assert s.status()["state"] == "succeeded"
    s.check()
