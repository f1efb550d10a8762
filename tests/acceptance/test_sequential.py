"""``strategy: sequential`` through `jobctl run`: one chunk at a time, in input
order, its processor carrying ``ctx.state`` from chunk to chunk (committed with
the chunk's outcome, so a killed worker's attempt never counts twice)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl, jobctl_popen

SPEC = """version: 1
jobs:
  - name: totals
    python: tests.phase_procs:running_total
    strategy: sequential
    params: {{log: {log}, hang_seq: {hang}, pid_file: {pid}}}
    input: {{path: in.csv, format: csv}}
    chunking: {{bytes: 1KB}}
    output: {{path: out/, format: parquet}}
    executor: {{local: {{workers: 3}}}}
"""


def _write(tmp_path: Path, hang: int = -1) -> list[int]:
    amounts = [(i * 37) % 101 for i in range(700)]
    lines = ["id,amount"] + [f"{i},{a}" for i, a in enumerate(amounts)]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    spec = SPEC.format(log=tmp_path / "calls.log", hang=hang, pid=tmp_path / "worker.pid")
    (tmp_path / "jobs.yaml").write_text(spec)
    return amounts


def _output(out: Path) -> pa.Table:
    manifest = json.loads((out / "_SUCCESS").read_text())
    return pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])


def _calls(tmp_path: Path) -> list[tuple[str, int]]:
    lines = (tmp_path / "calls.log").read_text().split()
    return [(lines[i], int(lines[i + 1])) for i in range(0, len(lines), 3)]


def _check(tmp_path: Path, amounts: list[int]) -> None:
    table = _output(tmp_path / "out")
    assert table.column("id").to_pylist() == list(range(len(amounts)))  # input order
    assert table.column("total").to_pylist() == list(itertools.accumulate(amounts))
    calls = _calls(tmp_path)
    ended = [seq for what, seq in calls if what == "end"]
    assert ended == sorted(ended) and len(ended) == len(set(ended)) > 3
    for (what, seq), (_next, next_seq) in itertools.pairwise(calls):
        if what == "start":  # the next call is its end, or a retry of it (a killed attempt)
            assert next_seq == seq, calls


def test_sequential_runs_one_chunk_at_a_time_in_order_with_carried_state(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = cli_env(tmp_path, sqlite_url)  # PostgreSQL: the worker-kill test below
    amounts = _write(tmp_path)
    assert jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path).returncode == 0
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _check(tmp_path, amounts)


def test_sequential_state_survives_a_worker_kill(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)
    amounts = _write(tmp_path, hang=2)
    proc = jobctl_popen("run", "jobs.yaml", env=env, cwd=tmp_path)
    try:
        pid_file = tmp_path / "worker.pid"
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), "chunk 2 never started"
        time.sleep(0.1)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    _check(tmp_path, amounts)
    calls = _calls(tmp_path)
    assert calls.count(("start", 2)) == 2 and calls.count(("end", 2)) == 1
