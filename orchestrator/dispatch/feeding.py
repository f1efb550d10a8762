"""Feeding workers: lease chunks in batches, place them on slots, send the runs.

A lease asks the store for as many chunks as the usable slots' queues have
room for (:meth:`Feeder.capacity`). The queue depth follows the measured time
a chunk spends on a worker, so a worker is never idle between two chunks yet
no more is leased than ``prefetch_seconds`` of work; leases are taken in
batches (when a quarter of the queues drained), and a lease that came back
short pauses leasing for :data:`IDLE_POLL_SECONDS`. Where each chunk goes is
``placement.py``'s choice; what becomes of it the ledger's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.adoption import Adoption
from orchestrator.dispatch.ledger import Ledger, Task
from orchestrator.dispatch.options import IDLE_POLL_SECONDS, MAX_QUEUE_DEPTH
from orchestrator.dispatch.placement import Placement
from orchestrator.dispatch.slots import Supervisor
from orchestrator.dispatch.staging import attempt_part_name
from orchestrator.dispatch.storeguard import StoreGuard
from orchestrator.dispatch.tracking import JobTracker
from orchestrator.executors.base import Slot
from orchestrator.store.base import Lease, Store


class Feeder:
    """Keeps the workers' queues filled with leased chunks."""

    def __init__(
        self,
        store: Store,
        owner: str,
        guard: StoreGuard,
        ledger: Ledger,
        supervisor: Supervisor,
        tracker: JobTracker,
        adoption: Adoption,
        prefetch_seconds: float,
        local_option: bool,
        serving: bool,
        check_placement: Callable[[float], object],
        check_job_ends: Callable[[], None],
    ) -> None:
        self.store = store
        self.owner = owner
        self.guard = guard
        self.ledger = ledger
        self.supervisor = supervisor
        self.tracker = tracker
        self.adoption = adoption
        self.prefetch_seconds = prefetch_seconds
        self.local_option = local_option
        self.serving = serving
        #: judges (now and then) whether every job can be placed at all
        self.check_placement = check_placement
        #: called when a lease came back short: the jobs may have ended
        self.check_job_ends = check_job_ends
        self.placer: Placement | None = None  # built at the first lease
        self.idle_until = 0.0  # no lease tried before then (the last one came short)
        #: moving average of a chunk's time on a worker (seconds), for queue depth
        self.service_seconds = 0.1
        self._task_counter = 0

    def wake(self) -> None:
        """Something changed (a commit, a job, a free slot): lease at the next turn."""
        self.idle_until = 0.0

    def ran(self, seconds: float) -> None:
        """A chunk ran that long on its worker (a sample for the queue depth)."""
        self.service_seconds += (seconds - self.service_seconds) * 0.1

    def queue_depth(self) -> int:
        """Chunks to keep queued per worker, from the measured time per chunk."""
        per_chunk = max(self.service_seconds, 1e-6)
        return 1 + max(1, min(MAX_QUEUE_DEPTH, int(self.prefetch_seconds / per_chunk)))

    def capacity(self) -> int:
        depth = self.queue_depth()
        queues = self.ledger.queues
        return sum(max(depth - len(queues[s.slot]), 0) for s in self.supervisor.usable())

    def add_slot(self, slot: Slot) -> None:
        if self.placer is not None:
            self.placer.add_slot(slot)

    def fill(self, now: float) -> None:
        usable = self.supervisor.usable()
        placement = self.placement(usable, now)
        queues = self.ledger.queues
        awaited = self.adoption.due(now) if usable else []
        for task in awaited:  # an orphan did not finish it after all: run it
            task.slot = placement.choose(task.lease.job_id, task.job.spec, queues)
            self.ledger.add(task, now)
        if awaited:
            self.send(awaited)
        capacity = self.capacity()
        if capacity <= 0 or now < self.idle_until:
            return
        if self.ledger.tasks and capacity < self.queue_depth() * len(self.supervisor.slots) // 4:
            return  # lease in batches: wait until a quarter of the queues drained
        jobs = self.tracker.jobs
        job_ids = [
            job_id
            for job_id, job in jobs.items()
            if job.final_state is None and placement.placeable(job_id, job.spec)
        ]
        if not job_ids:
            return
        lease_seconds = self.tracker.lease_seconds()
        serial = [(job_id, phase) for job_id in job_ids for phase in jobs[job_id].serial_phases]
        ok, leased = self.guard.attempt(
            lambda: carry_states(
                self.store,
                self.store.lease_chunks(self.owner, job_ids, capacity, lease_seconds, serial),
                set(serial),
            )
        )
        if not ok or leased is None:
            return  # if the lease did happen, the next heartbeat finds and returns it
        if len(leased) < capacity:
            self.idle_until = now + IDLE_POLL_SECONDS
            if not self.ledger.pending:
                self.guard.attempt(self.check_job_ends)
        else:
            self.idle_until = 0.0
        if not leased:
            return
        tasks: list[Task] = []
        for lease, carried in leased:
            job = jobs[lease.job_id]
            slot = placement.choose(lease.job_id, job.spec, queues)
            self._task_counter += 1
            task = Task(f"t{self._task_counter}", lease, job, slot, now, carried=carried)
            # a chunk that lost an attempt may have been finished by an orphan
            if lease.infra_attempts and self.adoption.hold_back(task, now):
                continue
            self.ledger.add(task, now)  # in order: placement counts queue lengths
            tasks.append(task)
        self.send(tasks)

    def send(self, tasks: list[Task]) -> None:
        """Send the runs of ``tasks`` (already queued on their slots) to their workers."""
        frames: dict[int, list[tuple[dict[str, Any], bytes | None]]] = {}
        for task in tasks:
            frames.setdefault(task.slot.slot, []).append((run_message(task), None))
        for slot in self.supervisor.slots:
            batch = frames.get(slot.slot)
            if batch and not slot.send(batch):
                self.supervisor.died(slot, "worker process is gone")

    def placement(self, usable: list[Slot], now: float) -> Placement:
        """Where chunks may go (``placement.py``: requirements, queue length, score),
        from figures cached in memory; ends the given jobs no slot can run (a
        serving coordinator leaves them to others)."""
        if self.placer is None:
            self.placer = Placement(
                self.supervisor.slots, local_option=self.local_option, serving=self.serving
            )
        self.placer.update(usable, now)
        self.check_placement(now)
        return self.placer

    def unplaceable(self, now: float) -> list[tuple[ActiveJob, str]]:
        """The jobs no slot can run, and why (``placement.py``)."""
        assert self.placer is not None
        jobs = self.tracker.jobs
        specs = {job_id: job.spec for job_id, job in jobs.items()}
        return [(jobs[job_id], error) for job_id, error in self.placer.unplaceable(specs, now)]


def carry_states(
    store: Store, leased: list[Lease], serial: set[tuple[int, int]]
) -> list[tuple[Lease, Any]]:
    """Each lease with the state its chunk starts from: for a chunk of a
    serial phase, the one committed with its predecessor (``ctx.state``)."""
    carried: list[tuple[Lease, Any]] = []
    for lease in leased:
        phase = int(lease.descriptor_doc.get("phase") or 0)
        state = None
        if (lease.job_id, phase) in serial:
            state = store.carried_state(lease.job_id, phase, lease.seq)
        carried.append((lease, state))
    return carried


def run_message(task: Task) -> dict[str, Any]:
    """The frame that makes a worker run ``task`` (the job's payload once per worker)."""
    job, lease, slot = task.job, task.lease, task.slot
    full = job.payload_for(int(lease.descriptor_doc.get("phase") or 0))
    key = str(full["key"])
    if key in slot.known_jobs:
        payload: dict[str, Any] = {"key": key}
    else:
        payload = full
        slot.known_jobs.add(key)
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
        **({"state": task.carried} if task.carried is not None else {}),
    }
