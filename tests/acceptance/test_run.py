"""`jobctl run` end to end: real worker processes, real store, real files."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from orchestrator.dispatch.finalize import publish, verify_output
from orchestrator.store import open_store
from tests.acceptance.cli import cli_env, jobctl, jobctl_popen


def write_csv_inputs(directory: Path, files: int = 2, rows: int = 60) -> pa.Table:
    """CSV files with the planner's edge cases; returns all rows, in file order."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = []
    for index in range(files):
        lines = ["id,name,note"]
        for i in range(rows):
            rid = index * 10_000 + i
            note = '"two\nlines, and ""quotes"""' if i % 7 == 0 else f"plain {i}"
            lines.append(f"{rid},name{i},{note}")
        newline = "\r\n" if index % 2 else "\n"
        path = directory / f"in-{index}.csv"
        path.write_bytes(("\ufeff" if index == 0 else "").encode() + newline.join(lines).encode())
        tables.append(pacsv.read_csv(path))
    return pa.concat_tables(tables)


def spec_text(body: str) -> str:
    return "version: 1\njobs:\n" + textwrap.indent(textwrap.dedent(body), "  ")


def read_output(out: Path) -> tuple[pa.Table, dict]:
    manifest = json.loads((out / "_SUCCESS").read_text())
    parts = [pq.read_table(out / part["file"]) for part in manifest["parts"]]
    for part, table in zip(manifest["parts"], parts, strict=True):
        assert part["rows"] == table.num_rows
    return pa.concat_tables(parts), manifest


def test_convert_csv_end_to_end(tmp_path: Path, env: dict[str, str]) -> None:
    expected = write_csv_inputs(tmp_path / "data")
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: csv-to-parquet
              type: convert
              input: {path: data/*.csv, format: csv}
              chunking: {bytes: 300B}
              output: {path: out/, format: parquet, compression: zstd}
              executor: {local: {workers: 2}}
            """
        )
    )
    result = jobctl("run", str(spec), env=env)
    assert result.returncode == 0, result.stderr
    table, manifest = read_output(tmp_path / "out")
    assert manifest["rows"] == expected.num_rows
    assert len(manifest["parts"]) > 4
    assert verify_output(tmp_path / "out") == []
    assert table.column("id").to_pylist() == expected.column("id").to_pylist()
    assert table.column("note").to_pylist() == expected.column("note").to_pylist()
    assert not list(tmp_path.glob(".out.jobctl-staging*/*"))
    doc = json.loads(jobctl("status", "csv-to-parquet", "--json", env=env).stdout)
    assert doc["state"] == "succeeded"
    assert doc["rows_in"] == doc["rows_out"] == expected.num_rows


def test_convert_parquet_end_to_end(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    expected = pa.table({"id": list(range(5000)), "name": [f"n{i}" for i in range(5000)]})
    pq.write_table(expected, data / "in.parquet", row_group_size=700)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: pq
              type: convert
              params: {rename: {name: label}}
              input: {path: data/in.parquet}
              chunking: {rows: 1000}
              output: {path: out, format: parquet, compression: snappy}
            """
        )
    )
    result = jobctl("run", str(spec), "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr
    table, manifest = read_output(tmp_path / "out")
    assert table.column_names == ["id", "label"]
    assert table.column("id").to_pylist() == list(range(5000))
    assert manifest["rows"] == 5000
    assert verify_output(tmp_path / "out") == []


def test_failed_chunk_then_resume(tmp_path: Path, env: dict[str, str]) -> None:
    write_csv_inputs(tmp_path / "data", files=1, rows=100)
    marker = tmp_path / "fixed"
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: flaky
              python: tests.procs:fail_on_seq
              params: {{seq: 2, fixed_marker: "{marker}"}}
              input: {{path: data/*.csv, format: csv}}
              chunking: {{bytes: 500B}}
              output: {{path: out/, format: parquet}}
              retries: {{max_attempts: 2, backoff: {{base: 0s, max: 0s}}}}
              executor: {{local: {{workers: 2}}}}
            """
        )
    )
    result = jobctl("run", str(spec), env=env)
    assert result.returncode == 1, result.stderr
    assert not (tmp_path / "out").exists()
    doc = json.loads(jobctl("status", "flaky", "--json", env=env).stdout)
    assert doc["state"] == "failed"
    [failed] = doc["failed_chunks"]
    assert failed["seq"] == 2
    assert failed["file"].endswith("in-0.csv")
    assert failed["stop"] > failed["start"]
    assert "RuntimeError: boom on chunk 2" in failed["error"]
    assert doc["chunks"]["succeeded"] == doc["chunks_total"] - 1

    marker.write_text("fixed")
    resumed = jobctl("resume", str(doc["id"]), env=env)
    assert resumed.returncode == 0, resumed.stderr
    table, manifest = read_output(tmp_path / "out")
    assert manifest["rows"] == 100
    assert sorted(table.column("id").to_pylist()) == list(range(100))
    events = json.loads(jobctl("events", str(doc["id"]), "--json", env=env).stdout)
    leased: dict[int, int] = {}
    for event in events:
        if event["kind"] == "chunk_leased":
            leased[event["chunk_id"]] = leased.get(event["chunk_id"], 0) + 1
    assert sorted(leased.values())[-1] == 3  # 2 failed attempts + the resumed one
    assert sorted(leased.values())[:-1] == [1] * (len(leased) - 1)


def worker_pids(parent: int) -> list[int]:
    """Live `orchestrator.worker` processes started by ``parent``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        state = stat.rsplit(")", 1)[1].split()[0]
        if ppid == parent and b"orchestrator.worker" in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def slow_spec(tmp_path: Path, seconds: float, name: str = "slow") -> Path:
    write_csv_inputs(tmp_path / "data", files=1, rows=120)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: {name}
              python: tests.procs:sleep_then_identity
              params: {{seconds: {seconds}}}
              input: {{path: data/*.csv, format: csv}}
              chunking: {{bytes: 400B}}
              output: {{path: out/, format: parquet}}
              executor: {{local: {{workers: 2}}}}
            """
        )
    )
    return spec


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_sigkill_of_a_worker_retries_its_chunk(tmp_path: Path, env: dict[str, str]) -> None:
    spec = slow_spec(tmp_path, seconds=0.5)
    run = jobctl_popen("run", str(spec), env=env)
    try:
        pids = wait_for(lambda: worker_pids(run.pid), 30, "worker processes")
        wait_for(
            lambda: (
                json.loads(jobctl("status", "slow", "--json", env=env).stdout or "{}")
                .get("chunks", {})
                .get("running")
            ),
            30,
            "a running chunk",
        )
        os.kill(pids[0], signal.SIGKILL)
        _out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    table, _manifest = read_output(tmp_path / "out")
    ids = table.column("id").to_pylist()
    assert sorted(ids) == list(range(120))  # complete, and no duplicate rows
    doc = json.loads(jobctl("status", "slow", "--json", env=env).stdout)
    events = json.loads(jobctl("events", str(doc["id"]), "--json", env=env).stdout)
    assert any(event["kind"] == "chunk_lost" for event in events)


@pytest.mark.parametrize("db_url", ["postgres", "sqlite"], indirect=True)
def test_cancel_stops_a_run_quickly(tmp_path: Path, env: dict[str, str]) -> None:
    spec = slow_spec(tmp_path, seconds=60, name="long")
    run = jobctl_popen("run", str(spec), env=env)
    try:
        wait_for(lambda: worker_pids(run.pid), 30, "worker processes")
        wait_for(
            lambda: (
                json.loads(jobctl("status", "long", "--json", env=env).stdout or "{}")
                .get("chunks", {})
                .get("running")
            ),
            30,
            "a running chunk",
        )
        pids = worker_pids(run.pid)
        cancelled = jobctl("cancel", "long", env=env)
        assert cancelled.returncode == 0, cancelled.stderr
        started = time.monotonic()
        run.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 4
    assert took < 5.0, f"run took {took:.1f}s to stop after cancel"
    assert not (tmp_path / "out").exists()
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    doc = json.loads(jobctl("status", "long", "--json", env=env).stdout)
    assert doc["state"] == "cancelled"


def test_a_new_store_never_takes_an_older_output_for_its_own(tmp_path: Path) -> None:
    """Job ids restart at 1 in a new store: its job 1 must publish, not find
    the previous store's job 1 in ``_SUCCESS`` and believe it is done."""
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """\
            - name: again
              type: convert
              input: {path: data/*.csv, format: csv}
              output: {path: out/, format: parquet, mode: overwrite}
              executor: {local: {workers: 1}}
            """
        )
    )
    for index, rows in enumerate((30, 50)):
        expected = write_csv_inputs(tmp_path / "data", files=1, rows=rows)
        env = cli_env(tmp_path, f"sqlite:///{tmp_path / f'store-{index}.db'}")
        result = jobctl("run", str(spec), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        table, manifest = read_output(tmp_path / "out")
        assert manifest["job_id"] == 1
        assert sorted(table.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
    # nothing left behind: no staging area, no replaced output
    assert sorted(p.name for p in tmp_path.glob(".out*")) == []


def test_a_publish_that_finds_itself_done_removes_what_a_killed_one_left(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    """A coordinator killed between the swap and the tidy-up leaves the job's
    staging area (holding the replaced output) and, on the two-rename
    fallback, the output it moved aside; the next publish finds the output
    already published and removes both, leaving the output as it was."""
    write_csv_inputs(tmp_path / "data", files=1, rows=20)
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            """            - name: tidy
              type: convert
              input: {path: data/*.csv, format: csv}
              output: {path: out/, format: parquet, mode: overwrite}
              executor: {local: {workers: 1}}
            """
        )
    )
    assert jobctl("run", str(spec), env=env, cwd=tmp_path).returncode == 0
    job_id = json.loads(jobctl("status", "tidy", "--json", env=env).stdout)["id"]
    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    left = [
        tmp_path / ".out.jobctl-staging" / f"job-{job_id}" / "publish" / "part-00000.parquet",
        tmp_path / f".out.jobctl-replaced-{job_id}" / "part-00000.parquet",
    ]
    for path in left:
        path.parent.mkdir(parents=True)
        path.write_text("the replaced output")

    with closing(open_store(db_url)) as store:
        again = publish(store, job_id)

    assert again == manifest
    assert sorted(p.name for p in tmp_path.glob(".out*")) == []
    assert verify_output(tmp_path / "out") == []
