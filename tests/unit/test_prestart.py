"""Workers started while `jobctl run` plans (dispatch/prestart.py), on a real store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator import api
from orchestrator.dispatch.entry import run_jobs
from orchestrator.dispatch.options import RunOptions
from orchestrator.dispatch.prestart import prestart_workers, stop_unused
from orchestrator.executors.local import WorkerProcess
from orchestrator.spec.loader import load_spec
from orchestrator.states import JobState
from orchestrator.store.base import Store


def _spec(tmp_path: Path, heartbeat: str = "10s", ssh: bool = False) -> Path:
    path = tmp_path / "jobs.yaml"
    executor = (
        "executor: {ssh: {hosts: [{name: h1, address: 127.0.0.1}]}}"
        if ssh
        else "executor: {local: {workers: 2}}"
    )
    path.write_text(
        "version: 1\njobs:\n"
        "  - name: tiny\n    type: noop\n    input: {sequence: 40}\n"
        f"    {executor}\n    timeouts: {{heartbeat: {heartbeat}}}\n"
    )
    return path


def _pids(workers: tuple[object, ...]) -> list[int]:
    return [w.pid for w in workers if isinstance(w, WorkerProcess) and w.pid is not None]


def test_the_run_adopts_workers_started_with_its_settings(store: Store, tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path))
    workers = prestart_workers(spec.jobs, None)
    assert len(workers) == 2 and all(w.alive() for w in workers)
    [result] = api.submit_spec(store, spec)
    options = RunOptions(install_signal_handlers=False, prestarted=workers)
    final = run_jobs(store, [result.job_id], options)
    assert final[result.job_id] == JobState.SUCCEEDED
    # adopted: they served the run and were shut down politely at its end
    # (exit 0), where workers the run could not use are killed (SIGKILL)
    codes = [w.exit_status() for w in workers]
    assert codes == [0, 0]
    stop_unused(workers)  # harmless afterwards


def test_workers_started_with_other_settings_are_replaced(store: Store, tmp_path: Path) -> None:
    started = prestart_workers(load_spec(_spec(tmp_path, heartbeat="0.5s")).jobs, None)
    spec = load_spec(_spec(tmp_path, heartbeat="10s"))
    [result] = api.submit_spec(store, spec)
    options = RunOptions(install_signal_handlers=False, prestarted=started)
    final = run_jobs(store, [result.job_id], options)
    assert final[result.job_id] == JobState.SUCCEEDED
    assert [w.exit_status() for w in started] == [-9, -9]


def test_no_prestart_for_jobs_on_ssh_hosts(tmp_path: Path) -> None:
    assert prestart_workers(load_spec(_spec(tmp_path, ssh=True)).jobs, None) == ()
    assert prestart_workers([], 4) == ()


def test_stop_unused_kills_what_no_run_took(tmp_path: Path) -> None:
    workers = prestart_workers(load_spec(_spec(tmp_path)).jobs, 3)
    pids = _pids(workers)
    assert len(pids) == 3
    stop_unused(workers)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
