"""Failure limits: stop a job early once enough of its chunks are dead.

``--max-failures N`` and ``retries.fail_fast`` make the ledger flag a job
whose dead chunks reached the limit (``Ledger.take_over_limit``). This room
turns the flag into the end of the job: it is marked failed in the store (with
the store guard, so an outage only delays it), its running chunks go back to
pending with nothing spent (``jobctl resume`` runs them), and an event says
why it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.ledger import Ledger
from orchestrator.dispatch.slots import EventSink
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.dispatch.tracking import JobTracker
from orchestrator.states import JobState
from orchestrator.store.base import Store


class FailureLimit:
    """Ends the jobs the ledger flagged as over their failure limit."""

    def __init__(
        self,
        store: Store,
        guard: StoreGuard,
        ledger: Ledger,
        tracker: JobTracker,
        event: EventSink,
        drop_job: Callable[[ActiveJob, JobState], None],
        emit: Callable[[float, ActiveJob], None],
    ) -> None:
        self.store = store
        self.guard = guard
        self.ledger = ledger
        self.tracker = tracker
        self.event = event
        self.drop_job = drop_job
        self.emit = emit

    def stop_over_limit(self) -> None:
        """Fail each flagged job still ours; a job the store could not be told
        about is flagged again and retried after the outage."""
        for job in self.ledger.take_over_limit():
            if job.final_state is not None or job.record.id not in self.tracker.jobs:
                continue
            error = f"stopped early: {job.dead} chunk(s) dead (failure limit reached)"
            ok, _ = self.guard.attempt(partial(self._fail_job, job.record.id, error))
            if not ok:
                self.ledger.over_limit.append(job)
                continue
            reason = f"its job {job.spec.name} stopped early (failure limit)"
            for task in [t for t in self.ledger.tasks.values() if t.job is job]:
                self.ledger.release(task, reason)
            self.event("job_stopped_early", job.record.id, None, {"dead": job.dead})
            self.drop_job(job, JobState.FAILED)
            self.emit(time.monotonic(), job)

    def _fail_job(self, job_id: int, error: str) -> None:
        self.store.set_job_state(job_id, JobState.FAILED, error=error)
