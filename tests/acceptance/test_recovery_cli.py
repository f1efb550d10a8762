"""`jobctl dlq`, `jobctl rollback` and resuming by run key, as a user types them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.acceptance.cli import jobctl
from tests.acceptance.test_run import read_output, spec_text, write_csv_inputs


def failing_spec(tmp_path: Path, seqs: list[int], marker: Path) -> Path:
    write_csv_inputs(tmp_path / "data", files=1, rows=100)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: flaky
              python: tests.procs:fail_on_seq
              params: {{seq: {seqs}, fixed_marker: "{marker}"}}
              input: {{path: data/*.csv, format: csv}}
              chunking: {{bytes: 500B}}
              output: {{path: out/, format: parquet}}
              retries: {{max_attempts: 1}}
              executor: {{local: {{workers: 2}}}}
            """
        )
    )
    return spec


def test_dead_letter_queue_list_retry_purge(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "fixed"
    spec = failing_spec(tmp_path, [1, 3], marker)
    assert jobctl("run", str(spec), env=env).returncode == 1
    dead = json.loads(jobctl("dlq", "list", "--json", env=env).stdout)
    assert [(d["job"], d["seq"], d["attempts"]) for d in dead] == [("flaky", 1, 1), ("flaky", 3, 1)]
    assert "boom on chunk 3" in dead[1]["error"]
    job_id = str(dead[0]["job_id"])

    marker.write_text("fixed")
    retried = json.loads(jobctl("dlq", "retry", job_id, "--chunk", "1", "--json", env=env).stdout)
    assert retried == {"id": int(job_id), "requeued": 1, "state": "running"}
    purged = json.loads(jobctl("dlq", "purge", job_id, "--json", env=env).stdout)
    assert {k: purged[k] for k in ("id", "purged", "can_publish")} == {
        "id": int(job_id),
        "purged": 1,
        "can_publish": False,
    }
    assert "new run key" in purged["hint"]
    assert json.loads(jobctl("dlq", "list", "--job", job_id, "--json", env=env).stdout) == []

    resumed = jobctl("resume", job_id, env=env)
    assert resumed.returncode == 1  # chunk 3 was given up: the job cannot succeed
    doc = json.loads(jobctl("status", job_id, "--json", env=env).stdout)
    assert doc["chunks"]["cancelled"] == 1 and doc["chunks"]["dead"] == 0
    assert "purged" in doc["error"]
    events = json.loads(jobctl("events", job_id, "--json", env=env).stdout)
    assert [e["detail"]["error"] for e in events if e["kind"] == "chunk_purged"] == [
        "RuntimeError: boom on chunk 3 (attempt 1)"
    ]
    assert not (tmp_path / "out").exists()


def test_run_again_with_the_run_key_resumes(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "fixed"
    spec = failing_spec(tmp_path, [2], marker)
    assert jobctl("run", str(spec), "--run-key", "nightly", env=env).returncode == 1
    marker.write_text("fixed")
    again = jobctl("run", str(spec), "--run-key", "nightly", "--json", env=env)
    assert again.returncode == 0, again.stderr
    [doc] = json.loads(again.stdout)
    assert doc["state"] == "succeeded"
    table, _ = read_output(tmp_path / "out")
    assert sorted(table.column("id").to_pylist()) == list(range(100))
    events = json.loads(jobctl("events", str(doc["id"]), "--json", env=env).stdout)
    leased = Counter(e["chunk_id"] for e in events if e["kind"] == "chunk_leased")
    assert sorted(leased.values()) == [1] * (len(leased) - 1) + [2]  # only chunk 2 ran again
    done = jobctl("run", str(spec), "--run-key", "nightly", env=env)
    assert done.returncode == 0  # a finished run key is a no-op


def test_rollback(tmp_path: Path, env: dict[str, str]) -> None:
    spec = failing_spec(tmp_path, [], tmp_path / "unused")
    result = jobctl("run", str(spec), "--json", env=env)
    assert result.returncode == 0, result.stderr
    [doc] = json.loads(result.stdout)
    out = tmp_path / "out"
    _table, manifest = read_output(out)
    (out / "notes.txt").write_text("not jobctl's")
    rolled = json.loads(jobctl("rollback", str(doc["id"]), "--json", env=env).stdout)
    assert rolled["changed"] and len(rolled["removed"]) == len(manifest["parts"]) + 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    status = json.loads(jobctl("status", str(doc["id"]), "--json", env=env).stdout)
    assert status["state"] == "rolled_back"
    again = jobctl("rollback", str(doc["id"]), env=env)
    assert again.returncode == 0 and "already rolled back" in again.stdout
    events = json.loads(jobctl("events", str(doc["id"]), "--json", env=env).stdout)
    [event] = [e for e in events if e["kind"] == "job_state" and e["detail"]["to"] == "rolled_back"]
    assert event["detail"]["removed_files"] == len(manifest["parts"]) + 1

    (out / "notes.txt").unlink()  # an output in the way would refuse the submit
    pending = json.loads(jobctl("submit", str(spec), "--json", env=env).stdout)[0]
    refused = jobctl("rollback", str(pending["job_id"]), env=env)
    assert refused.returncode == 2
    assert "is pending" in refused.stderr and "cancel" in refused.stderr


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_retried_attempt_starts_from_the_last_checkpoint(
    tmp_path: Path, env: dict[str, str], how: str
) -> None:
    """Each chunk's first attempt checkpoints steps 1 and 2, then fails (a
    processor error, or its worker dies); the retry resumes after step 2."""
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: steps
              python: tests.procs:checkpointing
              params: {{steps: 5, fail_at: 2, how: {how}}}
              input: {{sequence: 3}}
              output: {{path: out/, format: parquet}}
              retries: {{max_attempts: 2, backoff: {{base: 0s, max: 0s}}}}
              executor: {{local: {{workers: 2}}}}
            """
        )
    )
    result = jobctl("run", str(spec), "--json", env=env)
    assert result.returncode == 0, result.stderr
    table, _ = read_output(tmp_path / "out")
    assert sorted(table.column("step").to_pylist()) == [2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert set(table.column("resumed").to_pylist()) == {True}
    [doc] = json.loads(result.stdout)
    events = json.loads(jobctl("events", str(doc["id"]), "--json", env=env).stdout)
    failed = Counter(e["kind"] for e in events if e["kind"] in ("chunk_failed", "chunk_lost"))
    assert failed == {"chunk_failed" if how == "raise" else "chunk_lost": 3}
