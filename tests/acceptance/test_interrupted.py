"""A job whose coordinator is gone shows as `interrupted` (derived from the
coordinator registry, not stored), with the resume command; Ctrl-C's summary
says so; the interrupt and the resume are events."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.acceptance.cli import cli_env, jobctl, jobctl_popen
from tests.acceptance.test_serve import job_spec, logged_job, started, wait_for


def test_ctrl_c_leaves_an_interrupted_job_that_resumes(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("stopped", 6, log, 0.5)])
    proc = jobctl_popen("run", str(spec), "--workers", "1", "--run-key", "r1", env=env)
    wait_for(lambda: len(started(log)) >= 1, 60, "a chunk to start")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the running chunk finishes, then it stops
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "jobctl resume" in out, out
    [job] = json.loads(jobctl("list", "--json", env=env).stdout)
    assert job["state"] == "interrupted" and job["stored_state"] == "running"
    assert job["resume"] == f"jobctl resume {job['id']}"
    status = json.loads(jobctl("status", str(job["id"]), "--json", env=env).stdout)
    assert status["state"] == "interrupted" and status["resume"] == job["resume"]
    assert "interrupted" in jobctl("list", env=env).stdout
    resumed = jobctl("resume", str(job["id"]), "--workers", "2", env=env)
    assert resumed.returncode == 0, resumed.stderr
    events = json.loads(jobctl("events", str(job["id"]), "--json", env=env).stdout)
    kinds = [e["kind"] for e in events]
    assert kinds.index("job_interrupted") < kinds.index("job_resumed")
    final = json.loads(jobctl("status", str(job["id"]), "--json", env=env).stdout)
    assert final["state"] == "succeeded" and final["resume"] is None
