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


def test_a_live_coordinator_of_another_job_does_not_hide_an_interrupted_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Two runs on one store; the run of job A is killed -9 while the run of
    job B goes on: A shows `interrupted` (its own coordinator is gone), B
    `running` (migration 0007 links each job to the coordinators running it);
    both stores."""
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    spec_a = job_spec(tmp_path / "a.yaml", [logged_job("job-a", 6, log_a, 2.0)])
    spec_b = job_spec(tmp_path / "b.yaml", [logged_job("job-b", 6, log_b, 2.0)])
    run_a = jobctl_popen("run", str(spec_a), "--workers", "1", env=env)
    run_b = jobctl_popen("run", str(spec_b), "--workers", "1", env=env)
    try:
        wait_for(lambda: started(log_a) and started(log_b), 60, "both jobs to start")
        run_a.send_signal(signal.SIGKILL)
        run_a.wait(timeout=30)
        listed = jobctl("list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr + listed.stdout
        shown = {j["name"]: j for j in json.loads(listed.stdout)}
        assert shown["job-a"]["state"] == "interrupted", shown["job-a"]
        assert shown["job-a"]["resume"] == f"jobctl resume {shown['job-a']['id']}"
        assert shown["job-b"]["state"] == "running", shown["job-b"]
        status_b = json.loads(jobctl("status", str(shown["job-b"]["id"]), "--json", env=env).stdout)
        assert status_b["state"] == "running" and status_b["resume"] is None
    finally:
        run_b.kill()
        run_b.communicate(timeout=30)
