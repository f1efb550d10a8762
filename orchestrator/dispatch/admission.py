"""Which jobs a coordinator takes on, and when.

``jobctl run`` serves the jobs it submitted (:class:`GivenJobs`); ``jobctl
serve`` serves whatever is queued (:class:`QueuedJobs`), found by polling and,
on PostgreSQL, woken by LISTEN/NOTIFY. Either way a job is taken on only when
every job it ``depends_on`` succeeded; a job whose upstream failed never
runs and ends ``upstream_failed``, and so, in turn, do the jobs below it.

A job with upstream jobs is planned when it is taken on, not when it is
submitted: its input is typically what an upstream job writes, which does
not exist yet at submit time (:func:`plan_if_deferred`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from typing import Protocol

from orchestrator.errors import IllegalTransition, JobctlError
from orchestrator.planning.stored import is_deferred, stored_spec
from orchestrator.spec.model import JobSpec
from orchestrator.states import JOB_TERMINAL, JobState
from orchestrator.store.base import JobRecord, Store


class JobSource(Protocol):
    """Where a coordinator's jobs come from."""

    #: True when jobs keep coming (serve): poll for them until stopped
    dynamic: bool

    def candidates(
        self, store: Store, open_ids: Collection[int], final_ids: Collection[int]
    ) -> list[int]:
        """Jobs to take on now (their upstream jobs succeeded), none of ``open_ids``."""

    def ended(self, store: Store) -> dict[int, JobState]:
        """Jobs of this source that ended without being taken on (upstream failed)."""

    def waiting(self, final_ids: Collection[int]) -> list[int]:
        """Given jobs that have not ended (empty for a dynamic source)."""

    def exhausted(self, final_ids: Collection[int]) -> bool:
        """True when nothing more will come."""


class GivenJobs:
    """A fixed set of jobs (``jobctl run``): taken on as their upstream jobs succeed.

    With ``resume`` (a run key run again), jobs that ended ``upstream_failed``
    wait for their upstream jobs again, which the same run resumes."""

    dynamic = False

    def __init__(self, job_ids: Sequence[int], resume: bool = False) -> None:
        self.job_ids = list(job_ids)
        self.resume = resume

    def candidates(
        self, store: Store, open_ids: Collection[int], final_ids: Collection[int]
    ) -> list[int]:
        return [
            job_id
            for job_id in self.waiting(final_ids)
            if job_id not in open_ids and not self._blocked(store, job_id)
        ]

    def ended(self, store: Store) -> dict[int, JobState]:
        if self.resume:
            # first pass of a resume: upstream_failed jobs wait again, and their
            # failed upstream jobs are resumed (taken on) before anything is
            # judged blocked again
            self.resume = False
            for record in store.get_jobs(self.job_ids):
                if record.state == JobState.UPSTREAM_FAILED:
                    with contextlib.suppress(IllegalTransition):
                        store.set_job_state(
                            record.id, JobState.PENDING, detail={"reason": "resume"}
                        )
            return {}
        store.fail_blocked_jobs()
        # a job still waiting for its upstream jobs that ended anyway: upstream
        # failed (here or seen by another coordinator), or cancelled meanwhile
        return {
            record.id: record.state
            for record in store.get_jobs(self.job_ids)
            if record.state in JOB_TERMINAL and self._blocked(store, record.id)
        }

    def waiting(self, final_ids: Collection[int]) -> list[int]:
        return [job_id for job_id in self.job_ids if job_id not in final_ids]

    def exhausted(self, final_ids: Collection[int]) -> bool:
        return not self.waiting(final_ids)

    @staticmethod
    def _blocked(store: Store, job_id: int) -> bool:
        return any(state != JobState.SUCCEEDED for _, _, state in store.upstream_jobs(job_id))


class QueuedJobs:
    """Every active job of some queues (``jobctl serve``); never exhausted."""

    dynamic = True

    def __init__(self, queues: Sequence[str] | None = None) -> None:
        self.queues = list(queues) if queues else None

    def candidates(
        self, store: Store, open_ids: Collection[int], final_ids: Collection[int]
    ) -> list[int]:
        # a job that ended here and was resumed since is active again: taken on
        return [job_id for job_id in store.runnable_jobs(self.queues) if job_id not in open_ids]

    def ended(self, store: Store) -> dict[int, JobState]:
        store.fail_blocked_jobs()
        return {}

    def waiting(self, final_ids: Collection[int]) -> list[int]:
        return []

    def exhausted(self, final_ids: Collection[int]) -> bool:
        return False


def plan_if_deferred(store: Store, record: JobRecord) -> JobRecord:
    """Plan a job that was submitted unplanned (it has upstream jobs), now that
    they succeeded. A planning error (no input, unreadable file) fails the job
    with the error; a job another coordinator planned meanwhile is left as is."""
    if not is_deferred(record.spec):
        return record
    from orchestrator.planning.plan import plan_job

    spec = JobSpec.from_dict({k: v for k, v in record.spec.items() if k != "planned"})
    try:
        plan = plan_job(spec)
    except JobctlError as exc:
        _fail_unplanned(store, record, f"planning at start: {exc}")
        return store.get_job(record.id)
    current = store.get_job(record.id)
    if not is_deferred(current.spec) or current.state in JOB_TERMINAL:
        return current
    with contextlib.suppress(IllegalTransition):  # another coordinator planned and runs it
        store.replan_job(
            record.id, stored_spec(spec, plan), spec.spec_hash(), plan.inputs, plan.chunks
        )
    return store.get_job(record.id)


def _fail_unplanned(store: Store, record: JobRecord, error: str) -> None:
    with contextlib.suppress(IllegalTransition):  # it ended meanwhile
        if record.state == JobState.PENDING:
            store.set_job_state(record.id, JobState.RUNNING)
        store.set_job_state(record.id, JobState.FAILED, error=error)
