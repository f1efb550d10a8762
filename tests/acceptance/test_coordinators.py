"""Several coordinators on one PostgreSQL: two `serve` and one `run`, one of them killed."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from orchestrator.store import open_store
from tests.acceptance.cli import cli_env, jobctl_popen
from tests.acceptance.test_run import read_output
from tests.acceptance.test_serve import job_spec, states, submit, wait_for

JOBS = {"bulk": (400, "LOW"), "reports": (300, "HIGH"), "adhoc": (300, "NORMAL")}


def seq_job(name: str) -> str:
    chunks, priority = JOBS[name]
    return (
        f"  - name: {name}\n"
        f"    priority: {priority}\n"
        "    python: tests.procs:emit_seq\n"
        "    params: {seconds: 0.01}\n"
        f"    input: {{sequence: {chunks}}}\n"
        f"    output: {{path: out/{name}/, format: parquet}}\n"
        "    timeouts: {heartbeat: 1s, lease: 4s}\n"
        "    executor: {local: {workers: 1}}\n"
    )


@pytest.mark.timeout(300)
def test_two_serves_and_a_run_share_the_work_exactly_once(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)
    queued = submit(
        job_spec(tmp_path / "queued.yaml", [seq_job("bulk"), seq_job("reports")]), env, tmp_path
    )
    serves = [jobctl_popen("serve", "--workers", "1", env=env, cwd=tmp_path) for _ in range(2)]
    store = open_store(pg_url)
    try:
        run = jobctl_popen(
            "run", str(job_spec(tmp_path / "adhoc.yaml", [seq_job("adhoc")])), env=env, cwd=tmp_path
        )

        def done() -> int:
            return sum(store.job_progress(job_id).done for job_id in queued)

        wait_for(lambda: done() >= 150, 120, "a quarter of the work")
        serves[0].send_signal(signal.SIGKILL)  # mid-way, chunks in flight
        serves[0].wait(timeout=10)
        assert run.wait(timeout=240) == 0, run.communicate()
        wait_for(
            lambda: set(states(store, queued).values()) == {"succeeded"}, 240, "the queued jobs"
        )
        all_ids = [*queued, *[r.id for r in store.list_jobs() if r.name == "adhoc"]]
        assert set(states(store, all_ids).values()) == {"succeeded"}

        owners: set[str] = set()
        for job_id in all_ids:
            record = store.get_job(job_id)
            events = store.list_events(job_id)
            succeeded = Counter(e.chunk_id for e in events if e.kind == "chunk_succeeded")
            chunks = store.list_chunks(job_id)
            assert len(chunks) == JOBS[record.name][0]
            assert set(succeeded.values()) == {1} and set(succeeded) == {c.id for c in chunks}
            tokens: dict[int, list[int]] = defaultdict(list)
            for e in events:
                if e.kind == "chunk_leased":
                    tokens[e.chunk_id].append(int(e.detail["fencing_token"]))
                    owners.add(str(e.detail["owner"]))
            for chunk in chunks:  # each lease a new token; the commit under the last one
                assert tokens[chunk.id] == sorted(set(tokens[chunk.id]))
                assert chunk.fencing_token == tokens[chunk.id][-1]
            table, _manifest = read_output(tmp_path / "out" / record.name)
            assert sorted(table.column("seq").to_pylist()) == list(range(JOBS[record.name][0]))
            assert set(table.column("job").to_pylist()) == {record.name}
        assert len(owners) >= 3  # both serves and the run leased chunks
    finally:
        for proc in serves:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in serves:
            try:
                proc.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        store.close()
