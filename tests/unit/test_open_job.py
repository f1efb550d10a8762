"""Two coordinators opening one pending job at once (two invocations of one
scheduled run) both run it: the one that loses pending -> running finds the job
running, not an error that would end its run as interrupted (exit 130)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator import api
from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.lifecycle import open_job
from orchestrator.spec.loader import load_spec
from orchestrator.states import JobState
from orchestrator.store.base import Store


class _OtherCoordinatorFirst:
    """The real store, but another coordinator starts the job between this
    one's read of it (pending) and its own pending -> running."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._raced = False

    def set_job_state(self, job_id: int, state: JobState, **kwargs: Any) -> Any:
        if not self._raced and state == JobState.RUNNING:
            self._raced = True
            self._store.set_job_state(job_id, JobState.RUNNING)
        return self._store.set_job_state(job_id, state, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _pending_job(store: Store, tmp_path: Path) -> int:
    path = tmp_path / "jobs.yaml"
    path.write_text("version: 1\njobs:\n  - name: tiny\n    type: noop\n    input: {sequence: 4}\n")
    [result] = api.submit_spec(store, load_spec(path))
    return result.job_id


def test_the_coordinator_that_loses_the_start_runs_the_job_too(
    store: Store, tmp_path: Path
) -> None:
    job_id = _pending_job(store, tmp_path)
    opened = open_job(_OtherCoordinatorFirst(store), job_id, resume=False)  # type: ignore[arg-type]
    assert isinstance(opened, ActiveJob)
    assert opened.record.state == JobState.RUNNING
    assert store.get_job(job_id).state == JobState.RUNNING
