"""The CLI shell as a user meets it: validate, submit, status, list, cancel, events, db."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from tests.acceptance.cli import cli_env, jobctl, jobctl_argv


def write_spec(tmp_path: Path, rows: int = 30, files: int = 2) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for index in range(files):
        lines = ["id,name"] + [f"{index * 1000 + i},n{i}" for i in range(rows)]
        (data / f"part{index}.csv").write_text("\n".join(lines) + "\n")
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            version: 1
            jobs:
              - name: to-parquet
                type: convert
                input: {path: data/*.csv, format: csv}
                chunking: {rows: 10}
                output: {path: out/, format: parquet, mode: error_if_exists}
            """
        )
    )
    return spec


def test_version() -> None:
    result = subprocess.run([*jobctl_argv(), "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("jobctl ")


def test_submit_then_status_json_round_trip(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(tmp_path)
    submitted = jobctl("submit", str(spec), "--json", env=env)
    assert submitted.returncode == 0, submitted.stderr
    [job] = json.loads(submitted.stdout)
    assert job["created"] is True and job["chunks"] >= 6

    status = jobctl("status", str(job["job_id"]), "--json", env=env)
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["id"] == job["job_id"]
    assert doc["name"] == "to-parquet"
    assert doc["state"] == "pending"
    assert doc["chunks"]["pending"] == job["chunks"]
    assert doc["chunks_total"] == job["chunks"]
    assert doc["rows_in"] == 0 and doc["rows_out"] == 0

    by_name = json.loads(jobctl("status", "to-parquet", "--json", env=env).stdout)
    assert by_name["id"] == job["job_id"]
    listed = json.loads(jobctl("list", "--state", "pending", "--json", env=env).stdout)
    assert [row["id"] for row in listed] == [job["job_id"]]


def test_same_run_key_is_one_job(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(tmp_path)
    procs = [
        subprocess.Popen(
            [*jobctl_argv(), "submit", str(spec), "--run-key", "k1", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    ids = {json.loads(out)[0]["job_id"] for out, _ in outputs}
    assert len(ids) == 1
    listed = json.loads(jobctl("list", "--json", env=env).stdout)
    assert len(listed) == 1


def test_cancel_is_idempotent_and_logged(tmp_path: Path, env: dict[str, str]) -> None:
    spec = write_spec(tmp_path)
    [job] = json.loads(jobctl("submit", str(spec), "--json", env=env).stdout)
    first = jobctl("cancel", str(job["job_id"]), "--json", env=env)
    second = jobctl("cancel", str(job["job_id"]), "--json", env=env)
    assert json.loads(first.stdout) == {"id": job["job_id"], "state": "cancelled", "changed": True}
    assert json.loads(second.stdout)["changed"] is False
    doc = json.loads(jobctl("status", str(job["job_id"]), "--json", env=env).stdout)
    assert doc["state"] == "cancelled"
    assert doc["chunks"]["cancelled"] == job["chunks"]
    events = json.loads(jobctl("events", str(job["job_id"]), "--json", env=env).stdout)
    kinds = [event["kind"] for event in events]
    assert kinds[0] == "job_submitted"
    assert "job_cancelled" in kinds
    assert all(event["actor"]["pid"] > 0 and event["actor"]["user"] for event in events)


def test_broken_spec_exits_2_and_writes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: x\n    type: convert\n    chunkng: {rows: 5}\n"
        "    priority: SOON\n    input: {path: data/*.csv}\n"
    )
    result = jobctl("submit", str(spec), env=env)
    assert result.returncode == 2
    assert f"{spec}:5" in result.stderr and "chunking" in result.stderr
    assert f"{spec}:6" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(jobctl("list", "--json", env=env).stdout) == []


def test_missing_job_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = jobctl("status", "no-such-job", env=env)
    assert result.returncode == 2
    assert "no-such-job" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_3_without_password(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    url = "postgresql://etl:hunter2secret@127.0.0.1:1/x"
    result = jobctl("status", "--db", url, env=env, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_embedded_store_notice_and_db_commands(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = jobctl("list", env=env)
    assert result.returncode == 0, result.stderr
    db_file = tmp_path / "data" / "jobctl" / "jobctl.db"
    assert str(db_file) in result.stderr
    assert db_file.exists()
    status = json.loads(jobctl("db", "status", "--json", env=env).stdout)
    assert status["up_to_date"] is True
    upgraded = json.loads(jobctl("db", "upgrade", "--json", env=env).stdout)
    assert upgraded["applied"] == []


def test_validate_example_spec() -> None:
    example = Path(__file__).resolve().parents[2] / "jobs.example.yaml"
    result = subprocess.run(
        [*jobctl_argv(), "validate", str(example)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
