"""The dispatch loop: lease chunks, feed worker slots, record results in batches.

One coordinator process owns its leases (``owner``) and renews them with
heartbeats; the store is the only truth, so a coordinator that dies loses
nothing: its leases expire (or a live peer proves it gone, ``recovery.py``)
and any live coordinator, or the next ``run`` / ``resume``, takes the chunks
over. :meth:`Coordinator._loop` is one turn after another, top to bottom:
lease and send (``feeding.py``), read what the workers say, watch and restart
the slots (``slots.py``), then the periodic store work (``duties.py``:
heartbeat ``renewal.py``, commits ``ledger.py``, reaping, the jobs' states
and admission ``tracking.py``, preemption ``preemption.py``) and the
progress view. The coordinator wires these rooms and owns the run's life:
start, stop requests (signals), shutdown.

What each kind of trouble costs a chunk:

- processor error: an attempt (``retries.max_attempts``, backoff), then dead;
- its worker died while running it: an infrastructure attempt (separate cap);
  chunks queued behind it on that worker never started and go back free;
- lease lost (reaped while the worker was silent, job cancelled): the worker
  is stopped and its result, if one still comes, is never committed;
- a stop (signal), a store outage, a cancelled neighbour: nothing.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.admission import JobSource
from orchestrator.dispatch.adoption import Adoption
from orchestrator.dispatch.duties import Duties, Duty, every
from orchestrator.dispatch.feeding import Feeder
from orchestrator.dispatch.hooks import installed as installed_hooks
from orchestrator.dispatch.ledger import Ledger, discard_part
from orchestrator.dispatch.limits import FailureLimit
from orchestrator.dispatch.listening import Listening
from orchestrator.dispatch.options import (
    FLUSH_BATCH,
    FLUSH_SECONDS,
    HOSTS_POLL_SECONDS,
    IDLE_POLL_SECONDS,
    PLACEMENT_CHECK_SECONDS,
    PREEMPT_CHECK_SECONDS,
    SHUTDOWN_STORE_SECONDS,
    STATE_POLL_SECONDS,
    RunOptions,
    worker_env,
)
from orchestrator.dispatch.placement import end_unplaceable
from orchestrator.dispatch.preemption import Preemptor
from orchestrator.dispatch.prestart import local_workers
from orchestrator.dispatch.recovery import reap
from orchestrator.dispatch.renewal import LeaseKeeper
from orchestrator.dispatch.signals import install_stop_signals, restore_signals
from orchestrator.dispatch.slots import Supervisor
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.dispatch.tracking import JobTracker
from orchestrator.dispatch.views import Observer, snapshot
from orchestrator.dispatch.wakeup import WakePipe
from orchestrator.errors import StoreUnavailable
from orchestrator.executors.base import Slot
from orchestrator.states import JobState
from orchestrator.store.base import JobListener, Store

#: the phases of a turn of the loop in which duties run (``duties.py``)
STORE, LEASE, VIEW = "store", "lease", "view"
#: seconds between two progress snapshots for the observer
SNAPSHOT_SECONDS = 0.2


class Coordinator:
    """Leases chunks of some jobs and runs them on worker slots."""

    def __init__(
        self,
        store: Store,
        source: JobSource,
        options: RunOptions,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.options = options
        self.observer = observer
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.hooks = installed_hooks()  # tests only (tests/hooked.py)
        self.guard = StoreGuard(options.max_store_outage)
        self.tracker = JobTracker(store, source, options.resume, self.owner, self.host)
        self.selector = selectors.DefaultSelector()
        self.listening = Listening(self.tracker, self.selector)
        self.rng = random.Random()  # noqa: S311 - jitter, not cryptography
        # the committer thread wakes the loop through this pipe when a commit
        # answered: the end of a job is seen at once, not at select()'s timeout
        self.wakeup = WakePipe()
        self.ledger = Ledger(
            self.rng, on_committed=self.wakeup.wake, max_failures=options.max_failures
        )
        self.queues = self.ledger.queues  # slot -> its tasks in the worker's order
        self.tasks = self.ledger.tasks  # live tasks: leased, result not yet in
        self.supervisor = Supervisor(
            self.ledger,
            self.selector,
            self.owner,
            self._event,
            self.tracker.heartbeat_interval,
            lambda: self.stop_requested,
            options.on_slot_state,
        )
        self.leases = LeaseKeeper(
            store, self.owner, self.ledger, self.supervisor, self.tracker, self._event
        )
        self.preemptor = Preemptor(store, self.owner, self.supervisor, self._event)
        #: parts an earlier coordinator's orphaned workers finished (adopted)
        self.adoption = Adoption(self.ledger, self.host)
        self.stop_requested = 0  # 1: graceful, 2: immediate
        self.stop_deadline = 0.0
        self.interrupted = False
        self._drained = False
        self._hook_fired = False
        self._started = time.monotonic()
        self.feeder = Feeder(
            store,
            self.owner,
            self.guard,
            self.ledger,
            self.supervisor,
            self.tracker,
            self.adoption,
            options.prefetch_seconds,
            local_option=bool(options.workers),
            serving=source.dynamic,
            # a job's wait for a slot is bounded in seconds: no need to judge
            # it on every turn of the loop
            check_placement=lambda now: self.duties.run(now, LEASE),
            check_job_ends=self._check_job_ends,
        )
        self.limits = FailureLimit(
            store, self.guard, self.ledger, self.tracker, self._event, self._drop_job, self._emit
        )
        self.duties = self._duties()

    def _duties(self) -> Duties:
        """The periodic chores (``duties.py``). The store ones run in this order:
        the heartbeat first (after an outage, renewing our leases keeps the
        chunks our workers still run), then what commits outcomes, then the rest."""
        guard, ledger, tracker = self.guard, self.ledger, self.tracker
        return Duties(
            guard,
            [
                Duty(
                    "heartbeat",
                    tracker.heartbeat_interval,
                    self._heartbeat,
                    due=lambda d, now: d.elapsed(now) or guard.down or guard.recovered,
                    last_run=time.monotonic(),
                ),
                Duty(
                    "checkpoints",
                    every(0.0),
                    lambda now: self.leases.save_checkpoints(),
                    due=lambda d, now: bool(self.leases.checkpoints),
                    guarded=True,
                ),
                Duty("settle", every(0.0), self._settle, due=lambda d, now: ledger.committing),
                Duty(
                    "flush",
                    every(FLUSH_SECONDS),
                    lambda now: self._flush(),
                    due=self._flush_due,
                    guarded=True,
                ),
                Duty(
                    "reap",
                    lambda: tracker.lease_seconds() / 2,
                    lambda now: reap(self.store, self.owner, self.host),
                    guarded=True,
                ),
                Duty("poll_states", every(STATE_POLL_SECONDS), self._poll_job_states, guarded=True),
                Duty(
                    "admit",
                    tracker.admit_interval,
                    lambda now: self._admit(),
                    due=self._admit_due,
                    stamp_first=True,
                    guarded=True,
                ),
                Duty(
                    "hosts",
                    every(HOSTS_POLL_SECONDS),
                    self._poll_hosts,
                    due=lambda d, now: self.options.more_slots is not None and d.elapsed(now),
                    stamp_first=True,
                ),
                Duty(
                    "preempt",
                    every(PREEMPT_CHECK_SECONDS),
                    self._preempt,
                    due=lambda d, now: d.elapsed(now) and not self.stop_requested,
                    stamp_first=True,
                    guarded=True,
                    blocking=False,
                ),
                Duty(
                    "placement_check",
                    every(PLACEMENT_CHECK_SECONDS),
                    self._check_placement,
                    phase=LEASE,
                    due=lambda d, now: not self.source.dynamic and d.elapsed(now),
                    stamp_first=True,
                    last_run=float("-inf"),
                ),
                Duty(
                    "emit",
                    every(SNAPSHOT_SECONDS),
                    self._emit,
                    phase=VIEW,
                    due=lambda d, now: self.observer is not None and d.elapsed(now),
                ),
            ],
        )

    # -- lifecycle ----------------------------------------------------------------

    def request_stop(self, immediate: bool = False) -> None:
        """Stop leasing; let running chunks finish (bounded), or stop them now."""
        self.stop_requested = 2 if immediate or self.stop_requested else 1
        self.stop_deadline = time.monotonic() + self.options.graceful_stop_seconds
        self.interrupted = True

    def run(self) -> dict[int, JobState]:
        if self.hooks.hold_start:  # tests: the database goes away right here
            time.sleep(self.hooks.hold_start)
        # through the guard: a store that is down (a restart) is waited for
        self.guard.insist(self._begin, time.monotonic() + self.guard.max_outage)
        if self.tracker.finished():
            self.guard.insist(
                lambda: self.store.deregister_coordinator(self.owner),
                time.monotonic() + SHUTDOWN_STORE_SECONDS,
            )
            return self._final_states()
        self.listening.start()
        previous = install_stop_signals(
            self.options.install_signal_handlers,
            lambda: self.request_stop(immediate=self.stop_requested > 0),
        )
        problem: StoreUnavailable | None = None
        try:
            self._start_slots()
            self._loop()
        finally:
            problem = self._shutdown()
            restore_signals(previous)
        if problem is not None:
            raise problem
        return self._final_states()

    def _begin(self) -> None:
        """Reap, register, first admission: each safe to repeat when the store
        went away half-way (the guard tries again)."""
        reap(self.store, self.owner, self.host)  # a resume after a crash starts at once
        # registered before a job is opened (else `status` finds it running
        # with no coordinator: interrupted) and before the first lease (a peer
        # that finds our chunks also finds us, and leaves them while we live)
        self.store.coordinator_heartbeat(self.owner, [], self.tracker.lease_seconds())
        self.duties["admit"].last_run = time.monotonic()
        self._admit()

    def _final_states(self) -> dict[int, JobState]:
        """The final read of the jobs' states, through the guard."""
        deadline = time.monotonic() + SHUTDOWN_STORE_SECONDS
        return self.guard.insist(self.tracker.final_states, deadline)

    def _start_slots(self) -> None:
        env = worker_env(self.tracker.heartbeat_interval())
        count = self.tracker.worker_count(self.options.workers, bool(self.options.remote_slots))
        # workers the caller started while it planned: those with our settings
        local = local_workers(self.options.prestarted, env, count)
        self._add_slots([*local, *self.options.remote_slots])
        self.duties["hosts"].last_run = time.monotonic()
        if self.options.more_slots is not None:
            self._add_slots(self.options.more_slots())

    def _add_slots(self, slots: Sequence[Slot]) -> None:
        """Slots join the run (at start; a serve's hosts added while it runs)."""
        for slot in slots:
            self.supervisor.add(slot)
            self.feeder.add_slot(slot)
            self.supervisor.start(slot)

    def _shutdown(self) -> StoreUnavailable | None:
        """Stop every worker, give back every chunk not finished, commit what is
        buffered, deregister. Returns the store error that prevented it."""
        self.supervisor.shutdown()
        self.selector.close()
        self.ledger.close()  # no commit callback may write to the pipe after this
        self.wakeup.close()
        self.listening.drop()
        deadline = time.monotonic() + SHUTDOWN_STORE_SECONDS
        try:
            self.leases.save_checkpoints()
            self.guard.insist(lambda: self._flush(force=True), deadline)
            for job_id in self.tracker.jobs if self.interrupted else ():  # resume goes on
                self._event("job_interrupted", job_id, None, {"owner": self.owner})
            self.guard.insist(
                lambda: self.store.release_leases(self.owner, "coordinator stopping"), deadline
            )
            self.guard.insist(lambda: self.store.deregister_coordinator(self.owner), deadline)
        except StoreUnavailable as exc:
            return exc  # our leases expire by themselves; nothing is lost
        finally:
            self.ledger.close()
        return None

    # -- the loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        self.selector.register(self.wakeup.reader, selectors.EVENT_READ, self.wakeup)
        while not self.tracker.finished():
            now = time.monotonic()
            if self.stop_requested:
                if not self._drained:
                    self._drain()
                if self.stop_requested == 2 or now > self.stop_deadline or not self.tasks:
                    break
            elif self.guard.ready() and not self.guard.down:
                self.feeder.fill(now)
            for key, _ in self.selector.select(self._wait_timeout()):
                self._readable(key.data)
            if self.stop_requested:
                for slot in self.supervisor.slots:
                    self.supervisor.retire_if_only_dropped(slot)
            now = time.monotonic()
            self.supervisor.check(now)
            self.supervisor.retry_due(now)
            if self.guard.ready():  # the store duties wait while the store is down
                self.duties.run(now, STORE)
                self.limits.stop_over_limit()
            self.duties.run(now, VIEW)
        self._emit(time.monotonic())

    def _wait_timeout(self) -> float:
        timeout = 0.05 if not self.ledger.pending else FLUSH_SECONDS / 2
        return max(0.0, min(timeout, IDLE_POLL_SECONDS))

    def _readable(self, data: Slot | JobListener | WakePipe) -> None:
        if data is self.tracker.listener:
            if self.listening.on_readable():
                self.feeder.wake()
        elif data is self.wakeup:
            self.wakeup.drain()  # a commit answered: the settle duty takes it in
        else:
            self._on_readable(cast(Slot, data))

    def _drain(self) -> None:
        """First step of a graceful stop: give back every chunk that has not
        started; the running ones may finish until the deadline."""
        self._drained = True
        self.ledger.release_unstarted("coordinator stopping: the chunk had not started")
        for task in self.adoption.release_all():
            self.ledger.release(task, "coordinator stopping: the chunk had not started")
        for slot in self.supervisor.slots:
            self.supervisor.retire_if_only_dropped(slot)

    def _check_placement(self, now: float) -> None:
        """End the given jobs no slot can run (now, or soon)."""
        for job, error in self.feeder.unplaceable(now):
            ok, state = self.guard.attempt(end_unplaceable(self.store, job, error))
            if ok and state is not None:
                self._drop_job(job, state)

    # -- what workers say -------------------------------------------------------------

    def _on_readable(self, slot: Slot) -> None:
        messages, open_ = slot.read_available()
        self.supervisor.heard(slot, time.monotonic())
        for header, _payload in messages:
            kind = header.get("type")
            if kind == "result":
                self._on_result(slot, header)
            elif kind == "ready":
                self.supervisor.promised(slot, header.get("heartbeat"))
            elif kind == "checkpoint":
                self.leases.checkpoint(header)
        if not open_:
            self.supervisor.died(slot, "worker process exited")

    def _on_result(self, slot: Slot, header: dict[str, Any]) -> None:
        now = time.monotonic()
        task, ran = self.ledger.take(slot, str(header.get("task")), now)
        if task is None:
            return
        if ran is not None:
            self.feeder.ran(ran)
        self.supervisor.answered(slot)
        if task.dropped:
            discard_part(header.get("part_file"))  # never submitted, never ours
            return
        held = 0.0
        if header.get("ok") and self.hooks.hold_commit and not self._hook_fired:
            self._hook_fired = True
            held = now + self.hooks.hold_commit
        self.ledger.result(task, header, not_before=held)

    # -- the store duties ---------------------------------------------------------------

    def _heartbeat(self, now: float) -> bool:
        """Renew our leases (``renewal.py``); the first store call after an outage."""
        # results that arrived while we were away (paused, blocked) are taken
        # in first: the store, not our stale view, judges them
        for key, _ in self.selector.select(0):
            self._readable(key.data)
        ok, _ = self.guard.attempt(lambda: self.leases.heartbeat(now))
        if ok and self.guard.recovered:
            self.guard.recovered = False
            detail = {"owner": self.owner, "outage": self.guard.outages[-1]}
            for job_id in self.tracker.jobs:
                self._event("store_reconnected", job_id, None, detail)
        if ok:  # the LISTEN channel died with the outage: open it again
            self.listening.reopen(now)
        return ok

    def _settle(self, now: float) -> bool:
        """Take in the answer of the background commit, when it came."""
        if not self.guard.attempt(lambda: self.ledger.settle(wait=False))[0]:
            return False
        if not self.ledger.committing:
            self.feeder.wake()  # committed: a job may have ended
            self.tracker.settle_touched(self.ledger, self.guard, self._emit_ended)
        return True

    def _flush_due(self, duty: Duty, now: float) -> bool:
        waiting = self.ledger.waiting()
        return bool(waiting) and (duty.elapsed(now) or waiting >= FLUSH_BATCH)

    def _flush(self, force: bool = False) -> None:
        """Commit the outcomes that are due: in the background while the loop
        runs (the store works while we feed workers), at once when forced."""
        self.ledger.flush(self.store, self.owner, time.monotonic(), force, background=not force)
        self.feeder.wake()

    def _poll_job_states(self, now: float) -> None:
        """Stop the chunks of the jobs that ended elsewhere (a cancel, a peer)."""
        for job, state in self.tracker.ended_elsewhere():
            self._drop_job(job, state)

    def _admit_due(self, duty: Duty, now: float) -> bool:
        return not self.stop_requested and self.tracker.admission_due(lambda: duty.elapsed(now))

    def _admit(self) -> None:
        if self.tracker.admit():
            self.feeder.wake()

    def _poll_hosts(self, now: float) -> None:
        """A serve's new hosts (registered while it serves) join it."""
        assert self.options.more_slots is not None
        ok, added = self.guard.attempt(self.options.more_slots)
        if ok and added:
            self._add_slots(added)

    def _preempt(self, now: float) -> None:
        if self.preemptor.run(self.tracker.jobs.values(), now):
            self.feeder.wake()

    def _event(
        self,
        kind: str,
        job_id: int | None = None,
        chunk_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Best effort: an audit line is not worth stalling dispatch for."""
        self.guard.attempt(
            lambda: self.store.record_event(kind, job_id=job_id, chunk_id=chunk_id, detail=detail)
        )

    # -- job ends -------------------------------------------------------------------------

    def _drop_job(self, job: ActiveJob, state: JobState) -> None:
        """Stop everything of a job that ended (cancelled) while we ran it."""
        job.final_state = state
        self.supervisor.stop_job(job, f"its job {job.spec.name} ended ({state.value})")
        self.tracker.end(job, state)

    def _check_job_ends(self) -> None:
        """Settle the jobs none of whose chunks is still ours."""
        for job in self.tracker.without_tasks(task.job for task in self.tasks.values()):
            state = self.tracker.settle(job)
            if state is not None:
                self.tracker.end(job, state)
                self._emit_ended(job)

    def _emit_ended(self, job: ActiveJob) -> None:
        self._emit(time.monotonic(), extra=job)

    # -- observation ----------------------------------------------------------------------

    def _emit(self, now: float, extra: ActiveJob | None = None) -> None:
        """A progress snapshot for the observer (a job that just ended included)."""
        if self.observer is None:
            return
        self.duties["emit"].last_run = now
        jobs = [*self.tracker.jobs.values(), *([extra] if extra is not None else [])]
        message = self.tracker.message
        if self.guard.down:
            message = f"state store unavailable, retrying: {self.guard.last_error}"
        slots = self.supervisor.slots
        stopping = bool(self.stop_requested)
        self.observer(
            snapshot(now - self._started, now, jobs, slots, self.queues, stopping, message)
        )
