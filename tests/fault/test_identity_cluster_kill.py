"""kill -9 of the coordinator of an identity_match job during its partitioned
clustering (the star steps); ``jobctl resume`` then publishes exactly what an
undisturbed run of the one-worker clustering does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.processors.identity.files import CLUSTER
from tests.acceptance.cli import cli_env, jobctl
from tests.fault.test_identity_kill import (
    kill_during,
    output,
    phase_in_progress,
    undisturbed_run,
)

#: the first star step: the phase after the one that partitions the edges
FIRST_STAR = CLUSTER + 1


def kill_small_run_during(tmp: Path, env: dict[str, str], phase: int, key: str) -> int | None:
    """``jobctl run`` with a small ``cluster_max_edges`` (each phase waits 1 s
    before its first lease), SIGKILLed while ``phase`` runs: the job id."""
    argv = [sys.executable, "-m", "tests.small_clusters", "1500", "hold_phase_start=1", "--"]
    proc = subprocess.Popen(
        [*argv, "run", "jobs.yaml", "--run-key", key],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    found = None
    while found is None and proc.poll() is None and time.monotonic() < deadline:
        found = phase_in_progress(env["JOBCTL_DATABASE_URL"], phase)
        if found is None:
            time.sleep(0.005)
    if found is not None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return found


def test_kill_9_during_the_star_steps_then_resume(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)
    reference_dir = undisturbed_run(tmp_path, env)
    job_id = None
    for attempt in range(4):
        job_id = kill_small_run_during(tmp_path, env, FIRST_STAR, f"kill-{attempt}")
        if job_id is not None:
            break
    assert job_id is not None, "could not catch the first star step"
    assert not (tmp_path / "out").exists()
    # again during the next star step, resumed by a plain coordinator: the
    # small cluster_max_edges is a planned fact, stored with the job
    kill_during(tmp_path, env, FIRST_STAR + 1, ["resume", str(job_id)], hooked=True)
    resumed = jobctl("resume", str(job_id), env=env, cwd=tmp_path, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    status = json.loads(jobctl("status", str(job_id), "--json", env=env, cwd=tmp_path).stdout)
    assert len(status["phases"]) > 8  # partition, star steps, finish, entities
    got, expected = output(tmp_path / "out"), output(reference_dir / "out")
    assert got[0].equals(expected[0])
    assert got[1].equals(expected[1])
    assert got[2] == expected[2]
    assert got[3] == expected[3]
