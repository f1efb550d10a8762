"""kill -9 of the coordinator of an identity_match job during compare and during
clustering; ``jobctl resume`` then publishes exactly what an undisturbed run does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.processors.identity.files import CLUSTER, COMPARE
from orchestrator.states import ChunkState
from orchestrator.store import open_store
from tests.acceptance.cli import cli_env, jobctl, jobctl_argv
from tests.acceptance.test_identity_match import people, write_job

ROWS = 4000


def output(out: Path) -> tuple[pa.Table, pa.Table, dict, dict]:
    manifest = json.loads((out / "_SUCCESS").read_text())
    entities = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    edges = pq.read_table(out / "edges")
    model = json.loads((out / "model.json").read_text())
    return (
        entities.sort_by("person_id"),
        edges.sort_by([("id_l", "ascending"), ("id_r", "ascending")]),
        model,
        manifest["summary"],
    )


def phase_in_progress(db_url: str, phase: int) -> int | None:
    """The job id while ``phase`` has chunks that have not all succeeded."""
    store = open_store(db_url)
    try:
        for job in store.list_jobs():
            chunks = [c for c in store.list_chunks(job.id) if c.phase == phase]
            if chunks and any(c.state != ChunkState.SUCCEEDED for c in chunks):
                return job.id
        return None
    finally:
        store.close()


def kill_during(
    tmp: Path, env: dict[str, str], phase: int, command: list[str], *, hooked: bool = False
) -> int | None:
    """Run ``command`` and SIGKILL it while ``phase`` runs; the job id, or None
    when the phase finished before the kill landed. ``hooked``: each phase
    waits a second before its first lease (hook ``hold_phase_start``)."""
    url = env["JOBCTL_DATABASE_URL"]
    argv = [sys.executable, "-m", "tests.hooked", "hold_phase_start=1", "--"]
    proc = subprocess.Popen(
        [*(argv if hooked else jobctl_argv()), *command],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    found = None
    while found is None and proc.poll() is None and time.monotonic() < deadline:
        found = phase_in_progress(url, phase)
        if found is None:
            time.sleep(0.005)
    if found is not None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if found is not None and phase_in_progress(url, phase) == found:
        return found
    return None


def kill_a_run_during(tmp: Path, env: dict[str, str], phase: int, tries: int = 4) -> int:
    """``jobctl run jobs.yaml`` SIGKILLed while ``phase`` runs (a new run key per
    try: the phase may finish before the kill lands); the killed job's id."""
    for attempt in range(tries):
        run = ["run", "jobs.yaml", "--run-key", f"kill-{attempt}"]
        job_id = kill_during(tmp, env, phase, run, hooked=True)
        if job_id is not None:
            return job_id
    pytest.fail(f"could not catch phase {phase} in {tries} runs")


def undisturbed_run(tmp: Path, env: dict[str, str]) -> Path:
    """Generated people in ``tmp`` and the job written there, plus the same
    job run to its end in ``tmp/reference`` (its folder: the output to match)."""
    people(tmp, rows=ROWS, seed=21)
    reference_dir = tmp / "reference"
    reference_dir.mkdir()
    os.link(tmp / "people.parquet", reference_dir / "people.parquet")
    write_job(reference_dir)
    ran = jobctl("run", "jobs.yaml", env=env, cwd=reference_dir, timeout=240)
    assert ran.returncode == 0, ran.stderr
    write_job(tmp)
    return reference_dir


def test_kill_9_during_compare_and_during_clustering_then_resume(
    tmp_path: Path, pg_url: str
) -> None:
    """The coordinator is killed while the compare phase runs, resumed, killed
    again while the cluster phase runs, resumed: the output is the one an
    undisturbed run publishes (entities, edges, model and summary)."""
    env = cli_env(tmp_path, pg_url)
    reference_dir = undisturbed_run(tmp_path, env)
    job_id = kill_a_run_during(tmp_path, env, COMPARE)
    assert not (tmp_path / "out").exists()  # nothing published by the dead run
    caught = None
    for _ in range(4):  # each phase waits 1 s before its first lease: the kill lands in it
        caught = kill_during(tmp_path, env, CLUSTER, ["resume", str(job_id)], hooked=True)
        if caught is not None or (tmp_path / "out").exists():
            break
    resumed = jobctl("resume", str(job_id), env=env, cwd=tmp_path, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert caught == job_id, "the cluster phase finished before each kill landed"
    got, expected = output(tmp_path / "out"), output(reference_dir / "out")
    assert got[0].equals(expected[0])
    assert got[1].equals(expected[1])
    assert got[2] == expected[2]
    assert got[3] == expected[3]
