"""The dispatch loop: lease chunks, feed worker slots, record results in batches.

One coordinator process owns its leases (``owner``) and renews them with
heartbeats; the store is the only truth, so a coordinator that dies loses
nothing: its leases expire and any live coordinator (or the next ``run`` /
``resume``) takes the chunks over. Results are committed in batches (many
chunk outcomes per transaction) so a job of many small chunks is not bound by
commit latency; each outcome is accepted only under its fencing token.
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from orchestrator.dispatch import retry
from orchestrator.dispatch.finalize import publish
from orchestrator.dispatch.jobs import ActiveJob
from orchestrator.dispatch.staging import attempt_part_name
from orchestrator.errors import ExitCode, JobctlError
from orchestrator.executors.base import Slot, SlotUnavailable
from orchestrator.executors.local import WorkerProcess
from orchestrator.processors.base import check_processor
from orchestrator.states import JOB_TERMINAL, ChunkState, JobState
from orchestrator.store.base import ChunkOutcome, Lease, OutcomeKind, Store

#: How often (seconds) the coordinator checks the store for cancels and job ends.
STATE_POLL_SECONDS = 0.5
#: Seconds between lease polls when nothing was pending.
IDLE_POLL_SECONDS = 0.2
#: Outcomes are committed when this many are waiting, or after FLUSH_SECONDS.
FLUSH_BATCH = 256
FLUSH_SECONDS = 0.05
#: Chunks are queued on each worker for about this many seconds of work, so the
#: round trip to the worker and the lease transaction are hidden behind work
#: already queued: 2 for slow chunks, up to MAX_QUEUE_DEPTH for tiny ones.
PREFETCH_SECONDS = 0.1
MAX_QUEUE_DEPTH = 128
#: Backoff bounds (seconds) for restarting a slot that could not start.
SLOT_RETRY_MIN_SECONDS = 1.0
SLOT_RETRY_MAX_SECONDS = 30.0
#: How long a graceful stop waits for running chunks before it stops them.
GRACEFUL_STOP_SECONDS = 30.0


@dataclass(frozen=True)
class RunOptions:
    workers: int | None = None
    resume: bool = False
    #: slots on other hosts (SSH); they serve the jobs together with local ones
    remote_slots: tuple[Slot, ...] = ()
    #: called when a slot goes down or comes back (host state bookkeeping)
    on_slot_state: Callable[[Slot, bool, str], None] | None = None
    prefetch_seconds: float = PREFETCH_SECONDS
    graceful_stop_seconds: float = GRACEFUL_STOP_SECONDS
    install_signal_handlers: bool = True


@dataclass
class Task:
    """One leased chunk sent to one slot."""

    task_id: str
    lease: Lease
    job: ActiveJob
    slot: Slot
    sent_at: float
    started_at: float | None = None  # when it reached the head of its slot's queue


@dataclass(frozen=True)
class SlotView:
    name: str
    pid: int | None
    job: str | None
    chunk: int | None
    elapsed: float


@dataclass(frozen=True)
class JobView:
    id: int
    name: str
    state: str
    total: int
    done: int
    dead: int
    running: int
    retries: int
    failures: int
    rows_in: int
    rows_out: int
    rows_per_second: float
    eta_seconds: float | None


@dataclass(frozen=True)
class RunSnapshot:
    """What the live view shows; produced a few times a second."""

    elapsed: float
    jobs: list[JobView]
    slots: list[SlotView]
    stopping: bool
    message: str | None = None


Observer = Callable[[RunSnapshot], None]


def exit_code_for(final: dict[int, JobState], interrupted: bool = False) -> int:
    """The documented exit code for the final states of the jobs of one run."""
    if interrupted or any(
        state in (JobState.PENDING, JobState.RUNNING) for state in final.values()
    ):
        return ExitCode.INTERRUPTED
    if any(state in (JobState.FAILED, JobState.UPSTREAM_FAILED) for state in final.values()):
        return ExitCode.JOB_FAILED
    if any(state == JobState.CANCELLED for state in final.values()):
        return ExitCode.CANCELLED
    return ExitCode.OK


def default_log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "jobctl" / "logs"


def run_jobs(
    store: Store,
    job_ids: Sequence[int],
    options: RunOptions | None = None,
    observer: Observer | None = None,
) -> dict[int, JobState]:
    """Dispatch the given jobs until each ends (or a stop is requested)."""
    coordinator = Coordinator(store, job_ids, options or RunOptions(), observer)
    return coordinator.run()


class Coordinator:
    """Leases chunks of some jobs and runs them on local worker slots."""

    def __init__(
        self,
        store: Store,
        job_ids: Sequence[int],
        options: RunOptions,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.job_ids = list(job_ids)
        self.options = options
        self.observer = observer
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.jobs: dict[int, ActiveJob] = {}
        self.final: dict[int, JobState] = {}
        self.slots: list[Slot] = []
        self.down: dict[int, tuple[float, float]] = {}  # slot -> (retry at, backoff)
        self.queues: dict[int, deque[Task]] = {}
        self.tasks: dict[str, Task] = {}
        self.pending_outcomes: list[tuple[ChunkOutcome, Task]] = []
        self.selector = selectors.DefaultSelector()
        self.rng = random.Random()  # noqa: S311 - jitter, not cryptography
        self.stop_requested = 0  # 1: graceful, 2: immediate
        self.stop_deadline = 0.0
        self.interrupted = False
        self._task_counter = 0
        self._started = time.monotonic()
        self._last_flush = 0.0
        self._last_state_poll = 0.0
        self._last_heartbeat = time.monotonic()
        self._last_reap = 0.0
        self._last_snapshot = 0.0
        self._idle_until = 0.0
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
        self._prepare_jobs()
        if not self.jobs:
            return self.final
        previous = self._install_signals()
        try:
            self._start_slots()
            self._loop()
        finally:
            self._shutdown()
            self._restore_signals(previous)
        for job in self.jobs.values():
            self.final[job.record.id] = self.store.get_job(job.record.id).state
        return self.final

    def _prepare_jobs(self) -> None:
        for job_id in self.job_ids:
            record = self.store.get_job(job_id)
            if self.options.resume and record.state in (JobState.FAILED, JobState.CANCELLED):
                self.store.requeue_chunks(
                    job_id, [ChunkState.DEAD, ChunkState.CANCELLED, ChunkState.FAILED]
                )
                record = self.store.set_job_state(
                    job_id, JobState.RUNNING, detail={"reason": "resume"}
                )
            if record.state in JOB_TERMINAL:
                self.final[job_id] = record.state
                continue
            job = ActiveJob.create(record)
            try:
                check_processor(job.payload)
            except JobctlError as exc:
                if record.state == JobState.PENDING:
                    self.store.set_job_state(job_id, JobState.RUNNING)
                self.store.set_job_state(job_id, JobState.FAILED, error=str(exc))
                self.final[job_id] = JobState.FAILED
                continue
            if record.state == JobState.PENDING:
                record = self.store.set_job_state(job_id, JobState.RUNNING)
                job.record = record
            # chunks left running by a previous owner of this job come back when
            # their lease expires; reap now so a resume after a crash starts at once
            self.store.reap_expired()
            job.load_progress(self.store.job_progress(job_id))
            if job.staging is not None:
                job.staging.mkdir(parents=True, exist_ok=True)
            self.jobs[job_id] = job

    def _worker_count(self) -> int:
        """Local slots: ``--workers``, else the spec's, else the CPU count (none
        when every job runs on SSH hosts only)."""
        if self.options.workers:
            return self.options.workers
        specs = [job.spec.executor.local for job in self.jobs.values()]
        for local in specs:
            if local is not None and local.workers:
                return local.workers
        if self.options.remote_slots and all(local is None for local in specs):
            return 0
        return os.cpu_count() or 1

    def _start_slots(self) -> None:
        log_dir = default_log_dir()
        local = [WorkerProcess(index, log_dir) for index in range(self._worker_count())]
        self.slots = [*local, *self.options.remote_slots]
        for slot in self.slots:
            self.queues[slot.slot] = deque()
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
        self.selector.register(slot.fileno(), selectors.EVENT_READ, slot)
        return True

    def _slot_state(self, slot: Slot, up: bool, reason: str) -> None:
        self.store.record_event(
            "slot_up" if up else "slot_down",
            detail={"slot": slot.name, "host": slot.host, "reason": reason, "owner": self.owner},
        )
        if self.options.on_slot_state is not None:
            self.options.on_slot_state(slot, up, reason)

    def _retry_down_slots(self, now: float) -> None:
        for index, (retry_at, _) in list(self.down.items()):
            if now >= retry_at:
                slot = next(s for s in self.slots if s.slot == index)
                self._start_slot(slot)

    def _respawn(self, slot: Slot) -> None:
        with contextlib.suppress(KeyError, ValueError, AssertionError, OSError):
            self.selector.unregister(slot.fileno())
        slot.kill()
        if self.stop_requested == 2:
            return
        self._start_slot(slot)

    def _shutdown(self) -> None:
        for slot in self.slots:
            if slot.slot in self.down:
                continue
            with contextlib.suppress(KeyError, ValueError, AssertionError, OSError):
                self.selector.unregister(slot.fileno())
            if self.queues.get(slot.slot):
                slot.kill()
            else:
                slot.shutdown()
        for queue in self.queues.values():
            for task in queue:
                self._lost(task, "coordinator stopped before the chunk finished")
            queue.clear()
        self._flush(force=True)
        self.store.release_leases(self.owner, "coordinator stopping")
        self.selector.close()

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
        while self.jobs:
            now = time.monotonic()
            if self.stop_requested:
                if self.stop_requested == 2 or now > self.stop_deadline:
                    break
                if not self.tasks:
                    break
            else:
                self._fill_slots(now)
            timeout = self._wait_timeout(now)
            for key, _ in self.selector.select(timeout):
                self._on_readable(key.data)
            now = time.monotonic()
            self._check_slots(now)
            if self.down:
                self._retry_down_slots(now)
            if self.pending_outcomes and (
                len(self.pending_outcomes) >= FLUSH_BATCH or now - self._last_flush > FLUSH_SECONDS
            ):
                self._flush()
            if now - self._last_heartbeat > self._heartbeat_interval():
                self.store.renew_leases(self.owner, self._lease_seconds())
                self._last_heartbeat = now
            if now - self._last_reap > self._lease_seconds() / 2:
                self.store.reap_expired()
                self._last_reap = now
            if now - self._last_state_poll > STATE_POLL_SECONDS:
                self._poll_job_states()
                self._last_state_poll = now
            self._emit(now)
        self._emit(time.monotonic(), force=True)

    def _wait_timeout(self, now: float) -> float:
        timeout = 0.05 if not self.pending_outcomes else FLUSH_SECONDS / 2
        return max(0.0, min(timeout, IDLE_POLL_SECONDS))

    def _queue_depth(self) -> int:
        """Chunks to keep queued per worker, from the measured time per chunk."""
        per_chunk = max(self.service_seconds, 1e-6)
        return 1 + max(1, min(MAX_QUEUE_DEPTH, int(self.options.prefetch_seconds / per_chunk)))

    def _capacity(self) -> int:
        depth = self._queue_depth()
        return sum(max(depth - len(self.queues[s.slot]), 0) for s in self._usable_slots())

    def _usable_slots(self) -> list[Slot]:
        """Started slots. A worker that dies is noticed by the end of its output
        stream (select), so the hot path never polls processes."""
        return [s for s in self.slots if s.slot not in self.down]

    def _fill_slots(self, now: float) -> None:
        capacity = self._capacity()
        if capacity <= 0 or now < self._idle_until:
            return
        if self.tasks and capacity < self._queue_depth() * len(self.slots) // 4:
            return  # lease in batches: wait until a quarter of the queues drained
        job_ids = [job_id for job_id, job in self.jobs.items() if job.final_state is None]
        if not job_ids:
            return
        leases = self.store.lease_chunks(self.owner, job_ids, capacity, self._lease_seconds())
        if len(leases) < capacity:
            self._idle_until = now + IDLE_POLL_SECONDS
            if not self.pending_outcomes:
                self._check_job_ends()
        else:
            self._idle_until = 0.0
        if not leases:
            return
        frames: dict[int, list[tuple[dict[str, Any], bytes | None]]] = {}
        usable = self._usable_slots()
        for lease in leases:
            job = self.jobs[lease.job_id]
            slot = min(usable, key=lambda s: len(self.queues[s.slot]))
            self._task_counter += 1
            task = Task(f"t{self._task_counter}", lease, job, slot, now)
            queue = self.queues[slot.slot]
            if not queue:
                task.started_at = now
            queue.append(task)
            self.tasks[task.task_id] = task
            job.running += 1
            frames.setdefault(slot.slot, []).append((self._run_message(task), None))
        for slot in self.slots:
            batch = frames.get(slot.slot)
            if batch and not slot.send(batch):
                self._slot_died(slot, "worker process is gone")

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
            "chunk": lease.descriptor.to_dict(),
            "token": lease.fencing_token,
            "attempt": lease.attempts + lease.infra_attempts + 1,
            "checkpoint": lease.checkpoint,
            "part_name": attempt_part_name(lease.seq, lease.fencing_token),
        }

    def _on_readable(self, slot: Slot) -> None:
        messages, open_ = slot.read_available()
        for header, _payload in messages:
            kind = header.get("type")
            if kind == "result":
                self._on_result(slot, header)
            elif kind == "ready":
                slot.ready = True
            elif kind == "checkpoint":
                task = self.tasks.get(str(header.get("task")))
                if task is not None:
                    self.store.save_checkpoint(
                        task.lease.chunk_id, task.lease.fencing_token, header.get("state")
                    )
        if not open_:
            self._slot_died(slot, "worker process exited")

    def _on_result(self, slot: Slot, header: dict[str, Any]) -> None:
        task = self.tasks.pop(str(header.get("task")), None)
        if task is None:
            return
        queue = self.queues[slot.slot]
        if queue and queue[0] is task:
            queue.popleft()
            if task.started_at is not None:
                sample = time.monotonic() - task.started_at
                self.service_seconds += (sample - self.service_seconds) * 0.1
        else:
            with contextlib.suppress(ValueError):
                queue.remove(task)
        if queue and queue[0].started_at is None:
            queue[0].started_at = time.monotonic()
        task.job.running -= 1
        lease = task.lease
        duration = float(sum((header.get("timings") or {}).values()))
        if header.get("ok"):
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
                duration=duration,
                worker=slot.name,
            )
        elif header.get("error_class") == "infrastructure":
            if header.get("unknown_job"):
                slot.known_jobs.discard(task.job.key)
            task.job.running += 1  # _lost() counts it down again
            self.tasks[task.task_id] = task
            self._lost(task, str(header.get("error") or "worker could not run the chunk"))
            return
        else:
            error = str(header.get("error") or "unknown error")
            decision = retry.after_processor_error(lease.attempts, task.job.spec.retries, self.rng)
            outcome = ChunkOutcome(
                chunk_id=lease.chunk_id,
                fencing_token=lease.fencing_token,
                kind=OutcomeKind.FAILED,
                error=error,
                duration=duration,
                worker=slot.name,
                dead=decision.dead,
                retry_delay=decision.delay,
            )
        self.pending_outcomes.append((outcome, task))

    def _lost(self, task: Task, reason: str) -> None:
        self.tasks.pop(task.task_id, None)
        task.job.running -= 1
        decision = retry.after_infrastructure_loss(task.lease.infra_attempts)
        outcome = ChunkOutcome(
            chunk_id=task.lease.chunk_id,
            fencing_token=task.lease.fencing_token,
            kind=OutcomeKind.LOST,
            error=reason,
            worker=task.slot.name,
            dead=decision.dead,
        )
        self.pending_outcomes.append((outcome, task))

    def _slot_died(self, slot: Slot, reason: str) -> None:
        queue = self.queues[slot.slot]
        code = slot.exit_status()
        detail = f"{reason} (exit status {code})" if code is not None else reason
        while queue:
            self._lost(queue.popleft(), f"worker {slot.name} lost: {detail}")
        self._respawn(slot)

    def _check_slots(self, now: float) -> None:
        for slot in self.slots:
            queue = self.queues[slot.slot]
            if not queue:
                if slot.slot not in self.down and not slot.alive() and self.stop_requested != 2:
                    self._slot_died(slot, "worker process exited")
                continue
            head = queue[0]
            limit = head.job.spec.timeouts.chunk
            if head.started_at is not None and now - head.started_at > limit:
                queue.popleft()
                self.tasks.pop(head.task_id, None)
                head.job.running -= 1
                decision = retry.after_processor_error(
                    head.lease.attempts, head.job.spec.retries, self.rng
                )
                self.pending_outcomes.append(
                    (
                        ChunkOutcome(
                            chunk_id=head.lease.chunk_id,
                            fencing_token=head.lease.fencing_token,
                            kind=OutcomeKind.FAILED,
                            error=f"timed out after {limit:g}s (timeouts.chunk)",
                            worker=slot.name,
                            dead=decision.dead,
                            retry_delay=decision.delay,
                        ),
                        head,
                    )
                )
                self._slot_died(slot, "killed after its chunk timed out")

    # -- results, heartbeats, job ends ------------------------------------------------

    def _flush(self, force: bool = False) -> None:
        if not self.pending_outcomes:
            self._last_flush = time.monotonic()
            return
        batch = self.pending_outcomes
        self.pending_outcomes = []
        accepted = self.store.complete_chunks(self.owner, [outcome for outcome, _ in batch])
        for (outcome, task), ok in zip(batch, accepted, strict=True):
            job = task.job
            if not ok:
                self._discard_part(outcome.part_file)
                continue
            if outcome.kind == OutcomeKind.SUCCEEDED:
                job.done += 1
                job.rows_in += outcome.rows_in
                job.rows_out += outcome.rows_out
            elif outcome.kind == OutcomeKind.FAILED:
                job.failures += 1
                job.retries += 0 if outcome.dead else 1
                if outcome.dead:
                    job.dead += 1
            elif outcome.kind == OutcomeKind.LOST:
                job.retries += 0 if outcome.dead else 1
                if outcome.dead:
                    job.dead += 1
        self._last_flush = time.monotonic()
        self._idle_until = 0.0

    @staticmethod
    def _discard_part(part_file: str | None) -> None:
        """A rejected (stale) attempt's file is never published; remove it."""
        if part_file:
            with contextlib.suppress(OSError):
                os.unlink(part_file)

    def _heartbeat_interval(self) -> float:
        return min((job.spec.timeouts.heartbeat for job in self.jobs.values()), default=10.0)

    def _lease_seconds(self) -> float:
        return min((job.spec.timeouts.lease for job in self.jobs.values()), default=60.0)

    def _poll_job_states(self) -> None:
        """Notice cancels (from another terminal) and jobs that ended elsewhere."""
        for job_id, job in list(self.jobs.items()):
            state = self.store.get_job(job_id).state
            if state in JOB_TERMINAL:
                self._drop_job(job, state)

    def _drop_job(self, job: ActiveJob, state: JobState) -> None:
        """Stop everything of a job that ended (cancelled) while we ran it."""
        job.final_state = state
        for slot in self.slots:
            queue = self.queues[slot.slot]
            if any(task.job is job for task in queue):
                keep = [task for task in queue if task.job is not job]
                for task in queue:
                    if task.job is job:
                        self.tasks.pop(task.task_id, None)
                        job.running -= 1
                queue.clear()
                for task in keep:
                    self._lost(task, "worker stopped for a cancelled job")
                self._respawn(slot)
        self.final[job.record.id] = state
        del self.jobs[job.record.id]

    def _check_job_ends(self) -> None:
        for job_id, job in list(self.jobs.items()):
            if any(task.job is job for task in self.tasks.values()):
                continue
            progress = self.store.job_progress(job_id)
            counts = progress.chunks
            if counts.get(ChunkState.PENDING, 0) or counts.get(ChunkState.RUNNING, 0):
                continue
            job.load_progress(progress)
            dead = counts.get(ChunkState.DEAD, 0)
            if dead:
                self.store.set_job_state(
                    job_id, JobState.FAILED, error=f"{dead} chunk(s) dead after retries"
                )
                self._finish(job, JobState.FAILED)
            elif counts.get(ChunkState.CANCELLED, 0):
                self._finish(job, self.store.get_job(job_id).state)
            else:
                self._message = f"publishing {job.spec.name}"
                try:
                    publish(self.store, job.record.id)
                except (OSError, JobctlError) as exc:
                    self.store.set_job_state(job_id, JobState.FAILED, error=f"publish: {exc}")
                    self._finish(job, JobState.FAILED)
                    continue
                self.store.set_job_state(job_id, JobState.SUCCEEDED)
                self._finish(job, JobState.SUCCEEDED)

    def _finish(self, job: ActiveJob, state: JobState) -> None:
        job.final_state = state
        self.final[job.record.id] = state
        del self.jobs[job.record.id]
        self._emit(time.monotonic(), force=True, extra=job)

    # -- observation ----------------------------------------------------------------------

    def _emit(self, now: float, force: bool = False, extra: ActiveJob | None = None) -> None:
        if self.observer is None or (not force and now - self._last_snapshot < 0.2):
            return
        self._last_snapshot = now
        elapsed = now - self._started
        views = []
        jobs = list(self.jobs.values()) + ([extra] if extra is not None else [])
        for job in jobs:
            job.rates.append((now, job.done))
            job.rates[:] = [(t, d) for t, d in job.rates if now - t <= 10.0]
            first_t, first_d = job.rates[0]
            rate_chunks = (job.done - first_d) / (now - first_t) if now > first_t else 0.0
            rows_per_s = (job.rows_in / elapsed) if elapsed > 0 else 0.0
            remaining = job.total - job.done - job.dead
            eta = remaining / rate_chunks if rate_chunks > 0 else None
            views.append(
                JobView(
                    id=job.record.id,
                    name=job.spec.name,
                    state=(job.final_state or job.state).value,
                    total=job.total,
                    done=job.done,
                    dead=job.dead,
                    running=max(job.running, 0),
                    retries=job.retries,
                    failures=job.failures,
                    rows_in=job.rows_in,
                    rows_out=job.rows_out,
                    rows_per_second=rows_per_s,
                    eta_seconds=eta,
                )
            )
        slots = []
        for slot in self.slots:
            queue = self.queues.get(slot.slot)
            head = queue[0] if queue else None
            slots.append(
                SlotView(
                    name=slot.name,
                    pid=slot.pid,
                    job=head.job.spec.name if head else None,
                    chunk=head.lease.seq if head else None,
                    elapsed=(now - head.started_at) if head and head.started_at else 0.0,
                )
            )
        snapshot = RunSnapshot(elapsed, views, slots, bool(self.stop_requested), self._message)
        self.observer(snapshot)


__all__ = ["Coordinator", "RunOptions", "RunSnapshot", "exit_code_for", "run_jobs"]
