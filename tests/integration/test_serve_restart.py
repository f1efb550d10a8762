"""`jobctl serve` against a PostgreSQL server restarted under it (`pg_ctl restart`
of a throwaway cluster): serve keeps going, its LISTEN channel comes back, the
job it served succeeds, and the pool's warnings go to the log, not the screen."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg

from orchestrator.errors import StoreUnavailable
from orchestrator.store import open_store
from orchestrator.store.base import Store
from tests.acceptance.cli import cli_env, jobctl_popen
from tests.acceptance.test_serve import job_spec, logged_job, states, submit, wait_for
from tests.fault.conftest import Cluster, own_postgres

__all__ = ["own_postgres"]  # the fixture, reused


def listening_sessions(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE query ILIKE '%LISTEN jobctl_jobs%' AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def state_of(store: Store, job_id: int) -> str | None:
    """The job's state, None while the test's own connections reconnect."""
    try:
        return states(store, [job_id])[job_id]
    except StoreUnavailable:
        return None


def test_serve_survives_a_postgres_restart(own_postgres: Cluster, tmp_path: Path) -> None:
    env = cli_env(tmp_path, own_postgres.url)
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("restarted", 16, log, 0.3)])
    [job_id] = submit(spec, env, tmp_path)
    store = open_store(own_postgres.url)
    proc = jobctl_popen("serve", "--workers", "2", env=env, cwd=tmp_path)
    try:
        wait_for(lambda: listening_sessions(own_postgres.url) == 1, 30, "serve to LISTEN")
        wait_for(lambda: len(log.read_text().splitlines()) >= 4 if log.exists() else False,
                 30, "chunks to run")  # fmt: skip
        restarted = threading.Event()

        def restart() -> None:
            own_postgres.restart_immediate()
            restarted.set()

        threading.Thread(target=restart, daemon=True).start()
        wait_for(restarted.is_set, 60, "the server to restart")
        assert proc.poll() is None, proc.communicate()[1]
        wait_for(lambda: listening_sessions(own_postgres.url) == 1, 30, "LISTEN again")
        wait_for(lambda: state_of(store, job_id) == "succeeded", 90, "the job")
        # a job submitted after the restart is served too
        [second] = submit(job_spec(tmp_path / "b.yaml", [logged_job("after", 2, log, 0)]), env,
                          tmp_path)  # fmt: skip
        wait_for(lambda: state_of(store, second) == "succeeded", 60, "the second job")
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        store.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "error connecting" not in err, err
    coordinator_log = tmp_path / "state" / "jobctl" / "logs" / "coordinator.log"
    assert coordinator_log.exists() and "psycopg" in coordinator_log.read_text()


def jobctl_sessions(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobctl'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_serve_whose_database_goes_away_as_it_starts_waits_for_it(
    own_postgres: Cluster, tmp_path: Path
) -> None:
    """The start of a run (reap, registration, first admission) goes through
    the store guard: the server is stopped for 5 s just before it, and the
    serve waits for it, then runs the job; no traceback."""
    env = cli_env(tmp_path, own_postgres.url)
    log = tmp_path / "started.log"
    spec = job_spec(tmp_path / "jobs.yaml", [logged_job("late", 4, log, 0)])
    [job_id] = submit(spec, env, tmp_path)
    hooked = [sys.executable, "-m", "tests.hooked", "hold_start=4", "--"]
    proc = subprocess.Popen(
        [*hooked, "serve", "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the serve has its store open and now holds before its first store call
        wait_for(lambda: jobctl_sessions(own_postgres.url) >= 1, 30, "serve to connect")
        own_postgres.down_for(5.0)
        store = open_store(own_postgres.url)
        try:
            wait_for(lambda: state_of(store, job_id) == "succeeded", 90, "the job")
        finally:
            store.close()
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
