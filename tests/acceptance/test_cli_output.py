"""What the CLI prints: honest rates, JSON errors, tables, help, names of jobs and chunks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, jobctl, jobctl_popen
from tests.acceptance.test_run import spec_text

ROWS = 3000
CHUNK_ROWS = 250
CHUNK_SECONDS = 0.5  # 12 chunks on one worker: about 6 s of work


def write_rows(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,name\n" + "".join(f"{i},name{i}\n" for i in range(rows)))


def paced_spec(tmp_path: Path, name: str = "paced") -> Path:
    """A job of ROWS rows whose chunks each sleep CHUNK_SECONDS, on one worker."""
    write_rows(tmp_path / "data" / "in.csv", ROWS)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: {name}
              python: tests.procs:sleep_then_identity
              params: {{seconds: {CHUNK_SECONDS}}}
              input: {{path: data/in.csv, format: csv}}
              chunking: {{rows: {CHUNK_ROWS}}}
              output: {{path: out/, format: parquet}}
              executor: {{local: {{workers: 1}}}}
            """
        )
    )
    return spec


def failing_spec(tmp_path: Path, max_attempts: int) -> Path:
    write_rows(tmp_path / "data" / "in.csv", 40)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: flaky
              python: tests.procs:fail_on_seq
              params: {{seq: 1}}
              input: {{path: data/in.csv, format: csv}}
              chunking: {{rows: 10}}
              output: {{path: out/, format: parquet}}
              retries: {{max_attempts: {max_attempts}, backoff: {{base: 0s, max: 0s}}}}
              executor: {{local: {{workers: 1}}}}
            """
        )
    )
    return spec


def rates(text: str) -> list[float]:
    """Every ``N rows/s`` figure printed (``1,234 rows/s``, ``1.2k rows/s``)."""
    found = []
    for number, unit in re.findall(r"([\d,.]+)([kMG]?) rows/s", text):
        found.append(float(number.replace(",", "")) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[unit])
    return found


def test_watch_rates_are_rows_over_the_time_they_took(tmp_path: Path, env: dict[str, str]) -> None:
    spec = paced_spec(tmp_path)
    run = jobctl_popen("run", str(spec), env=env)
    try:
        started = None
        deadline = time.monotonic() + 60
        while started is None and time.monotonic() < deadline:
            listed = jobctl("list", "--json", env=env)
            if listed.returncode == 0 and listed.stdout.strip():
                jobs = json.loads(listed.stdout)
                if jobs and jobs[0]["state"] == "running":
                    started = time.monotonic()
                    job_id = jobs[0]["id"]
            time.sleep(0.05)
        assert started is not None, "the job never ran"
        time.sleep(2.0)  # the watch starts while the job is half done
        watch = jobctl("status", str(job_id), "--watch", env=env, timeout=120)
        ended = time.monotonic()
        assert run.wait(timeout=60) == 0, run.stderr.read() if run.stderr else ""
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert watch.returncode == 0, watch.stderr
    measured = ROWS / (ended - started)
    printed = rates(watch.stdout + watch.stderr)
    assert len(printed) >= 2, watch.stdout + watch.stderr  # a watch line and the summary
    for rate in printed:
        assert abs(rate - measured) <= 0.2 * measured, (rate, measured, watch.stderr)

    # A finished job watched later: its own rows over its own run, not over the watch.
    again = jobctl("status", str(job_id), "--watch", env=env)
    printed = rates(again.stdout + again.stderr)
    assert printed
    for rate in printed:
        assert abs(rate - measured) <= 0.2 * measured, (rate, measured, again.stderr)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_retries_count_attempts_beyond_the_first(tmp_path: Path, env: dict[str, str]) -> None:
    assert jobctl("run", str(failing_spec(tmp_path, 1)), env=env).returncode == 1
    doc = json.loads(jobctl("status", "flaky", "--json", env=env).stdout)
    assert doc["chunks"]["dead"] == 1
    assert doc["retries"] == 0  # one attempt, no retry
    assert "retries: 0" in jobctl("status", "flaky", env=env).stdout

    other = tmp_path / "two"
    other.mkdir()
    assert jobctl("run", str(failing_spec(other, 3)), env=env).returncode == 1
    doc = json.loads(jobctl("status", "flaky", "--json", env=env).stdout)
    assert doc["retries"] == 2  # three attempts of the failing chunk


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_submit_twice_prints_the_existing_jobs_chunks_and_inputs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    spec = failing_spec(tmp_path, 1)
    first = jobctl("submit", str(spec), "--run-key", "sub1", "--json", env=env)
    second = jobctl("submit", str(spec), "--run-key", "sub1", "--json", env=env)
    [made], [found] = json.loads(first.stdout), json.loads(second.stdout)
    assert made["created"] and not found["created"]
    assert (found["job_id"], found["chunks"], found["inputs"]) == (made["job_id"], 4, 1)
    text = jobctl("submit", str(spec), "--run-key", "sub1", env=env).stdout
    assert "exists" in text and "4 chunk(s) from 1 input(s)" in text


def test_json_errors_are_a_json_object_on_stdout(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\njobs:\n  - name: x\n    type: nosuchtype\n")
    cases = [
        (["validate", str(bad), "--json"], 2),
        (["status", "no-such-job", "--json"], 2),
        (["list", "--limit", "0", "--json"], 2),
        (["queue", "pause", "-bad-", "--json"], 2),
        (["status", "--json", "--db", "postgresql://127.0.0.1:1/none?connect_timeout=2"], 3),
    ]
    for args, code in cases:
        result = jobctl(*args, env=env)
        assert result.returncode == code, (args, result.stderr)
        doc = json.loads(result.stdout)
        assert doc["exit_code"] == code and doc["error"], (args, doc)
    doc = json.loads(jobctl("validate", str(bad), "--json", env=env).stdout)
    assert doc["issues"][0]["line"] in (3, 4) and doc["issues"][0]["file"].endswith("bad.yaml")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_listings_are_aligned_tables_with_headers(tmp_path: Path, env: dict[str, str]) -> None:
    spec = failing_spec(tmp_path, 1)
    jobctl("submit", str(spec), "--run-key", "a", env=env)
    jobctl("submit", str(spec), "--run-key", "a-much-longer-run-key", env=env)
    for args, head in (
        (["list"], ["id", "name", "state"]),
        (["status"], ["id", "name", "state"]),
        (["queue", "list"], ["queue", "state", "limit"]),
    ):
        lines = jobctl(*args, env=env).stdout.splitlines()
        assert lines[0].split()[: len(head)] == head, lines
        assert "\t" not in "\n".join(lines)
        column = lines[0].index(head[1])  # every row's second column starts under its head
        for line in lines[1:]:
            assert line[column - 2 : column] == "  " and line[column] != " ", lines
    jobctl("hosts", "add", "h1", "--address", "127.0.0.1", env=env)
    again = jobctl("hosts", "add", "h1", "--json", env=env)  # exists: an error, as JSON
    assert again.returncode == 2 and "exists" in json.loads(again.stdout)["error"]
    lines = jobctl("hosts", "list", env=env).stdout.splitlines()
    assert lines[0].split()[:3] == ["host", "address", "state"] and lines[1].startswith("h1 ")


def test_help_shows_no_type_labels(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    for args in (["status"], ["list"], ["submit"], ["hosts", "add"], ["dlq", "retry"], []):
        text = jobctl(*args, "--help", env=env).stdout
        for label in ("<bool>", "<str>", "<list[str]>", "<int range>", "[x>=1]", "{spec}", "{"):
            assert label not in text, (args, label, text)
    assert "Usage: jobctl submit [OPTIONS] SPEC" in jobctl("submit", "--help", env=env).stdout


def test_the_embedded_store_is_named_once_when_it_is_created(tmp_path: Path) -> None:
    env = cli_env(tmp_path)  # no database URL: the embedded store
    first = jobctl("list", env=env)
    assert first.returncode == 0 and "embedded store" in first.stderr
    for args in (["list"], ["status"], ["queue", "list"]):
        again = jobctl(*args, env=env)
        assert again.returncode == 0 and "embedded store" not in again.stderr, args


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_events_name_the_jobs_chunk_number_and_round_durations(
    tmp_path: Path, env: dict[str, str]
) -> None:
    spec = failing_spec(tmp_path, 1)
    jobctl("run", str(spec), "--run-key", "first", env=env)  # chunk ids 1-4 in the store
    jobctl("run", str(spec), "--run-key", "second", env=env)  # its chunk ids are 5-8
    events = json.loads(jobctl("events", "second", "--json", env=env).stdout)
    by_chunk = [(e["chunk_id"], e["chunk"]) for e in events if e["chunk_id"] is not None]
    assert by_chunk and all(chunk_id != seq for chunk_id, seq in by_chunk)
    assert {seq for _, seq in by_chunk} == {0, 1, 2, 3}
    text = jobctl("events", "second", env=env).stdout
    assert "chunk 1 " in text and "chunk 7 " not in text, text
    assert "duration=" in text and not re.search(r"\d\.\d{4,}", text), text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_job_is_named_by_its_run_key(tmp_path: Path, env: dict[str, str]) -> None:
    spec = failing_spec(tmp_path, 1)
    [made] = json.loads(
        jobctl("submit", str(spec), "--run-key", "nightly-7", "--json", env=env).stdout
    )
    doc = json.loads(jobctl("status", "nightly-7", "--json", env=env).stdout)
    assert doc["id"] == made["job_id"] and doc["run_key"] == "nightly-7"
    cancelled = json.loads(jobctl("cancel", "nightly-7", "--json", env=env).stdout)
    assert cancelled["id"] == made["job_id"]
