"""The coordinator's books: which chunk is where, and what is left to commit.

Every leased chunk becomes a :class:`Task` queued on one slot (the worker runs
its queue in order, so the head is the one running). A task ends in exactly
one :class:`Pending` outcome, or in none when its lease was lost (then the
store already decided its fate). What an ending costs the chunk is decided
here, in one place:

- a result: succeeded, or failed (an attempt, with the retry policy's backoff);
- its worker died while running it: lost (an infrastructure attempt);
- it never ran (queued behind a dead worker, a stop, a cache miss): released,
  nothing spent.

A result's log (what the attempt printed and logged, its traceback) is kept
as an :class:`AttemptLog` and saved with the batch that commits its outcome,
best effort: a log is not worth an outcome. A job whose dead chunks reach
its failure limit (``--max-failures``, ``retries.fail_fast``:
:func:`retry.failure_limit`) is handed to the coordinator to stop
(:meth:`Ledger.take_over_limit`).

Outcomes are committed in batches (:meth:`Ledger.flush`); a batch whose commit
status is unknown (the store failed mid-call) is kept and marked uncertain,
so a later rejection never deletes a file that an earlier, unseen commit made
the chunk's. A batch may be committed in the background (one commit at a
time, on a thread of its own) while the dispatch loop feeds workers: its
entries stay in :attr:`Ledger.pending` until the answer is taken in
(:meth:`Ledger.settle`), so their leases are renewed and a job never ends
before its last commit did.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from orchestrator.dispatch import retry
from orchestrator.dispatch.active import ActiveJob
from orchestrator.errors import StoreError, StoreUnavailable
from orchestrator.executors.base import Slot
from orchestrator.io.parts import sync_part_dirs
from orchestrator.store.attempt_logs import AttemptLog
from orchestrator.store.base import ChunkOutcome, Lease, OutcomeKind, Store

_log = logging.getLogger("orchestrator.dispatch")
#: appended to the error of a chunk that went dead without a retry
NOT_RETRIED = " (deterministic error: not retried)"


@dataclass(eq=False)
class Task:
    """One leased chunk sent to one slot."""

    task_id: str
    lease: Lease
    job: ActiveJob
    slot: Slot
    sent_at: float
    started_at: float | None = None  # when it reached the head of its slot's queue
    #: its lease was lost or given back: the worker may still run it, but its
    #: result is never committed
    dropped: bool = False
    #: a serial phase's chunk: the state its committed predecessor left
    carried: Any = None

    @property
    def seq(self) -> int:
        return self.lease.seq


@dataclass(eq=False)
class Pending:
    """An outcome waiting to be committed."""

    outcome: ChunkOutcome
    task: Task | None  # None: a lease we held without knowing it (given back)
    #: a commit of it may already have happened (the store call failed mid-way),
    #: so a rejection does not prove its part file is unused
    uncertain: bool = False
    not_before: float = 0.0  # test hook: withheld until then


def discard_part(part_file: Any) -> None:
    """A file no commit refers to is never published; remove it early."""
    if part_file:
        with contextlib.suppress(OSError):
            os.unlink(str(part_file))


class Ledger:
    """Live tasks, per-slot queues, outcomes to commit."""

    def __init__(
        self,
        rng: random.Random,
        on_committed: Callable[[], None] | None = None,
        max_failures: int | None = None,
    ) -> None:
        self.rng = rng
        #: ``--max-failures``: dead chunks after which a job stops (with the spec's fail_fast)
        self.max_failures = max_failures
        #: jobs that reached their failure limit, for the coordinator to stop
        self.over_limit: list[ActiveJob] = []
        #: jobs a chunk of which ended (succeeded, dead) in a commit since the
        #: last :meth:`take_touched`: each may be finished now
        self.touched: dict[int, ActiveJob] = {}
        #: attempt logs to save with the next commit
        self.logs: list[AttemptLog] = []
        #: called (on the committer thread) when a background commit answered,
        #: so a loop waiting in select() takes the answer in at once
        self.on_committed = on_committed
        self.tasks: dict[str, Task] = {}  # live: leased, result not yet in
        self.queues: dict[int, deque[Task]] = {}
        self.pending: list[Pending] = []
        #: the batch being committed in the background, and its answer to come
        self._commit: tuple[list[Pending], list[AttemptLog], Future[list[bool]]] | None = None
        self._committer: ThreadPoolExecutor | None = None

    # -- tasks in ------------------------------------------------------------------

    def add(self, task: Task, now: float) -> None:
        queue = self.queues[task.slot.slot]
        if not queue:
            task.started_at = now
        queue.append(task)
        self.tasks[task.task_id] = task
        task.job.running += 1

    def take(self, slot: Slot, task_id: str, now: float) -> tuple[Task | None, float | None]:
        """The task a result is for, out of its queue; and how long it ran, when
        it was the head (a sample for the queue depth)."""
        queue = self.queues[slot.slot]
        if queue and queue[0].task_id == task_id:  # results come in order: the head
            task: Task | None = queue[0]
        else:
            task = next((t for t in queue if t.task_id == task_id), None)
        if task is None:
            return None, None
        ran = None
        if queue[0] is task:
            queue.popleft()
            if task.started_at is not None and not task.dropped:
                ran = now - task.started_at
        else:
            queue.remove(task)
        if queue and queue[0].started_at is None:
            queue[0].started_at = now
        return task, ran

    # -- how tasks end ---------------------------------------------------------------

    def forget(self, task: Task) -> None:
        """Take a live task out of the books (its queue entry stays: the worker
        still has it, and will answer for it)."""
        if self.tasks.pop(task.task_id, None) is not None:
            task.job.running -= 1
        task.dropped = True

    def hold(self, task: Task) -> None:
        """A live task on no slot's queue (waiting for an orphan to finish it:
        dispatch/adoption.py); its lease is renewed like any other."""
        self.tasks[task.task_id] = task
        task.job.running += 1

    def unhold(self, task: Task) -> None:
        """A held task goes to a slot after all (:meth:`add` it next)."""
        if self.tasks.pop(task.task_id, None) is not None:
            task.job.running -= 1

    def succeed(
        self,
        task: Task,
        header: dict[str, Any],
        not_before: float = 0.0,
        worker: str | None = None,
    ) -> None:
        """A result that made the chunk's part (``worker``: who, when it was
        not the task's slot — an adopted part)."""
        self.forget(task)
        lease = task.lease
        outcome = ChunkOutcome(
            chunk_id=lease.chunk_id,
            fencing_token=lease.fencing_token,
            kind=OutcomeKind.SUCCEEDED,
            rows_in=int(header.get("rows_in") or 0),
            rows_out=int(header.get("rows_out") or 0),
            rows_rejected=int(header.get("rows_rejected") or 0),
            bytes_out=int(header.get("bytes_out") or 0),
            checksum=header.get("checksum"),
            part_file=header.get("part_file"),
            duration=_duration(header),
            worker=worker or task.slot.name,
            result={k: header[k] for k in ("state", "value") if k in header} or None,
        )
        self.pending.append(Pending(outcome, task, not_before=not_before))

    def fail(
        self, task: Task, error: str, duration: float = 0.0, error_types: list[str] | None = None
    ) -> None:
        """A processor error (or a timeout): an attempt spent, retried after the
        policy's backoff or dead (at once when the error is deterministic)."""
        self.forget(task)
        lease = task.lease
        policy = task.job.spec.retries
        decision = retry.after_processor_error(lease.attempts, policy, self.rng, error_types or ())
        if decision.deterministic and lease.attempts + 1 < policy.max_attempts:
            error += NOT_RETRIED
        outcome = ChunkOutcome(
            chunk_id=lease.chunk_id,
            fencing_token=lease.fencing_token,
            kind=OutcomeKind.FAILED,
            error=error,
            duration=duration,
            worker=task.slot.name,
            dead=decision.dead,
            retry_delay=decision.delay,
        )
        self.pending.append(Pending(outcome, task))

    def result(self, task: Task, header: dict[str, Any], not_before: float = 0.0) -> None:
        """What a worker answered for ``task``."""
        if not header.get("unknown_job"):
            self._keep_log(task, header)
        if header.get("ok"):
            self.succeed(task, header, not_before)
        elif header.get("error_class") == "infrastructure":
            if header.get("unknown_job"):  # a cache miss, not a loss: send it again
                phase = int(task.lease.descriptor_doc.get("phase") or 0)
                task.slot.known_jobs.discard(str(task.job.payload_for(phase)["key"]))
                self.release(task, "worker had to be sent the job again")
            else:
                self.charge_loss(task, str(header.get("error") or "worker could not run it"))
        else:
            error = str(header.get("error") or "unknown error")
            self.fail(task, error, _duration(header), list(header.get("error_types") or ()))

    def _keep_log(self, task: Task, header: dict[str, Any]) -> None:
        """The attempt's log, when it failed or said something."""
        ok = bool(header.get("ok"))
        output = str(header.get("output") or "")
        if ok and not output:
            return
        lease = task.lease
        outcome = "succeeded" if ok else "failed"
        if header.get("error_class") == "infrastructure":
            outcome = "lost"
        self.logs.append(
            AttemptLog(
                job_id=lease.job_id,
                chunk_id=lease.chunk_id,
                seq=lease.seq,
                attempt=attempt_number(lease),
                fencing_token=lease.fencing_token,
                outcome=outcome,
                worker=task.slot.name,
                error=None if ok else str(header.get("error") or ""),
                traceback=header.get("traceback_full") or header.get("traceback"),
                output=output,
                output_bytes=int(header.get("output_bytes") or len(output)),
            )
        )

    def charge_loss(self, task: Task, reason: str) -> None:
        """Its worker died while running it: an infrastructure attempt."""
        self.forget(task)
        decision = retry.after_infrastructure_loss(task.lease.infra_attempts)
        outcome = ChunkOutcome(
            chunk_id=task.lease.chunk_id,
            fencing_token=task.lease.fencing_token,
            kind=OutcomeKind.LOST,
            error=reason,
            worker=task.slot.name,
            dead=decision.dead,
        )
        self.pending.append(Pending(outcome, task))

    def release(self, task: Task, reason: str) -> None:
        """It never ran (or we stopped it): back to pending, nothing spent."""
        self.forget(task)
        outcome = ChunkOutcome(
            chunk_id=task.lease.chunk_id,
            fencing_token=task.lease.fencing_token,
            kind=OutcomeKind.RELEASED,
            error=reason,
            worker=task.slot.name,
        )
        self.pending.append(Pending(outcome, task))

    def end_queue(self, slot: Slot, head_reason: str | None, rest_reason: str) -> None:
        """Empty a slot's queue after its worker ended: the head is charged a loss
        when ``head_reason`` is given (it was running), the rest go back free."""
        queue = self.queues.get(slot.slot)
        if queue:
            head = queue.popleft()
            if not head.dropped:
                if head_reason is None:
                    self.release(head, rest_reason)
                else:
                    self.charge_loss(head, head_reason)
        for task in queue or ():
            if not task.dropped:
                self.release(task, rest_reason)
        if queue:
            queue.clear()

    def release_unstarted(self, reason: str) -> None:
        """Give back every queued chunk that is not at the head of its queue."""
        for queue in self.queues.values():
            for task in list(queue)[1:]:
                if not task.dropped:
                    self.release(task, reason)

    def only_dropped(self, slot: Slot) -> bool:
        queue = self.queues[slot.slot]
        return bool(queue) and all(t.dropped for t in queue)

    # -- against the store -------------------------------------------------------------

    def renewals(self, responsive: Callable[[Slot], bool], now: float) -> list[tuple[int, int]]:
        """Leases to renew: chunks on a worker that shows signs of life, and
        finished chunks whose outcome is not committed yet."""
        renew = [
            (t.lease.chunk_id, t.lease.fencing_token)
            for t in self.tasks.values()
            if responsive(t.slot)
        ]
        renew += [
            (p.outcome.chunk_id, p.outcome.fencing_token)
            for p in self.pending
            if p.not_before <= now
        ]
        return renew

    def reconcile(self, held: dict[int, int]) -> list[Task]:
        """Compare with what the store says we hold: leases we never knew we had
        (a lease call whose answer was lost) are given back; the live tasks whose
        lease is gone are returned."""
        known = {t.lease.chunk_id for t in self.tasks.values()}
        known.update(p.outcome.chunk_id for p in self.pending)
        for chunk_id, token in held.items():
            if chunk_id not in known:
                reason = "leased in a transaction whose outcome this coordinator never learned"
                outcome = ChunkOutcome(chunk_id, token, OutcomeKind.RELEASED, error=reason)
                self.pending.append(Pending(outcome, None))
        return [
            t for t in self.tasks.values() if held.get(t.lease.chunk_id) != t.lease.fencing_token
        ]

    @property
    def committing(self) -> bool:
        """A batch is being committed in the background."""
        return self._commit is not None

    def waiting(self) -> int:
        """Outcomes not yet handed to a commit."""
        return len(self.pending) - (len(self._commit[0]) if self._commit is not None else 0)

    def flush(
        self, store: Store, owner: str, now: float, force: bool = False, background: bool = False
    ) -> None:
        """Commit the outcomes that are due in one transaction; with
        ``background``, on the committer thread (the answer is taken in by
        :meth:`settle`). A commit still running is settled first, so at most
        one runs and no outcome is in two. Raises StoreUnavailable with the
        buffer intact (each entry of the failed batch now uncertain)."""
        self.settle(wait=True)
        ready = [p for p in self.pending if force or p.not_before <= now]
        if not ready:
            return
        outcomes = [p.outcome for p in ready]
        logs, self.logs = self.logs, []
        if background:
            if self._committer is None:
                self._committer = ThreadPoolExecutor(1, thread_name_prefix="jobctl-commit")
            answer = self._committer.submit(commit_batch, store, owner, outcomes, logs)
            if self.on_committed is not None:
                callback = self.on_committed
                answer.add_done_callback(lambda _answer: callback())
            self._commit = (ready, logs, answer)
            return
        try:
            accepted = commit_batch(store, owner, outcomes, logs)
        except StoreUnavailable:
            for entry in ready:
                entry.uncertain = True
            self.logs[:0] = logs
            raise
        self._settled(ready, accepted)

    def settle(self, wait: bool) -> None:
        """Take in the answer of the background commit, if there is one and it
        is done (``wait``: wait for it). Raises its StoreUnavailable, the
        batch kept and marked uncertain."""
        if self._commit is None:
            return
        ready, logs, answer = self._commit
        if not wait and not answer.done():
            return
        self._commit = None
        try:
            accepted = answer.result()
        except StoreUnavailable:
            for entry in ready:
                entry.uncertain = True
            self.logs[:0] = logs  # saved with the batch's next try
            raise
        self._settled(ready, accepted)

    def close(self) -> None:
        """Wait for the background commit (its answer is dropped: call
        :meth:`settle` first to use it) and stop the committer thread."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None

    def _settled(self, ready: list[Pending], accepted: list[bool]) -> None:
        committed = {id(entry) for entry in ready}
        self.pending = [p for p in self.pending if id(p) not in committed]
        for entry, ok in zip(ready, accepted, strict=True):
            if not ok:
                if not entry.uncertain:  # certainly never committed: not the chunk's file
                    discard_part(entry.outcome.part_file)
            elif entry.task is not None:
                job = entry.task.job
                _count(job, entry.outcome)
                if entry.outcome.kind == OutcomeKind.SUCCEEDED or entry.outcome.dead:
                    self.touched[id(job)] = job
                if entry.outcome.kind == OutcomeKind.FAILED and job.first_error is None:
                    seq = entry.task.lease.seq
                    job.first_error = (
                        f"chunk {seq}: {entry.outcome.error}; "
                        f"see: jobctl logs {job.record.id} --chunk {seq}"
                    )
                if entry.outcome.dead and self._reached_limit(job):
                    self.over_limit.append(job)

    def _reached_limit(self, job: ActiveJob) -> bool:
        if job.final_state is not None or any(j is job for j in self.over_limit):
            return False
        limit = retry.failure_limit(job.spec.retries, self.max_failures)
        return retry.should_stop(job.dead, limit)

    def take_touched(self) -> list[ActiveJob]:
        """The jobs a chunk of which ended in a commit since the last call and
        that have no live task nor outcome left to commit here."""
        busy = {id(task.job) for task in self.tasks.values()}
        busy.update(id(p.task.job) for p in self.pending if p.task is not None)
        ready = [job for key, job in self.touched.items() if key not in busy]
        self.touched = {key: job for key, job in self.touched.items() if key in busy}
        return ready

    def take_over_limit(self) -> list[ActiveJob]:
        """The jobs that reached their failure limit since the last call."""
        jobs, self.over_limit = self.over_limit, []
        return jobs


def attempt_number(lease: Lease) -> int:
    """The attempt a lease is (``ctx.attempt``): attempts of both kinds spent, plus one."""
    return lease.attempts + lease.infra_attempts + 1


def commit_batch(
    store: Store, owner: str, outcomes: list[ChunkOutcome], logs: list[AttemptLog]
) -> list[bool]:
    """Commit outcomes, then save their attempts' logs (best effort: a store
    error there loses the logs, never the outcomes).

    First the directories of the batch's parts are fsynced, once each: local
    workers leave that to this point (io/parts.py), so that no commit records
    a part whose rename a crash could still undo. A part whose directory
    cannot be synced is not committed: its chunk is lost (retried)."""
    outcomes = durable_parts(outcomes)
    accepted = store.complete_chunks(owner, outcomes)
    if logs:
        try:
            store.save_attempt_logs(logs)
        except StoreError as exc:
            _log.warning("%d attempt log(s) not saved: %s", len(logs), exc)
    return accepted


def durable_parts(outcomes: list[ChunkOutcome]) -> list[ChunkOutcome]:
    """``outcomes`` with every succeeded part's rename made durable; a part
    whose directory fsync failed turns its outcome into ``lost``."""
    parts = [o.part_file for o in outcomes if o.kind == OutcomeKind.SUCCEEDED and o.part_file]
    failed = dict(sync_part_dirs(parts))
    if not failed:
        return outcomes
    out = []
    for o in outcomes:
        directory = os.path.dirname(os.path.abspath(o.part_file)) if o.part_file else None
        if o.kind == OutcomeKind.SUCCEEDED and directory in failed:
            error = f"part directory {directory} could not be synced: {failed[directory]}"
            _log.warning("chunk %d: %s", o.chunk_id, error)
            o = ChunkOutcome(o.chunk_id, o.fencing_token, OutcomeKind.LOST, error=error)
        out.append(o)
    return out


def _duration(header: dict[str, Any]) -> float:
    return float(sum((header.get("timings") or {}).values()))


def _count(job: ActiveJob, outcome: ChunkOutcome) -> None:
    """The live view's counters (the store keeps the real ones)."""
    if outcome.kind == OutcomeKind.SUCCEEDED:
        job.done += 1
        job.rows_in += outcome.rows_in
        job.rows_out += outcome.rows_out
    elif outcome.kind in (OutcomeKind.FAILED, OutcomeKind.LOST):
        job.failures += outcome.kind == OutcomeKind.FAILED
        job.retries += 0 if outcome.dead else 1
        job.dead += 1 if outcome.dead else 0
