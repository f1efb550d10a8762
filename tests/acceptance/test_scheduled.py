"""A cron run keys its job by the fire time: two invocations make one job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.acceptance.cli import jobctl, jobctl_argv


def test_two_scheduled_invocations_make_one_job(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n"
        "  - name: yearly\n"
        "    python: tests.procs:sleep_then_identity\n"
        "    params: {seconds: 0.2}\n"
        "    input: {sequence: 12}\n"
        '    schedule: "0 0 1 1 *"\n'
        "    executor: {local: {workers: 1}}\n"
    )
    procs = [
        subprocess.Popen(
            [*jobctl_argv(), "run", str(spec), "--scheduled", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    ids = {json.loads(out)[0]["id"] for out, _ in outputs}
    assert len(ids) == 1
    jobs = json.loads(jobctl("list", "--json", env=env).stdout)
    assert len(jobs) == 1
    assert jobs[0]["run_key"].startswith("sched-") and jobs[0]["run_key"].endswith("0101T0000Z")
    doc = json.loads(jobctl("status", str(jobs[0]["id"]), "--json", env=env).stdout)
    assert doc["state"] == "succeeded" and doc["chunks"]["succeeded"] == 12


def test_scheduled_needs_a_schedule(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: adhoc\n    type: noop\n    input: {sequence: 2}\n"
    )
    result = jobctl("run", str(spec), "--scheduled", env=env)
    assert result.returncode == 2
    assert "schedule" in result.stderr
