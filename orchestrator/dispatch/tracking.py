"""Job tracking: the jobs a coordinator runs now, and how each one ends for it.

:class:`JobTracker` holds the active jobs (``active.py``) and the final state
of every job that ended while this coordinator served it. A job comes in by
admission (the source offers it: given by ``run``, or queued for ``serve``),
and leaves in one of three ways: this coordinator claims its settlement and
settles it (publish, then the job's final state), it ended elsewhere (a
cancel from another terminal, settled by a peer: the state poll sees it), or
no slot can run it. The store stays the truth; this is the coordinator's
working copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.admission import JobSource, QueuedJobs, plan_if_deferred
from orchestrator.dispatch.ledger import Ledger
from orchestrator.dispatch.lifecycle import open_job, settle_job
from orchestrator.dispatch.options import (
    ADMIT_LISTEN_POLL_SECONDS,
    ADMIT_POLL_SECONDS,
    SETTLE_CLAIM_SECONDS,
    local_worker_count,
)
from orchestrator.dispatch.recovery import gone_reason
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.errors import JobctlError, StoreUnavailable
from orchestrator.states import JOB_TERMINAL, ChunkState, JobState
from orchestrator.store.base import JobListener, Store


class JobTracker:
    """The active jobs of one coordinator, and the final states of the others."""

    def __init__(
        self, store: Store, source: JobSource, resume: bool, owner: str, host: str
    ) -> None:
        self.store = store
        self.source = source
        self.resume = resume
        self.owner = owner
        self.host = host
        self.jobs: dict[int, ActiveJob] = {}
        self.final: dict[int, JobState] = {}
        #: admission is due at once (a notification came, a job ended)
        self.admit_due = True
        #: the last problem worth showing the user (a job that could not start)
        self.message: str | None = None
        #: notifications of new jobs (serve), when the store offers them
        self.listener: JobListener | None = None

    # -- coming in ---------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        """Jobs keep coming (serve): a wake-up channel is worth having."""
        return isinstance(self.source, QueuedJobs)

    def listen(self) -> None:
        """A wake-up channel when jobs keep coming (serve); polling without one."""
        if self.serving:
            with contextlib.suppress(StoreUnavailable):
                self.listener = self.store.listen()

    def notified(self) -> bool:
        """Take in the listener's notifications; whether a job may have come.
        Raises StoreUnavailable when the listener failed."""
        assert self.listener is not None
        if not self.listener.drain():
            return False
        self.admit_due = True
        return True

    def stop_listening(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def admit_interval(self) -> float:
        return ADMIT_POLL_SECONDS if self.listener is None else ADMIT_LISTEN_POLL_SECONDS

    def admission_due(self, interval_passed: Callable[[], bool]) -> bool:
        """Whether to look for jobs now: woken (a notification, a job ended), or
        the poll interval passed while jobs may still come."""
        if self.admit_due:
            return True
        return interval_passed() and self.more_may_come()

    # -- admitting --------------------------------------------------------------------

    def admit(self) -> bool:
        """Take on the jobs the source offers now (their upstream jobs succeeded);
        note the ones that ended without running (an upstream job failed).
        Returns whether a job was taken on."""
        self.admit_due = False
        opened_any = False
        for job_id, state in self.source.ended(self.store).items():
            self.final.setdefault(job_id, state)
        for job_id in self.source.candidates(self.store, set(self.jobs), set(self.final)):
            try:
                # linked before it is opened: a running job always names the
                # coordinators that run it (`interrupted` when all are gone)
                self.store.link_coordinator_job(self.owner, job_id)
                plan_if_deferred(self.store, self.store.get_job(job_id))
                opened = open_job(self.store, job_id, self.resume)
            except StoreUnavailable:
                raise
            except JobctlError as exc:  # one bad job must not stop the others
                self.message = f"job {job_id} could not start: {exc}"
                self._unlink(job_id)
                if not self.source.dynamic:  # a given job: the run must not wait for it
                    self.final[job_id] = self.store.get_job(job_id).state
                continue
            if isinstance(opened, ActiveJob):
                self.final.pop(job_id, None)
                self.jobs[job_id] = opened
                opened_any = True
            else:
                self.final[job_id] = opened
                self._unlink(job_id)
        return opened_any

    def _unlink(self, job_id: int) -> None:
        """Best effort: a link left behind goes when this coordinator deregisters,
        and only running jobs are judged by their links."""
        with contextlib.suppress(JobctlError):
            self.store.unlink_coordinator_job(self.owner, job_id)

    def more_may_come(self) -> bool:
        """Whether polling for jobs is worth it: a serving source, or given jobs
        that still wait for the jobs they depend on."""
        if self.source.dynamic:
            return True
        return any(job_id not in self.jobs for job_id in self.source.waiting(set(self.final)))

    # -- going out --------------------------------------------------------------------

    def ended_elsewhere(self) -> list[tuple[ActiveJob, JobState]]:
        """Notice cancels (from another terminal), jobs that ended elsewhere
        (settled by another coordinator) and priority changes; returns the jobs
        that ended, for the caller to stop their chunks."""
        ended: list[tuple[ActiveJob, JobState]] = []
        for record in self.store.get_jobs(list(self.jobs)):
            job = self.jobs[record.id]
            if record.state in JOB_TERMINAL:
                ended.append((job, record.state))
            else:
                job.record = record
        return ended

    def without_tasks(self, job_of_tasks: Iterable[ActiveJob]) -> Iterator[ActiveJob]:
        """The active jobs none of the given live tasks belongs to."""
        busy = {id(job) for job in job_of_tasks}
        for job in list(self.jobs.values()):
            if id(job) not in busy:
                yield job

    def settle_if_finished(self, job: ActiveJob) -> JobState | None:
        """Settle a job one of whose chunks just ended, if none of its chunks is
        pending or running any more (any coordinator's): a served job is
        published as soon as its own chunks are done, not when a lease finds
        nothing left of every job. Checked before the claim, so a job that is
        not finished is never claimed."""
        if job.record.id not in self.jobs or job.final_state is not None:
            return None
        counts = self.store.job_progress(job.record.id).chunks
        if counts.get(ChunkState.PENDING, 0) or counts.get(ChunkState.RUNNING, 0):
            return None
        return self.settle(job)

    def settle_touched(
        self, ledger: Ledger, guard: StoreGuard, ended: Callable[[ActiveJob], None]
    ) -> None:
        """Settle each job a chunk of which just ended in a commit, if it is
        finished; ``ended(job)`` for each one that ended."""
        for job in ledger.take_touched():
            ok, state = guard.attempt(lambda: self.settle_if_finished(job))  # noqa: B023
            if not ok:
                ledger.touched[id(job)] = job  # checked again after the outage
                return
            if state is not None:
                self.end(job, state)
                ended(job)

    def settle(self, job: ActiveJob) -> JobState | None:
        """Settle a job whose chunks all ended, when this coordinator wins the
        claim (else another one settles it; the state poll sees the end)."""
        if not self.claim_settlement(job.record.id):
            return None
        return settle_job(self.store, job)

    def claim_settlement(self, job_id: int) -> bool:
        """Claim the right to settle a finished job; a claim held by a coordinator
        that is provably gone (as for its chunk leases) is taken over at once
        rather than after :data:`SETTLE_CLAIM_SECONDS`: a coordinator killed
        while it published would otherwise hold up the resume for two minutes."""
        if self.store.claim_settlement(job_id, self.owner, SETTLE_CLAIM_SECONDS):
            return True
        holder = self.store.settlement_holder(job_id)
        if holder is None or gone_reason(holder, self.owner, self.host) is None:
            return False
        return self.store.claim_settlement(
            job_id, self.owner, SETTLE_CLAIM_SECONDS, take_from=holder.owner
        )

    def end(self, job: ActiveJob, state: JobState) -> None:
        """The job is no longer ours to run; jobs that depend on it may start
        (or never will)."""
        job.final_state = state
        self.final[job.record.id] = state
        del self.jobs[job.record.id]
        self.admit_due = True
        self._unlink(job.record.id)

    # -- the whole --------------------------------------------------------------------

    def finished(self) -> bool:
        return not self.jobs and self.source.exhausted(set(self.final))

    def final_states(self) -> dict[int, JobState]:
        """The state of every job this run served or was given (from the store)."""
        ids = [*self.jobs, *self.source.waiting(set(self.final))]
        for record in self.store.get_jobs(ids):
            self.final[record.id] = record.state
        return self.final

    def heartbeat_interval(self) -> float:
        return min((job.spec.timeouts.heartbeat for job in self.jobs.values()), default=10.0)

    def lease_seconds(self) -> float:
        return min((job.spec.timeouts.lease for job in self.jobs.values()), default=60.0)

    def worker_count(self, workers_option: int | None, has_remote: bool) -> int:
        """Local slots: ``--workers``, else the spec's, else the CPU count (none
        when every job runs on SSH hosts only)."""
        locals_ = [job.spec.executor.local for job in self.jobs.values()]
        return local_worker_count(workers_option, locals_, has_remote)
