"""Chunk timeouts, following a job from another process, and cron line safety."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from tests.acceptance.cli import cli_env, jobctl, jobctl_popen


def write_spec(tmp_path: Path, body: str) -> Path:
    spec = tmp_path / "jobs.yaml"
    spec.write_text("version: 1\njobs:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return spec


def test_a_chunk_past_its_timeout_is_killed_and_fails(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: hangs
          python: tests.procs:sleep_then_identity
          params: {seconds: 60}
          input: {sequence: 1}
          timeouts: {chunk: 1s}
          retries: {max_attempts: 1}
          executor: {local: {workers: 1}}
        """,
    )
    started = time.monotonic()
    result = jobctl("run", str(spec), "--json", env=env, timeout=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30
    [doc] = json.loads(result.stdout)
    assert doc["state"] == "failed"
    [chunk] = doc["failed_chunks"]
    assert "timed out after 1s" in chunk["error"]


def test_status_watch_follows_a_run_to_its_end(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: watched
          python: tests.procs:sleep_then_identity
          params: {seconds: 0.3}
          input: {sequence: 8}
          executor: {local: {workers: 2}}
        """,
    )
    run = jobctl_popen("run", str(spec), "--run-key", "w1", env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if jobctl("status", "watched", "--json", env=env).returncode == 0:
                break
            time.sleep(0.2)
        watch = jobctl("status", "watched", "--watch", "--json", env=env, timeout=60)
    finally:
        run.communicate(timeout=60)
    assert watch.returncode == 0, watch.stderr
    assert json.loads(watch.stdout)["state"] == "succeeded"
    assert "watched" in watch.stderr  # plain progress lines without a terminal


def test_cron_refuses_a_password_in_the_database_url(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "postgresql://etl:s3cretpw@db.example.com/jobs")
    spec = write_spec(
        tmp_path,
        """\
        - name: nightly
          type: noop
          input: {sequence: 1}
          schedule: "0 2 * * *"
        """,
    )
    result = jobctl("cron", str(spec), env=env)
    assert result.returncode == 2
    assert "password" in result.stderr
    assert "s3cretpw" not in result.stderr + result.stdout
