"""The dispatch loop: lease chunks, feed worker slots, record results in batches.

One coordinator process owns its leases (``owner``) and renews them with
heartbeats; the store is the only truth, so a coordinator that dies loses
nothing: its leases expire (or a live peer proves it gone, ``recovery.py``)
and any live coordinator, or the next ``run`` / ``resume``, takes the chunks
over. Results are committed in batches (many chunk outcomes per transaction)
so a job of many small chunks is not bound by commit latency; each outcome is
accepted only under its fencing token.

What each kind of trouble costs a chunk:

- processor error: an attempt (``retries.max_attempts``, backoff), then dead;
- its worker died while running it: an infrastructure attempt (separate cap);
  chunks queued behind it on that worker never started and go back free;
- lease lost (reaped while the worker was silent, job cancelled): the worker
  is stopped and its result, if one still comes, is never committed;
- a stop (signal), a store outage, a cancelled neighbour: nothing.

A heartbeat renews only the leases of chunks whose worker shows signs of
life, so a hung or paused worker's chunk expires and is taken over even
while this coordinator is alive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import selectors
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, cast

from orchestrator.dispatch.admission import GivenJobs, JobSource, QueuedJobs, plan_if_deferred
from orchestrator.dispatch.adoption import Adoption
from orchestrator.dispatch.hooks import TestHooks
from orchestrator.dispatch.jobs import ActiveJob
from orchestrator.dispatch.ledger import Ledger, Task, discard_part
from orchestrator.dispatch.lifecycle import open_job, settle_job
from orchestrator.dispatch.options import (
    ADMIT_LISTEN_POLL_SECONDS,
    ADMIT_POLL_SECONDS,
    EXIT_STATUS_WAIT_SECONDS,
    FLUSH_BATCH,
    FLUSH_SECONDS,
    HOSTS_POLL_SECONDS,
    IDLE_POLL_SECONDS,
    MAX_QUEUE_DEPTH,
    PLACEMENT_CHECK_SECONDS,
    PREEMPT_CHECK_SECONDS,
    PREEMPT_COOLDOWN_SECONDS,
    RESPAWN_MAX_SECONDS,
    RESPAWN_MIN_SECONDS,
    SETTLE_CLAIM_SECONDS,
    SHUTDOWN_STORE_SECONDS,
    SLOT_RETRY_MAX_SECONDS,
    SLOT_RETRY_MIN_SECONDS,
    STATE_POLL_SECONDS,
    RunOptions,
    default_log_dir,
    exit_code_for,
    local_worker_count,
    worker_env,
)
from orchestrator.dispatch.placement import Placement, end_unplaceable
from orchestrator.dispatch.recovery import gone_reason, reclaim_orphans
from orchestrator.dispatch.staging import attempt_part_name
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.dispatch.views import (
    JobView,
    Observer,
    RunSnapshot,
    SlotView,
    job_view,
    slot_views,
)
from orchestrator.errors import JobctlError, StoreUnavailable
from orchestrator.executors.base import Slot, SlotUnavailable
from orchestrator.executors.local import WorkerProcess
from orchestrator.states import JOB_TERMINAL, ChunkState, JobState, Priority
from orchestrator.store.base import JobListener, Store


def run_jobs(
    store: Store,
    job_ids: Sequence[int],
    options: RunOptions | None = None,
    observer: Observer | None = None,
) -> dict[int, JobState]:
    """Dispatch the given jobs until each ends (or a stop is requested); a job
    starts once the jobs it depends on succeeded."""
    options = options or RunOptions()
    close_remote: Callable[[], None] | None = None
    if not options.remote_slots:  # SSH hosts of the jobs' executor.ssh (none: nothing imported)
        from orchestrator.dispatch.remote import with_remote_slots

        options, close_remote = with_remote_slots(store, job_ids, options)
    coordinator = Coordinator(store, GivenJobs(job_ids, options.resume), options, observer)
    try:
        return coordinator.run()
    finally:
        if close_remote is not None:
            close_remote()


def serve_jobs(
    store: Store,
    queues: Sequence[str] | None = None,
    options: RunOptions | None = None,
    observer: Observer | None = None,
) -> dict[int, JobState]:
    """``jobctl serve``: dispatch every queued job of ``queues`` (None: all) with
    the slots of ``options``, until a stop is requested. Returns the final
    states of the jobs that ended while it served."""
    coordinator = Coordinator(store, QueuedJobs(queues), options or RunOptions(), observer)
    return coordinator.run()


def serve_with_hosts(
    store: Store,
    queues: Sequence[str] | None,
    options: RunOptions,
    observer: Observer | None = None,
    hosts_files: Sequence[str] = (),
    use_registered_hosts: bool = True,
) -> dict[int, JobState]:
    """:func:`serve_jobs` with SSH slots: the hosts of ``hosts_files`` and every
    host registered in the store (also those added while it serves)."""
    if not hosts_files and not use_registered_hosts:
        return serve_jobs(store, queues, options, observer)
    from orchestrator.dispatch.remote import ServeHosts

    hosts = ServeHosts(store, hosts_files, options.accept_new_host_keys)
    changed = dataclasses.replace(
        options, more_slots=hosts.new_slots, on_slot_state=hosts.on_slot_state
    )
    try:
        return serve_jobs(store, queues, changed, observer)
    finally:
        hosts.close()


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
        self.hooks = TestHooks.from_env()
        self.guard = StoreGuard(options.max_store_outage)
        self.jobs: dict[int, ActiveJob] = {}
        self.final: dict[int, JobState] = {}
        self.slots: list[Slot] = []
        self.down: dict[int, tuple[float, float]] = {}  # slot -> (retry at, backoff)
        self.respawn_at: dict[int, float] = {}  # slot -> when a dead worker restarts
        self.crashes: dict[int, int] = {}  # slot -> deaths since its last result
        self.checkpoints: dict[str, tuple[int, int, Any]] = {}  # task -> unsaved state
        self.last_heard: dict[int, float] = {}  # slot -> last message from its worker
        self.worker_heartbeat: dict[int, float] = {}  # slot -> interval it promised
        self.silent: set[int] = set()
        self.retired: set[int] = set()  # slots stopped for good by a graceful stop
        self.selector = selectors.DefaultSelector()
        self.rng = random.Random()  # noqa: S311 - jitter, not cryptography
        # the committer thread wakes the loop through this pipe when a commit
        # answered: the end of a job is seen at once, not at select()'s timeout
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.ledger = Ledger(self.rng, on_committed=self._wake)
        self.queues = self.ledger.queues  # slot -> its tasks in the worker's order
        self.tasks = self.ledger.tasks  # live tasks: leased, result not yet in
        #: parts an earlier coordinator's orphaned workers finished (adopted)
        self.adoption = Adoption(self.ledger, self.host)
        self.stop_requested = 0  # 1: graceful, 2: immediate
        self.stop_deadline = 0.0
        self.interrupted = False
        self._drained = False
        self._hook_fired = False
        self._task_counter = 0
        self._started = time.monotonic()
        self._last_flush = 0.0
        self._last_state_poll = 0.0
        self._last_heartbeat = time.monotonic()
        self._last_reap = 0.0
        self._last_snapshot = 0.0
        self._idle_until = 0.0
        self._last_admit = 0.0
        self._admit_due = True
        self._last_preempt_check = 0.0
        self._last_hosts_poll = 0.0
        self._placer: Placement | None = None  # built at the first lease
        self._last_placement_check = float("-inf")
        self._preempted_at = 0.0
        self.listener: JobListener | None = None
        self._message: str | None = None
        #: moving average of a chunk's time on a worker (seconds), for queue depth
        self.service_seconds = 0.1

    # -- lifecycle ----------------------------------------------------------------

    def request_stop(self, immediate: bool = False) -> None:
        """Stop leasing; let running chunks finish (bounded), or stop them now."""
        self.stop_requested = 2 if immediate or self.stop_requested else 1
        self.stop_deadline = time.monotonic() + self.options.graceful_stop_seconds
        self.interrupted = True

    def run(self) -> dict[int, JobState]:
        # chunks left running by a dead owner come back now (proof) or when
        # their lease expires (reap): a resume after a crash starts at once
        reclaim_orphans(self.store, self.owner, self.host)
        self.store.reap_expired()
        self._admit()
        if self._finished():
            return self._final_states()
        # registered before the first lease: a peer that finds our chunks also
        # finds us, and does not take them over while we live
        self.store.coordinator_heartbeat(self.owner, [], self._lease_seconds())
        self.listener = self._listen()
        previous = self._install_signals()
        problem: StoreUnavailable | None = None
        try:
            self._start_slots()
            self._loop()
        finally:
            problem = self._shutdown()
            self._restore_signals(previous)
        if problem is not None:
            raise problem
        return self._final_states()

    def _final_states(self) -> dict[int, JobState]:
        """The state of every job this run served or was given (from the store)."""
        ids = [*self.jobs, *self.source.waiting(set(self.final))]
        for record in self.store.get_jobs(ids):
            self.final[record.id] = record.state
        return self.final

    def _finished(self) -> bool:
        return not self.jobs and self.source.exhausted(set(self.final))

    def _listen(self) -> JobListener | None:
        """A wake-up channel when jobs keep coming (serve); polling without one."""
        if not isinstance(self.source, QueuedJobs):
            return None
        try:
            return self.store.listen()
        except StoreUnavailable:
            return None

    # -- admission ------------------------------------------------------------------

    def _admit(self) -> None:
        """Take on the jobs the source offers now (their upstream jobs succeeded);
        note the ones that ended without running (an upstream job failed)."""
        self._admit_due = False
        self._last_admit = time.monotonic()
        for job_id, state in self.source.ended(self.store).items():
            self.final.setdefault(job_id, state)
        for job_id in self.source.candidates(self.store, set(self.jobs), set(self.final)):
            try:
                plan_if_deferred(self.store, self.store.get_job(job_id))
                opened = open_job(self.store, job_id, self.options.resume)
            except StoreUnavailable:
                raise
            except JobctlError as exc:  # one bad job must not stop the others
                self._message = f"job {job_id} could not start: {exc}"
                continue
            if isinstance(opened, ActiveJob):
                self.final.pop(job_id, None)
                self.jobs[job_id] = opened
                self._idle_until = 0.0
            else:
                self.final[job_id] = opened

    def _admit_now(self, now: float) -> bool:
        """Whether to look for jobs now: woken (a notification, a job ended), or
        the poll interval passed while jobs may still come."""
        if self._admit_due:
            return True
        interval = ADMIT_POLL_SECONDS if self.listener is None else ADMIT_LISTEN_POLL_SECONDS
        if now - self._last_admit < interval:
            return False
        if self.source.dynamic:
            return True
        return any(job_id not in self.jobs for job_id in self.source.waiting(set(self.final)))

    def _on_notify(self) -> None:
        assert self.listener is not None
        try:
            if self.listener.drain():
                self._admit_due = True
                self._idle_until = 0.0
        except StoreUnavailable:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(self.listener.fileno())
            self.listener.close()
            self.listener = None  # polling from now on

    def _worker_count(self) -> int:
        """Local slots: ``--workers``, else the spec's, else the CPU count (none
        when every job runs on SSH hosts only)."""
        locals_ = [job.spec.executor.local for job in self.jobs.values()]
        return local_worker_count(self.options.workers, locals_, bool(self.options.remote_slots))

    def _worker_env(self) -> dict[str, str]:
        return worker_env(self._heartbeat_interval())

    def _start_slots(self) -> None:
        log_dir = default_log_dir()
        env = self._worker_env()
        count = self._worker_count()
        # workers the caller started while it planned: those with our settings
        local: list[Slot] = []
        for worker in self.options.prestarted:
            if isinstance(worker, WorkerProcess) and worker.env == env and len(local) < count:
                local.append(worker)
        for unused in self.options.prestarted:
            if unused not in local:
                unused.kill()
        local.extend(WorkerProcess(index, log_dir, env) for index in range(len(local), count))
        self.slots = []
        self._add_slots([*local, *self.options.remote_slots])
        self._last_hosts_poll = time.monotonic()
        if self.options.more_slots is not None:
            self._add_slots(self.options.more_slots())

    def _add_slots(self, slots: Sequence[Slot]) -> None:
        """Slots join the run (at start; a serve's hosts added while it runs)."""
        for slot in slots:
            self.slots.append(slot)
            self.queues[slot.slot] = deque()
            if self._placer is not None:
                self._placer.add_slot(slot)
            self._start_slot(slot)

    def _start_slot(self, slot: Slot) -> bool:
        """Start a slot; one that cannot start is retried later with backoff."""
        try:
            slot.start()
        except SlotUnavailable as exc:
            _, backoff = self.down.get(slot.slot, (0.0, SLOT_RETRY_MIN_SECONDS / 2))
            backoff = min(backoff * 2, SLOT_RETRY_MAX_SECONDS)
            first = slot.slot not in self.down
            self.down[slot.slot] = (time.monotonic() + backoff, backoff)
            if first:
                self._slot_state(slot, False, str(exc))
            return False
        if slot.slot in self.down:
            del self.down[slot.slot]
            self._slot_state(slot, True, "started")
        self.last_heard[slot.slot] = time.monotonic()
        self.worker_heartbeat.pop(slot.slot, None)
        self.silent.discard(slot.slot)
        self.selector.register(slot.fileno(), selectors.EVENT_READ, slot)
        return True

    def _slot_state(self, slot: Slot, up: bool, reason: str) -> None:
        detail = {"slot": slot.name, "host": slot.host, "reason": reason, "owner": self.owner}
        self._event("slot_up" if up else "slot_down", detail=detail)
        if self.options.on_slot_state is not None:
            self.options.on_slot_state(slot, up, reason)

    def _retry_down_slots(self, now: float) -> None:
        for index, (retry_at, _) in list(self.down.items()):
            if now >= retry_at:
                slot = next(s for s in self.slots if s.slot == index)
                self._start_slot(slot)
        for index, at in list(self.respawn_at.items()):
            if now >= at:
                del self.respawn_at[index]
                self._start_slot(next(s for s in self.slots if s.slot == index))

    def _respawn(self, slot: Slot, crashed: bool) -> None:
        """Kill a slot's worker and start a new one: at once after a kill of our
        own, after a growing pause when it died by itself."""
        with contextlib.suppress(KeyError, ValueError, AssertionError, OSError):
            self.selector.unregister(slot.fileno())
        slot.kill()
        if self.stop_requested:
            return
        if crashed:
            count = self.crashes[slot.slot] = self.crashes.get(slot.slot, 0) + 1
            delay = min(RESPAWN_MIN_SECONDS * 2 ** (count - 1), RESPAWN_MAX_SECONDS)
            self.respawn_at[slot.slot] = time.monotonic() + delay
        else:
            self._start_slot(slot)

    def _shutdown(self) -> StoreUnavailable | None:
        """Stop every worker, give back every chunk not finished, commit what is
        buffered, deregister. Returns the store error that prevented it."""
        for slot in self.slots:
            if slot.slot in self.down or slot.slot in self.respawn_at or slot.slot in self.retired:
                continue
            with contextlib.suppress(KeyError, ValueError, AssertionError, OSError):
                self.selector.unregister(slot.fileno())
            queue = self.queues.get(slot.slot)
            if queue:
                slot.kill()
            else:
                slot.shutdown()
        for slot in self.slots:
            self.ledger.end_queue(slot, None, "coordinator stopped before the chunk finished")
        self.selector.close()
        self.ledger.close()  # no commit callback may write to the pipe after this
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.listener is not None:
            self.listener.close()
        deadline = time.monotonic() + SHUTDOWN_STORE_SECONDS
        try:
            self._save_checkpoints()
            self.guard.insist(lambda: self._flush(force=True), deadline)
            self.guard.insist(
                lambda: self.store.release_leases(self.owner, "coordinator stopping"), deadline
            )
            self.guard.insist(lambda: self.store.deregister_coordinator(self.owner), deadline)
        except StoreUnavailable as exc:
            return exc  # our leases expire by themselves; nothing is lost
        finally:
            self.ledger.close()
        return None

    # -- signals --------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        if not self.options.install_signal_handlers:
            return {}
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop(immediate=self.stop_requested > 0)

        previous: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    # -- the loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        if self.listener is not None:
            self.selector.register(self.listener.fileno(), selectors.EVENT_READ, self.listener)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._wake_r)
        while not self._finished():
            now = time.monotonic()
            if self.stop_requested:
                if not self._drained:
                    self._drain()
                if self.stop_requested == 2 or now > self.stop_deadline or not self.tasks:
                    break
            elif self.guard.ready() and not self.guard.down:
                self._fill_slots(now)
            for key, _ in self.selector.select(self._wait_timeout()):
                self._readable(key.data)
            if self.stop_requested:
                for slot in self.slots:
                    self._stop_if_only_dropped(slot)
            now = time.monotonic()
            self._check_slots(now)
            if self.down or self.respawn_at:
                self._retry_down_slots(now)
            self._store_work(now)
            self._emit(now)
        self._emit(time.monotonic(), force=True)

    def _store_work(self, now: float) -> None:
        """Everything periodic that needs the store; skipped while it is down.
        After an outage the heartbeat goes first: renewing our leases before
        anything else keeps the chunks our workers still run."""
        if not self.guard.ready():
            return
        due = now - self._last_heartbeat > self._heartbeat_interval()
        if due or self.guard.down or self.guard.recovered:
            # results that arrived while we were away (paused, blocked) are
            # taken in first: the store, not our stale view, judges them
            for key, _ in self.selector.select(0):
                self._readable(key.data)
            ok, _ = self.guard.attempt(lambda: self._heartbeat(now))
            if not ok:
                return
            self._last_heartbeat = now
            if self.guard.recovered:
                self.guard.recovered = False
                self._event_jobs(
                    "store_reconnected", {"owner": self.owner, "outage": self.guard.outages[-1]}
                )
        if self.checkpoints and not self.guard.attempt(self._save_checkpoints)[0]:
            return
        if self.ledger.committing:
            if not self.guard.attempt(lambda: self.ledger.settle(wait=False))[0]:
                return
            if not self.ledger.committing:
                self._idle_until = 0.0  # committed: a job may have ended
        waiting = self.ledger.waiting()
        flush_due = now - self._last_flush > FLUSH_SECONDS or waiting >= FLUSH_BATCH
        if waiting and flush_due and not self.guard.attempt(self._flush)[0]:
            return
        if now - self._last_reap > self._lease_seconds() / 2:
            if not self.guard.attempt(self._reap)[0]:
                return
            self._last_reap = now
        if now - self._last_state_poll > STATE_POLL_SECONDS:
            if not self.guard.attempt(self._poll_job_states)[0]:
                return
            self._last_state_poll = now
        admit = not self.stop_requested and self._admit_now(now)
        if admit and not self.guard.attempt(self._admit)[0]:
            return
        more = self.options.more_slots
        if more is not None and now - self._last_hosts_poll > HOSTS_POLL_SECONDS:
            self._last_hosts_poll = now
            ok, added = self.guard.attempt(more)
            if ok and added:
                self._add_slots(added)
        if now - self._last_preempt_check > PREEMPT_CHECK_SECONDS and not self.stop_requested:
            self._last_preempt_check = now
            self.guard.attempt(lambda: self._preempt(now))

    def _wait_timeout(self) -> float:
        timeout = 0.05 if not self.ledger.pending else FLUSH_SECONDS / 2
        return max(0.0, min(timeout, IDLE_POLL_SECONDS))

    def _queue_depth(self) -> int:
        """Chunks to keep queued per worker, from the measured time per chunk."""
        per_chunk = max(self.service_seconds, 1e-6)
        return 1 + max(1, min(MAX_QUEUE_DEPTH, int(self.options.prefetch_seconds / per_chunk)))

    def _capacity(self) -> int:
        depth = self._queue_depth()
        return sum(max(depth - len(self.queues[s.slot]), 0) for s in self._usable_slots())

    def _usable_slots(self) -> list[Slot]:
        """Started slots whose worker is not silent. A worker that dies is noticed
        by the end of its output stream (select), so the hot path never polls
        processes."""
        return [
            s
            for s in self.slots
            if s.slot not in self.down
            and s.slot not in self.respawn_at
            and s.slot not in self.silent
        ]

    def _fill_slots(self, now: float) -> None:
        usable = self._usable_slots()
        placement = self._placement(usable, now)
        awaited = self.adoption.due(now) if usable else []
        for task in awaited:  # an orphan did not finish it after all: run it
            task.slot = placement.choose(task.lease.job_id, task.job.spec, self.queues)
            self.ledger.add(task, now)
        if awaited:
            self._send_tasks(awaited)
        capacity = self._capacity()
        if capacity <= 0 or now < self._idle_until:
            return
        if self.tasks and capacity < self._queue_depth() * len(self.slots) // 4:
            return  # lease in batches: wait until a quarter of the queues drained
        job_ids = [
            job_id
            for job_id, job in self.jobs.items()
            if job.final_state is None and placement.placeable(job_id, job.spec)
        ]
        if not job_ids:
            return
        ok, leased = self.guard.attempt(
            lambda: self.store.lease_chunks(self.owner, job_ids, capacity, self._lease_seconds())
        )
        if not ok or leased is None:
            return  # if the lease did happen, the next heartbeat finds and returns it
        if len(leased) < capacity:
            self._idle_until = now + IDLE_POLL_SECONDS
            if not self.ledger.pending:
                self.guard.attempt(self._check_job_ends)
        else:
            self._idle_until = 0.0
        if not leased:
            return
        tasks: list[Task] = []
        for lease in leased:
            job = self.jobs[lease.job_id]
            slot = placement.choose(lease.job_id, job.spec, self.queues)
            self._task_counter += 1
            task = Task(f"t{self._task_counter}", lease, job, slot, now)
            # a chunk that lost an attempt may have been finished by an orphan
            if lease.infra_attempts and self.adoption.hold_back(task, now):
                continue
            self.ledger.add(task, now)  # in order: placement counts queue lengths
            tasks.append(task)
        self._send_tasks(tasks)

    def _send_tasks(self, tasks: list[Task]) -> None:
        """Send the runs of ``tasks`` (already queued on their slots) to their workers."""
        frames: dict[int, list[tuple[dict[str, Any], bytes | None]]] = {}
        for task in tasks:
            frames.setdefault(task.slot.slot, []).append((self._run_message(task), None))
        for slot in self.slots:
            batch = frames.get(slot.slot)
            if batch and not slot.send(batch):
                self._slot_died(slot, "worker process is gone")

    def _placement(self, usable: list[Slot], now: float) -> Placement:
        """Where chunks may go (``placement.py``: requirements, queue length, score),
        from figures cached in memory; ends the given jobs no slot can run (a
        serving coordinator leaves them to others)."""
        placement = self._placer
        if placement is None:
            placement = Placement(
                self.slots,
                local_option=bool(self.options.workers),
                serving=self.source.dynamic,
            )
            self._placer = placement
        placement.update(usable, now)
        # a job's wait for a slot is bounded in seconds: no need to judge it
        # on every turn of the loop
        if self.source.dynamic or now - self._last_placement_check < PLACEMENT_CHECK_SECONDS:
            return placement
        self._last_placement_check = now
        specs = {job_id: job.spec for job_id, job in self.jobs.items()}
        for job_id, error in placement.unplaceable(specs, now):
            job = self.jobs[job_id]
            ok, state = self.guard.attempt(end_unplaceable(self.store, job, error))
            if ok and state is not None:
                self._drop_job(job, state)
        return placement

    def _run_message(self, task: Task) -> dict[str, Any]:
        job, lease, slot = task.job, task.lease, task.slot
        if job.key in slot.known_jobs:
            payload: dict[str, Any] = {"key": job.key}
        else:
            payload = job.payload
            slot.known_jobs.add(job.key)
        return {
            "type": "run",
            "task": task.task_id,
            "job": payload,
            "chunk": lease.descriptor_doc,
            "chunk_id": lease.chunk_id,  # ties an orphan's receipt to this very chunk
            "token": lease.fencing_token,
            "attempt": lease.attempts + lease.infra_attempts + 1,
            "checkpoint": lease.checkpoint,
            "part_name": attempt_part_name(lease.seq, lease.fencing_token),
        }

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def _readable(self, data: Slot | JobListener | int) -> None:
        if data is self.listener:
            self._on_notify()
        elif data is self._wake_r:
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(self._wake_r, 4096)  # a commit answered: _store_work takes it in
        else:
            self._on_readable(cast(Slot, data))

    def _on_readable(self, slot: Slot) -> None:
        messages, open_ = slot.read_available()
        self.last_heard[slot.slot] = time.monotonic()
        self.silent.discard(slot.slot)
        for header, _payload in messages:
            kind = header.get("type")
            if kind == "result":
                self._on_result(slot, header)
            elif kind == "ready":
                slot.ready = True
                interval = header.get("heartbeat")
                if isinstance(interval, int | float) and interval > 0:
                    self.worker_heartbeat[slot.slot] = float(interval)
            elif kind == "checkpoint":
                task = self.tasks.get(str(header.get("task")))
                if task is not None:
                    lease = task.lease
                    state = header.get("state")
                    self.checkpoints[task.task_id] = (lease.chunk_id, lease.fencing_token, state)
        if not open_:
            self._slot_died(slot, "worker process exited")

    def _on_result(self, slot: Slot, header: dict[str, Any]) -> None:
        now = time.monotonic()
        task, ran = self.ledger.take(slot, str(header.get("task")), now)
        if task is None:
            return
        if ran is not None:
            self.service_seconds += (ran - self.service_seconds) * 0.1
        self.crashes.pop(slot.slot, None)  # it answered: the worker is healthy
        if task.dropped:
            discard_part(header.get("part_file"))  # never submitted, never ours
            return
        held = 0.0
        if header.get("ok") and self.hooks.hold_commit and not self._hook_fired:
            self._hook_fired = True
            held = now + self.hooks.hold_commit
        self.ledger.result(task, header, not_before=held)

    # -- workers that end ---------------------------------------------------------

    def _slot_died(self, slot: Slot, reason: str) -> None:
        code = slot.exit_status()
        deadline = time.monotonic() + EXIT_STATUS_WAIT_SECONDS
        while code is None and time.monotonic() < deadline:
            time.sleep(0.01)  # its output closed: it is exiting; say how it ended
            code = slot.exit_status()
        detail = f"{reason} (exit status {code})" if code is not None else reason
        self.ledger.end_queue(
            slot,
            f"worker {slot.name} lost: {detail}",
            f"worker {slot.name} lost before the chunk started: {detail}",
        )
        self._respawn(slot, crashed=True)

    def _stop_slot(self, slot: Slot, reason: str) -> None:
        """Kill a worker on purpose; its queued chunks go back free."""
        self.ledger.end_queue(slot, None, reason)
        self._respawn(slot, crashed=False)

    def _stop_if_only_dropped(self, slot: Slot) -> None:
        """While stopping, a worker left with chunks we gave back is killed."""
        if self.stop_requested and self.ledger.only_dropped(slot):
            self.queues[slot.slot].clear()
            self.retired.add(slot.slot)
            self._respawn(slot, crashed=False)

    def _drain(self) -> None:
        """First step of a graceful stop: give back every chunk that has not
        started; the running ones may finish until the deadline."""
        self._drained = True
        self.ledger.release_unstarted("coordinator stopping: the chunk had not started")
        for task in self.adoption.release_all():
            self.ledger.release(task, "coordinator stopping: the chunk had not started")
        for slot in self.slots:
            self._stop_if_only_dropped(slot)

    def _responsive(self, slot: Slot, now: float) -> bool:
        """Whether the worker showed signs of life recently. A worker that never
        promised heartbeats (an older or foreign runtime) is trusted."""
        interval = self.worker_heartbeat.get(slot.slot)
        if interval is None:
            return True
        limit = max(4 * interval, 2 * self._heartbeat_interval())
        return now - self.last_heard.get(slot.slot, now) <= limit

    def _check_slots(self, now: float) -> None:
        for slot in self.slots:
            if slot.slot in self.down or slot.slot in self.respawn_at or slot.slot in self.retired:
                continue
            queue = self.queues[slot.slot]
            if not queue:
                if not slot.alive() and self.stop_requested != 2:
                    self._slot_died(slot, "worker process exited")
                continue
            head = queue[0]
            limit = head.job.spec.timeouts.chunk
            if head.started_at is not None and now - head.started_at > limit:
                if not head.dropped:
                    self.ledger.fail(head, f"timed out after {limit:g}s (timeouts.chunk)")
                self._stop_slot(slot, "worker killed after a chunk timed out")
            elif slot.slot not in self.silent and not self._responsive(slot, now):
                self.silent.add(slot.slot)  # its leases are no longer renewed
                detail = {
                    "owner": self.owner,
                    "slot": slot.name,
                    "pid": slot.pid,
                    "silent_for": round(now - self.last_heard.get(slot.slot, now), 3),
                }
                self._event("worker_silent", head.job.record.id, head.lease.chunk_id, detail)

    # -- heartbeats, results, job ends ------------------------------------------------

    def _heartbeat(self, now: float) -> None:
        """Renew the leases of chunks whose worker is alive (and of finished
        chunks whose outcome is not committed yet); then act on what the store
        says we hold: stop the workers of lost leases, give back leases we
        never knew we had."""
        renew = self.ledger.renewals(lambda slot: self._responsive(slot, now), now)
        held = self.store.coordinator_heartbeat(self.owner, renew, self._lease_seconds())
        lost = self.ledger.reconcile(held)
        if lost:
            self._leases_lost(lost)

    def _leases_lost(self, lost: list[Task]) -> None:
        """Chunks no longer ours (reaped, cancelled): never commit them, and stop
        the workers running them."""
        stop: dict[int, Slot] = {}
        for task in lost:
            self.ledger.forget(task)
            queue = self.queues[task.slot.slot]
            running = bool(queue) and queue[0] is task
            if running:
                stop[task.slot.slot] = task.slot
            detail = {
                "owner": self.owner,
                "fencing_token": task.lease.fencing_token,
                "slot": task.slot.name,
                "action": "worker stopped" if running else "result will be ignored",
            }
            self._event("chunk_lease_lost", task.job.record.id, task.lease.chunk_id, detail)
        for slot in stop.values():
            self._stop_slot(slot, "another chunk on its worker lost its lease")

    def _save_checkpoints(self) -> None:
        """Before outcomes are committed: a retried attempt must find the last
        state its predecessor saved."""
        for task_id, (chunk_id, token, state) in list(self.checkpoints.items()):
            self.store.save_checkpoint(chunk_id, token, state)
            del self.checkpoints[task_id]

    def _flush(self, force: bool = False) -> None:
        """Commit the outcomes that are due: in the background while the loop
        runs (the store works while we feed workers), at once when forced."""
        self.ledger.flush(self.store, self.owner, time.monotonic(), force, background=not force)
        self._last_flush = time.monotonic()
        self._idle_until = 0.0

    def _reap(self) -> None:
        """Any live coordinator reaps: expired leases, and chunks of peers that
        are provably gone."""
        self.store.reap_expired()
        reclaim_orphans(self.store, self.owner, self.host)

    def _heartbeat_interval(self) -> float:
        return min((job.spec.timeouts.heartbeat for job in self.jobs.values()), default=10.0)

    def _lease_seconds(self) -> float:
        return min((job.spec.timeouts.lease for job in self.jobs.values()), default=60.0)

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

    def _event_jobs(self, kind: str, detail: dict[str, Any]) -> None:
        for job_id in self.jobs:
            self._event(kind, job_id, None, detail)

    def _poll_job_states(self) -> None:
        """Notice cancels (from another terminal), jobs that ended elsewhere
        (settled by another coordinator) and priority changes."""
        for record in self.store.get_jobs(list(self.jobs)):
            job = self.jobs[record.id]
            if record.state in JOB_TERMINAL:
                self._drop_job(job, record.state)
            else:
                job.record = record

    def _drop_job(self, job: ActiveJob, state: JobState) -> None:
        """Stop everything of a job that ended (cancelled) while we ran it."""
        job.final_state = state
        for slot in self.slots:
            queue = self.queues[slot.slot]
            mine = [task for task in queue if task.job is job and not task.dropped]
            for task in mine:
                self.ledger.forget(task)
            if queue and queue[0].job is job:
                self._stop_slot(slot, f"its job {job.spec.name} ended ({state.value})")
        self.final[job.record.id] = state
        del self.jobs[job.record.id]
        self._admit_due = True

    def _check_job_ends(self) -> None:
        for job in list(self.jobs.values()):
            if any(task.job is job for task in self.tasks.values()):
                continue
            if not self._claim_settlement(job.record.id):
                continue  # another coordinator is settling it; the state poll sees the end
            state = settle_job(self.store, job)
            if state is not None:
                self._finish(job, state)

    def _claim_settlement(self, job_id: int) -> bool:
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

    def _finish(self, job: ActiveJob, state: JobState) -> None:
        job.final_state = state
        self.final[job.record.id] = state
        del self.jobs[job.record.id]
        self._admit_due = True  # jobs that depend on it may start (or never will)
        self._emit(time.monotonic(), force=True, extra=job)

    # -- priorities -------------------------------------------------------------------

    def _preempt(self, now: float) -> None:
        """URGENT chunks wait and no slot is free: stop the lowest-priority running
        chunks (the most recently started first: least work lost) so they start
        at once. A stopped chunk goes back to pending without an attempt spent;
        the last checkpoint its worker reported is kept, so a checkpointing
        processor resumes from it."""
        urgent = [j for j in self.jobs.values() if j.record.priority == Priority.URGENT]
        if not urgent or now - self._preempted_at < PREEMPT_COOLDOWN_SECONDS:
            return
        usable = self._usable_slots()
        victims = [
            s
            for s in usable
            if self.queues[s.slot] and self.queues[s.slot][0].job.record.priority < Priority.URGENT
        ]
        if not victims:
            return
        # waiting: pending in the store, or leased by us but queued behind a
        # lower-priority chunk that runs
        waiting = sum(
            1
            for s in victims
            for task in list(self.queues[s.slot])[1:]
            if task.job.record.priority == Priority.URGENT and not task.dropped
        )
        for job in urgent:
            waiting += self.store.job_progress(job.record.id).chunks.get(ChunkState.PENDING, 0)
        idle = sum(1 for s in usable if not self.queues[s.slot])
        need = min(waiting - idle, len(victims))
        if need <= 0:
            return
        victims.sort(
            key=lambda s: (
                self.queues[s.slot][0].job.record.priority,
                -(self.queues[s.slot][0].started_at or now),
            )
        )
        self._preempted_at = now
        names = ", ".join(sorted({job.spec.name for job in urgent}))
        for slot in victims[:need]:
            head = self.queues[slot.slot][0]
            detail = {
                "owner": self.owner,
                "slot": slot.name,
                "fencing_token": head.lease.fencing_token,
                "priority": head.job.record.priority.name,
                "for": names,
            }
            self._event("chunk_preempted", head.job.record.id, head.lease.chunk_id, detail)
            self._stop_slot(slot, f"preempted by URGENT job(s) {names}")
        self._idle_until = 0.0

    # -- observation ----------------------------------------------------------------------

    def _emit(self, now: float, force: bool = False, extra: ActiveJob | None = None) -> None:
        if self.observer is None or (not force and now - self._last_snapshot < 0.2):
            return
        self._last_snapshot = now
        elapsed = now - self._started
        jobs = list(self.jobs.values()) + ([extra] if extra is not None else [])
        views = [job_view(job, now, elapsed) for job in jobs]
        slots = slot_views(self.slots, self.queues, now)
        message = self._message
        if self.guard.down:
            message = f"state store unavailable, retrying: {self.guard.last_error}"
        self.observer(RunSnapshot(elapsed, views, slots, bool(self.stop_requested), message))


__all__ = [
    "Coordinator",
    "JobView",
    "RunOptions",
    "RunSnapshot",
    "SlotView",
    "exit_code_for",
    "run_jobs",
]
