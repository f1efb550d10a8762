"""`jobctl serve`: a long-running dispatcher for everything queued, with honest priorities."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.store import open_store
from orchestrator.store.base import Store
from tests.acceptance.cli import cli_env, jobctl, jobctl_popen
from tests.acceptance.test_run import read_output


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def serving(*args: str, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """A `jobctl serve` for the duration of the block, stopped with SIGTERM."""
    proc = jobctl_popen("serve", *args, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise


def job_spec(path: Path, jobs: list[str]) -> Path:
    path.write_text("version: 1\njobs:\n" + "".join(jobs))
    return path


def logged_job(name: str, chunks: int, log: Path, seconds: float, priority: str = "NORMAL") -> str:
    return (
        f"  - name: {name}\n"
        f"    priority: {priority}\n"
        "    python: tests.procs:log_start\n"
        f"    params: {{log: '{log}', seconds: {seconds}}}\n"
        f"    input: {{sequence: {chunks}}}\n"
    )


def submit(spec: Path, env: dict[str, str], cwd: Path) -> list[int]:
    result = jobctl("submit", str(spec), "--json", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [int(item["job_id"]) for item in json.loads(result.stdout)]


def states(store: Store, ids: list[int]) -> dict[int, str]:
    return {record.id: record.state.value for record in store.get_jobs(ids)}


def started(log: Path) -> list[tuple[str, int, int]]:
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(name, int(seq), int(attempt)) for name, seq, attempt in rows]


def test_serve_runs_what_is_submitted_and_stops_on_sigterm(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("nightly", 6, log, 0.05)])
    store = open_store(db_url)
    try:
        with serving("--workers", "2", env=env, cwd=tmp_path) as proc:
            time.sleep(1.0)  # serve is idle: nothing queued yet
            [job_id] = submit(spec, env, tmp_path)
            wait_for(lambda: states(store, [job_id])[job_id] == "succeeded", 60, "the job to end")
            events = store.list_events(job_id)
            submitted = next(e.at for e in events if e.kind == "job_submitted")
            first_lease = min(e.at for e in events if e.kind == "chunk_leased")
            assert (first_lease - submitted).total_seconds() < 5
            [job2] = submit(spec, env, tmp_path)  # a second submit with a new run key
            wait_for(lambda: states(store, [job2])[job2] == "succeeded", 60, "the second job")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=40)
        assert proc.returncode == 0
        assert sorted(started(log)) == sorted(
            [("nightly", seq, 1) for seq in range(6)] * 2
        )  # each chunk of each job ran once
    finally:
        store.close()


def test_priority_order_and_fair_share_within_a_priority(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    log = tmp_path / "started.log"
    names = [("a", "NORMAL"), ("b", "NORMAL"), ("c", "LOW"), ("d", "HIGH"), ("e", "NORMAL")]
    ids = []
    for name, priority in names:  # one submit each: submit order is the FIFO order
        spec = job_spec(tmp_path / f"{name}.yaml", [logged_job(name, 2, log, 0.05, priority)])
        ids += submit(spec, env, tmp_path)
    store = open_store(db_url)
    try:
        with serving("--workers", "1", env=env, cwd=tmp_path):
            wait_for(
                lambda: set(states(store, ids).values()) == {"succeeded"}, 90, "all jobs to end"
            )
    finally:
        store.close()
    order = [name for name, _seq, _attempt in started(log)]
    # strict priority across levels; the NORMAL jobs take turns (fair share)
    assert order == ["d", "d", "a", "b", "e", "a", "b", "e", "c", "c"]


def test_equal_priority_jobs_share_the_slots(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    """Two jobs of one priority submitted one after the other both make
    progress, interleaved: the later one does not wait behind the whole first."""
    log = tmp_path / "started.log"
    ids = []
    for name in ("first", "second"):
        spec = job_spec(tmp_path / f"{name}.yaml", [logged_job(name, 6, log, 0.2)])
        ids += submit(spec, env, tmp_path)
    store = open_store(db_url)
    try:
        with serving("--workers", "2", env=env, cwd=tmp_path):
            wait_for(lambda: set(states(store, ids).values()) == {"succeeded"}, 90, "both jobs")
    finally:
        store.close()
    order = [name for name, _seq, _attempt in started(log)]
    last_first = max(i for i, name in enumerate(order) if name == "first")
    first_second = order.index("second")
    assert first_second < last_first, order  # FIFO would run every "first" chunk before


def test_urgent_job_preempts_low_jobs_without_spending_attempts(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    log = tmp_path / "started.log"
    low = job_spec(tmp_path / "low.yaml", [logged_job("low", 4, log, 3.0, "LOW")])
    urgent = job_spec(tmp_path / "urgent.yaml", [logged_job("urgent", 2, log, 0.2, "URGENT")])
    store = open_store(db_url)
    try:
        [low_id] = submit(low, env, tmp_path)
        with serving("--workers", "2", env=env, cwd=tmp_path):
            wait_for(lambda: len(started(log)) >= 2, 30, "LOW chunks to fill both slots")
            [urgent_id] = submit(urgent, env, tmp_path)
            ids = [low_id, urgent_id]
            wait_for(
                lambda: set(states(store, ids).values()) == {"succeeded"}, 90, "both jobs to end"
            )
        events = store.list_events(urgent_id)
        submitted = next(e.at for e in events if e.kind == "job_submitted")
        first_lease = min(e.at for e in events if e.kind == "chunk_leased")
        assert (first_lease - submitted).total_seconds() < 5
        low_events = store.list_events(low_id)
        kinds = [e.kind for e in low_events]
        assert "chunk_preempted" in kinds and "chunk_released" in kinds
        assert "chunk_failed" not in kinds and "chunk_lost" not in kinds
        assert kinds.count("chunk_succeeded") == 4
        chunks = store.list_chunks(low_id)
        assert [(c.attempts, c.infra_attempts) for c in chunks] == [(0, 0)] * 4
    finally:
        store.close()
    runs = started(log)
    first_urgent = next(i for i, run in enumerate(runs) if run[0] == "urgent")
    assert [r[0] for r in runs[:first_urgent]] == ["low", "low"]  # preempted, not waited for
    low_runs = [r for r in runs if r[0] == "low"]
    assert {seq for _name, seq, _attempt in low_runs} == {0, 1, 2, 3}
    assert all(attempt == 1 for _name, _seq, attempt in low_runs)  # no attempt spent


def test_update_priority(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("later", 1, log, 0)])
    [job_id] = submit(spec, env, tmp_path)
    result = jobctl("update", str(job_id), "--priority", "urgent", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"id": job_id, "name": "later", "priority": "URGENT"}
    listed = json.loads(jobctl("list", "--json", env=env).stdout)
    assert listed[0]["priority"] == "URGENT"
    events = json.loads(jobctl("events", str(job_id), "--json", env=env).stdout)
    assert [e["detail"] for e in events if e["kind"] == "job_priority"] == [
        {"from": "NORMAL", "to": "URGENT"}
    ]
    bad = jobctl("update", str(job_id), "--priority", "asap", env=env)
    assert bad.returncode == 2 and "not a priority" in bad.stderr
    jobctl("cancel", str(job_id), env=env)
    ended = jobctl("update", str(job_id), "--priority", "LOW", env=env)
    assert ended.returncode != 0 and "cancelled" in ended.stderr


def test_two_serves_share_one_sqlite_file(tmp_path: Path, sqlite_url: str) -> None:
    """SQLite serializes writers; a second coordinator on the same file works
    (never a "database is locked" traceback) and no chunk runs twice."""
    env = cli_env(tmp_path, sqlite_url)
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("shared", 40, log, 0.02)])
    [job_id] = submit(spec, env, tmp_path)
    first = jobctl_popen("serve", "--workers", "1", env=env, cwd=tmp_path)
    store = open_store(sqlite_url)
    try:
        with serving("--workers", "1", env=env, cwd=tmp_path):
            wait_for(lambda: states(store, [job_id])[job_id] == "succeeded", 90, "the job")
        owners = {e.detail["owner"] for e in store.list_events(job_id) if e.kind == "chunk_leased"}
    finally:
        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=40)
        store.close()
    assert first.returncode == 0 and "Traceback" not in err and "locked" not in err
    assert len(owners) == 2  # both served it
    assert sorted(started(log)) == [("shared", seq, 1) for seq in range(40)]


def test_a_preempted_checkpointing_chunk_resumes_from_its_checkpoint(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    low = job_spec(
        tmp_path / "low.yaml",
        [
            "  - name: low\n    priority: LOW\n    python: tests.procs:checkpointing\n"
            "    params: {steps: 12, step_seconds: 0.4}\n    input: {sequence: 2}\n"
            "    output: {path: out/low/, format: parquet}\n"
        ],
    )
    urgent = job_spec(
        tmp_path / "urgent.yaml", [logged_job("urgent", 2, tmp_path / "u.log", 0.2, "URGENT")]
    )
    store = open_store(db_url)
    try:
        [low_id] = submit(low, env, tmp_path)
        with serving("--workers", "2", env=env, cwd=tmp_path):

            def steps_saved() -> int:
                return sum(1 for c in store.list_chunks(low_id) if c.checkpoint)

            wait_for(lambda: steps_saved() == 2, 30, "both LOW chunks to checkpoint")
            [urgent_id] = submit(urgent, env, tmp_path)
            ids = [low_id, urgent_id]
            wait_for(
                lambda: set(states(store, ids).values()) == {"succeeded"}, 90, "both jobs to end"
            )
        assert "chunk_preempted" in [e.kind for e in store.list_events(low_id)]
        assert [(c.attempts, c.infra_attempts) for c in store.list_chunks(low_id)] == [(0, 0)] * 2
    finally:
        store.close()
    table, _manifest = read_output(tmp_path / "out" / "low")
    resumed = table.filter(table.column("resumed")).column("step").to_pylist()
    assert resumed and min(resumed) > 0  # the stopped chunks went on from their checkpoints
    assert len(table) < 2 * 12  # steps done before the preemption did not run again


def test_a_short_job_is_published_while_a_long_one_still_runs(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    """A served job is settled when its own chunks are done, not when the other
    jobs served with it run out of chunks to lease."""
    log = tmp_path / "started.log"
    short = job_spec(tmp_path / "short.yaml", [logged_job("short", 2, log, 0.05)])
    long = job_spec(tmp_path / "long.yaml", [logged_job("long", 10, log, 0.5)])
    store = open_store(db_url)
    try:
        [short_id] = submit(short, env, tmp_path)
        [long_id] = submit(long, env, tmp_path)
        with serving("--workers", "2", env=env, cwd=tmp_path):
            wait_for(lambda: states(store, [short_id])[short_id] == "succeeded", 60, "short")
            left = [c for c in store.list_chunks(long_id) if c.state.value == "pending"]
            assert states(store, [long_id])[long_id] == "running"
            assert left, "the short job was settled only once the long one had nothing to lease"
            wait_for(lambda: states(store, [long_id])[long_id] == "succeeded", 90, "long")
    finally:
        store.close()
