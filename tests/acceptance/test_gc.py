"""Staging of failed jobs: kept for resume, removed by `jobctl gc`; after
`dlq purge` the user is told the job can never publish and what to do."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.cli import jobctl


def failing_spec(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(40)))
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: half\n    python: tests.procs:fail_on_seq\n"
        "    params: {seq: 1}\n    retries: {max_attempts: 1}\n"
        "    input: {path: data.csv, format: csv}\n    chunking: {rows: 10}\n"
        "    output: {path: out/half/, format: parquet}\n"
    )
    return spec


def test_purge_says_the_job_is_over_and_gc_removes_its_staging(
    tmp_path: Path, env: dict[str, str]
) -> None:
    run = jobctl("run", str(failing_spec(tmp_path)), "--workers", "2", env=env, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    [job] = json.loads(jobctl("list", "--json", env=env).stdout)
    staging = tmp_path / "out" / ".half.jobctl-staging" / f"job-{job['id']}"
    assert staging.is_dir() and any(staging.iterdir())  # kept: a resume may come
    purged = jobctl("dlq", "purge", str(job["id"]), env=env)
    assert purged.returncode == 0, purged.stderr
    assert "can never publish" in purged.stdout and "new run key" in purged.stdout
    purged_json = json.loads(jobctl("dlq", "purge", str(job["id"]), "--json", env=env).stdout)
    assert purged_json["purged"] == 0  # nothing left to purge the second time
    dry = json.loads(jobctl("gc", "--dry-run", "--json", env=env).stdout)
    assert [r["job_id"] for r in dry["removed"]] == [job["id"]] and staging.is_dir()
    done = json.loads(jobctl("gc", "--json", env=env).stdout)
    assert [r["staging"] for r in done["removed"]] == [str(staging)]
    assert done["removed"][0]["bytes"] > 0 and not staging.exists()
    assert not staging.parent.exists()  # the emptied staging root too
    events = json.loads(jobctl("events", str(job["id"]), "--json", env=env).stdout)
    assert "job_staging_removed" in [e["kind"] for e in events]
    again = json.loads(jobctl("gc", "--json", env=env).stdout)
    assert again["removed"] == []
    resumed = jobctl("resume", str(job["id"]), env=env)
    assert resumed.returncode != 0
    assert "cannot be resumed" in resumed.stdout + resumed.stderr, resumed.stdout + resumed.stderr
