"""`jobctl queue`, as a user types it: a paused queue holds a run until it is
resumed, and `queue stats --json` agrees with the events table."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from orchestrator.states import ChunkState, JobState
from orchestrator.store import open_store
from tests.acceptance.cli import jobctl, jobctl_popen
from tests.acceptance.test_run import spec_text, write_csv_inputs


def events_table(db_url: str) -> list[tuple[int, str, int | None, int | None, float, Any]]:
    """Every event as (id, kind, job_id, chunk_id, at as unix seconds, detail),
    read with the bare driver."""
    if db_url.startswith("sqlite:"):
        conn = sqlite3.connect(db_url[len("sqlite://") :])
        try:
            found = conn.execute(
                "SELECT id, kind, job_id, chunk_id, at, detail FROM events ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
        return [(i, k, j, c, float(at), json.loads(d)) for i, k, j, c, at, d in found]
    with psycopg.connect(db_url) as pg:
        found = pg.execute(
            "SELECT id, kind, job_id, chunk_id, extract(epoch FROM at)::float8, detail "
            "FROM events ORDER BY id"
        ).fetchall()
    return [(i, k, j, c, float(at), d) for i, k, j, c, at, d in found]


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_paused_queue_holds_a_run_until_resumed(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: held
              type: noop
              input: {sequence: 6}
              executor: {local: {workers: 2}}
            """
        )
    )
    paused = jobctl("queue", "pause", "noop", env=env)  # the queue of its type
    assert paused.returncode == 0 and "queue noop paused" in paused.stdout
    run = jobctl_popen("run", str(spec), env=env, cwd=tmp_path)
    try:
        store = open_store(db_url)
        try:
            job = wait_for(
                lambda: (j := store.find_job("held")) and j.state == JobState.RUNNING and j,
                30,
                "the job to start",
            )
            assert job.queue == "noop"
            time.sleep(2.0)  # a paused queue leases nothing, however long the run waits
            assert run.poll() is None
            assert {c.state for c in store.list_chunks(job.id)} == {ChunkState.PENDING}
            assert "chunk_leased" not in {e.kind for e in store.list_events(job.id)}
        finally:
            store.close()
        listed = json.loads(jobctl("queue", "list", "--json", env=env).stdout)
        assert {"name": "noop", "paused": True, "concurrency_limit": None, "pending": 6,
                "running": 0, "jobs_active": 1} in listed  # fmt: skip

        resumed = jobctl("queue", "resume", "noop", env=env)
        assert resumed.returncode == 0 and "queue noop resumed" in resumed.stdout
        _out, err = run.communicate(timeout=90)
        assert run.returncode == 0, err
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=10)
    events = events_table(db_url)
    resumed_id = next(i for i, kind, *_ in events if kind == "queue_resumed")
    leases = [i for i, kind, job_id, *_ in events if kind == "chunk_leased" and job_id == job.id]
    assert len(leases) == 6 and min(leases) > resumed_id
    assert [kind for _, kind, *_ in events if kind.startswith("queue_")] == [
        "queue_paused",
        "queue_resumed",
    ]


def test_queue_stats_agree_with_the_events_table(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    write_csv_inputs(tmp_path / "data", files=2, rows=60)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: clean
              type: convert
              queue: etl
              input: {path: data/*.csv, format: csv}
              chunking: {bytes: 400B}
              output: {path: out-clean/, format: parquet}
              executor: {local: {workers: 2}}
            - name: flaky
              python: tests.procs:fail_on_seq
              params: {seq: [1]}
              queue: etl
              priority: HIGH
              input: {path: data/*.csv, format: csv}
              chunking: {bytes: 400B}
              output: {path: out-flaky/, format: parquet}
              retries: {max_attempts: 2, backoff: {base: 0s}}
              executor: {local: {workers: 2}}
            """
        )
    )
    assert jobctl("queue", "limit", "etl", "2", env=env).returncode == 0
    run = jobctl("run", str(spec), env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 1, run.stderr  # flaky's chunk 1 is dead after 2 attempts
    result = jobctl("queue", "stats", "etl", "--since", "1h", "--json", env=env)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)

    # the same figures, from the events alone
    events = events_table(db_url)
    submitted = {
        job_id: at
        for _, kind, job_id, _, at, detail in events
        if kind == "job_submitted" and detail["queue"] == "etl"
    }
    assert len(submitted) == 2
    mine = [e for e in events if e[2] in submitted]
    first_lease: dict[int, float] = {}
    for _, kind, job_id, chunk_id, at, _ in mine:
        if kind == "chunk_leased":
            first_lease.setdefault(chunk_id, at - submitted[job_id])
    waits = sorted(first_lease.values())
    kinds = Counter(kind for _, kind, *_ in mine)
    outcomes = Counter(d.get("outcome") for _, kind, _, _, _, d in mine if kind == "chunk_dead")
    succeeded = [d for _, kind, _, _, _, d in mine if kind == "chunk_succeeded"]
    failed = kinds["chunk_failed"] + outcomes["failed"]
    ended = len(succeeded) + failed + kinds["chunk_lost"] + outcomes["lost"] + kinds["chunk_reaped"]
    rank = (len(waits) * 95 + 99) // 100  # nearest rank: ceil(0.95 n)

    assert stats["queue"] == "etl" and stats["concurrency_limit"] == 2
    assert stats["wait_seconds"]["chunks"] == len(waits) > 0
    assert abs(stats["wait_seconds"]["avg"] - sum(waits) / len(waits)) < 1e-3
    assert abs(stats["wait_seconds"]["p95"] - waits[rank - 1]) < 1e-3
    assert stats["succeeded"] == len(succeeded) > 0
    assert stats["rows"] == sum(d["rows_in"] for d in succeeded) > 0
    assert abs(stats["chunks_per_hour"] - len(succeeded)) < 1e-6  # a window of one hour
    assert (stats["failed_attempts"], stats["ended_attempts"]) == (failed, ended)
    assert failed == 2 and abs(stats["failure_rate"] - failed / ended) < 1e-9
    assert stats["retries"] == kinds["chunk_leased"] - len(first_lease) == 1
    assert stats["dead"] == kinds["chunk_dead"] == 1
    assert stats["pending"] == stats["running"] == 0  # both jobs ended

    every = json.loads(jobctl("queue", "stats", "--json", env=env).stdout)
    assert [s["queue"] for s in every] == ["etl"]
    text = jobctl("queue", "stats", "etl", env=env)
    assert text.returncode == 0 and "dead letters 1" in text.stdout


def test_queue_commands_refuse_bad_input(tmp_path: Path, env: dict[str, str]) -> None:
    for args in (
        ["queue", "limit", "etl", "0"],
        ["queue", "limit", "etl"],
        ["queue", "limit", "etl", "3", "--none"],
        ["queue", "pause", "no spaces"],
        ["queue", "stats", "--since", "soon"],
    ):
        done = jobctl(*args, env=env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
