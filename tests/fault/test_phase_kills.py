"""kill -9 of the coordinator of a map_reduce job during map, between the
phases (every map chunk committed, the reduce not planned yet: the
``hold_phase_plan`` hook) and during reduce, then ``jobctl resume``: the
output is the one an undisturbed run gives, every chunk committed once, each
phase planned once. And two coordinators on one map_reduce job on PostgreSQL
plan its reduce phase once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.states import ChunkState, JobState
from orchestrator.store import open_store
from orchestrator.store.base import ChunkRecord
from tests.acceptance.cli import cli_env, jobctl, jobctl_argv
from tests.fault.harness import wait_for

SPEC = """version: 1
jobs:
  - name: sums
    python: tests.phase_procs:sum_by_user
    params: {sleep: 0.1}
    strategy:
      type: map_reduce
      partition_by: [user]
      partitions: 4
      partition_size: 1KB
      map: {python: tests.procs:sleep_then_identity, params: {seconds: 0.2}}
    input: {path: in.csv, format: csv}
    chunking: {bytes: 1KB}
    output: {path: out/, format: parquet}
    retries: {max_attempts: 2, backoff: {base: 0s, max: 0s}}
    executor: {local: {workers: 2}}
"""


def _job(tmp_path: Path) -> dict[str, int]:
    sums: Counter[str] = Counter()
    lines = ["user,amount"]
    for i in range(700):
        user, amount = f"u{(i * 11) % 37:02d}", i % 13
        sums[user] += amount
        lines.append(f"{user},{amount}")
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    return dict(sums)


def _chunks(url: str) -> list[ChunkRecord]:
    store = open_store(url)
    try:
        job = store.find_job("sums", "k1")
        return [] if job is None else store.list_chunks(job.id)
    finally:
        store.close()


def _succeeded(url: str) -> bool:
    store = open_store(url)
    try:
        job = store.find_job("sums", "k1")
        return job is not None and job.state == JobState.SUCCEEDED
    finally:
        store.close()


def _during_map(chunks: list[ChunkRecord]) -> bool:
    done = [c for c in chunks if c.phase == 0 and c.state == ChunkState.SUCCEEDED]
    return bool(done) and len(done) < len([c for c in chunks if c.phase == 0])


def _between(chunks: list[ChunkRecord]) -> bool:
    return bool(chunks) and all(c.phase == 0 and c.state == ChunkState.SUCCEEDED for c in chunks)


def _during_reduce(chunks: list[ChunkRecord]) -> bool:
    reduce = [c for c in chunks if c.phase == 1]
    done = [c for c in reduce if c.state == ChunkState.SUCCEEDED]
    return bool(done) and len(done) < len(reduce)


def _check(tmp_path: Path, url: str, sums: dict[str, int]) -> None:
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    table = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    assert table.num_rows == len(sums)  # nothing duplicated
    assert dict(zip(table["user"].to_pylist(), table["amount"].to_pylist(), strict=True)) == sums
    store = open_store(url)
    try:
        job = store.find_job("sums", "k1")
        assert job is not None and job.state == JobState.SUCCEEDED
        chunks = store.list_chunks(job.id)
        events = store.list_events(job.id)
    finally:
        store.close()
    assert {c.state for c in chunks} == {ChunkState.SUCCEEDED}
    commits = Counter(e.chunk_id for e in events if e.kind == "chunk_succeeded")
    assert all(commits[c.id] == 1 for c in chunks), commits
    assert sum(1 for e in events if e.kind == "phase_started") == 1  # the reduce, once
    assert len({c.seq for c in chunks}) == len(chunks)
    staging = tmp_path / ".out.jobctl-staging"  # intermediate outputs: gone at publish
    assert not staging.exists() or not any(staging.iterdir()), list(staging.rglob("*"))


def _hooked(*hooks: str) -> list[str]:
    """A `jobctl` with test hooks installed (tests/hooked.py)."""
    return [sys.executable, "-m", "tests.hooked", *hooks, "--"]


STAGES: dict[str, Callable[[list[ChunkRecord]], bool]] = {
    "map": _during_map,
    "between": _between,
    "reduce": _during_reduce,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_9_of_the_coordinator_then_resume(tmp_path: Path, pg_url: str, stage: str) -> None:
    sums = _job(tmp_path)
    env = cli_env(tmp_path, pg_url)
    command = _hooked("hold_phase_plan=60") if stage == "between" else jobctl_argv()
    proc = subprocess.Popen(
        [*command, "run", "jobs.yaml", "--run-key", "k1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        seen = wait_for(
            lambda: STAGES[stage](_chunks(pg_url)) or proc.poll() is not None,
            60,
            f"the {stage} stage",
            every=0.02,
        )
        assert proc.poll() is None, f"the run ended before the {stage} stage was seen"
        assert seen
        if stage == "between":
            time.sleep(0.5)  # the coordinator is in the hold now, the reduce not planned
            assert _between(_chunks(pg_url))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (tmp_path / "out").exists()
    resumed = jobctl("resume", "sums", env=env, cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    _check(tmp_path, pg_url, sums)


def test_two_coordinators_plan_the_reduce_phase_once(tmp_path: Path, pg_url: str) -> None:
    sums = _job(tmp_path)
    env = cli_env(tmp_path, pg_url)
    submitted = jobctl("submit", "jobs.yaml", "--run-key", "k1", env=env, cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    serves = [
        subprocess.Popen(
            # the hold widens the window in which a rival could plan the reduce too
            [*_hooked("hold_phase_plan=1"), "serve", "--workers", "1"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: (tmp_path / "out" / "_SUCCESS").exists(), 90, "the job to publish")
        wait_for(lambda: _succeeded(pg_url), 30, "the job to succeed")
    finally:
        for serve in serves:
            serve.send_signal(signal.SIGTERM)
        for serve in serves:
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    _check(tmp_path, pg_url, sums)
    owners = {c.lease_owner for c in _chunks(pg_url)}
    assert owners == {None}
