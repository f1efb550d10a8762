"""Finding out why: `jobctl logs`, deterministic errors, --max-failures, grouped errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.cli import jobctl
from tests.acceptance.test_run_limits import write_spec


def test_logs_show_each_attempts_print_logger_line_and_traceback(
    tmp_path: Path, env: dict[str, str]
) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: flaky
          python: tests.procs:flaky_chatter
          params: {seq: 2}
          input: {sequence: 4}
          retries: {max_attempts: 3, backoff: {base: 0s}}
          executor: {local: {workers: 2}}
        """,
    )
    run = jobctl("run", str(spec), "--json", env=env)
    assert run.returncode == 0, run.stderr
    first = jobctl("logs", "flaky", "--chunk", "2", "--attempt", "1", env=env)
    assert first.returncode == 0, first.stderr
    text = first.stdout
    assert "chunk 2 attempt 1: failed" in text
    for line in (
        "print of attempt 1",
        "stderr of attempt 1",
        "WARNING logger line of attempt 1",
        "in _deep_failure",
        "RuntimeError: flaky failure on attempt 1",
    ):
        assert line in text, text
    assert "attempt 2" not in text
    [second] = json.loads(
        jobctl("logs", "flaky", "--chunk", "2", "--attempt", "2", "--json", env=env).stdout
    )
    assert (second["chunk"], second["attempt"], second["outcome"]) == (2, 2, "succeeded")
    assert "print of attempt 2" in second["output"]
    assert "logger line of attempt 2" in second["output"]
    assert second["traceback"] is None
    # silent chunks leave no log; --follow on a finished job prints what there is and ends
    followed = jobctl("logs", "flaky", "--follow", env=env, timeout=30)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.count("=== job") == 2


def test_a_deterministic_error_is_not_retried(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: nocolumn
          python: tests.procs:permanent_failure
          params: {how: missing_column}
          input: {sequence: 2}
          retries: {max_attempts: 3, backoff: {base: 0s}}
          executor: {local: {workers: 1}}
        - name: permanent
          python: tests.procs:permanent_failure
          input: {sequence: 2}
          retries: {max_attempts: 3, backoff: {base: 0s}}
          executor: {local: {workers: 1}}
        """,
    )
    run = jobctl("run", str(spec), "--json", env=env)
    assert run.returncode == 1, run.stderr
    docs = {doc["name"]: doc for doc in json.loads(run.stdout)}
    for name, error in (("nocolumn", "KeyError"), ("permanent", "PermanentError")):
        chunks = docs[name]["failed_chunks"]
        assert [c["attempts"] for c in chunks] == [1, 1], chunks
        assert all(c["error"].startswith(error) for c in chunks), chunks
        assert all("not retried" in c["error"] for c in chunks), chunks


def test_max_failures_stops_a_failing_job_early(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: doomed
          python: tests.procs:always_fail
          params: {seconds: 0.05}
          input: {sequence: 60}
          retries: {max_attempts: 1}
          executor: {local: {workers: 1}}
        """,
    )
    run = jobctl("run", str(spec), "--max-failures", "2", "--json", env=env)
    assert run.returncode == 1, run.stderr
    [doc] = json.loads(run.stdout)
    assert doc["state"] == "failed"
    assert "stopped early" in doc["error"]
    assert 2 <= doc["chunks"]["dead"] < 60
    # the chunks not run are left for a resume, not spent
    assert doc["chunks"]["pending"] == 60 - doc["chunks"]["dead"] - doc["chunks"]["succeeded"]
    assert doc["chunks"]["pending"] > 0


def test_identical_errors_are_grouped_with_counts(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path,
        """\
        - name: same
          python: tests.procs:always_fail
          input: {sequence: 12}
          retries: {max_attempts: 1}
          executor: {local: {workers: 2}}
        """,
    )
    run = jobctl("run", str(spec), env=env)
    assert run.returncode == 1, run.stderr
    error = "RuntimeError: the same error on every chunk"
    assert run.stdout.count(error) == 2, run.stdout  # the group, and the first error's frames
    assert f"12 x {error} (chunks 0, 1, 2" in run.stdout
    assert "and 2 more; see: jobctl logs 1 --chunk 0)" in run.stdout
    assert "first error: chunk 0 attempt 1:" in run.stdout
    assert 'in always_fail\n        raise RuntimeError("the same error on every chunk")' in (
        run.stdout
    )
    dlq = jobctl("dlq", "list", env=env)
    assert dlq.stdout.count(error) == 1, dlq.stdout
    assert "job 1 same: 12 dead chunk(s)" in dlq.stdout
    status = json.loads(jobctl("status", "same", "--json", env=env).stdout)
    [group] = status["error_groups"]
    assert (group["error"], group["count"], group["chunks"]) == (error, 12, list(range(12)))
    assert status["first_error"]["see"] == "jobctl logs 1 --chunk 0"
