"""Keeping leases: the heartbeat that renews them, and what a lost one costs.

A heartbeat renews only the leases of chunks whose worker shows signs of life
(``slots.py``: a silent worker's chunk expires and is taken over even while
this coordinator lives), and of finished chunks whose outcome is not
committed yet. The store answers with the leases we hold: a chunk we thought
ours and no longer is (reaped, cancelled) is never committed, and the worker
running it is stopped. The checkpoints workers report are saved here too,
before any outcome is committed, so a retried attempt finds the last state
its predecessor saved.
"""

from __future__ import annotations

from typing import Any

from orchestrator.dispatch.ledger import Ledger, Task
from orchestrator.dispatch.slots import EventSink, Supervisor
from orchestrator.dispatch.tracking import JobTracker
from orchestrator.executors.base import Slot
from orchestrator.store.base import Store


class LeaseKeeper:
    """Renews this coordinator's leases and saves its chunks' checkpoints."""

    def __init__(
        self,
        store: Store,
        owner: str,
        ledger: Ledger,
        supervisor: Supervisor,
        tracker: JobTracker,
        event: EventSink,
    ) -> None:
        self.store = store
        self.owner = owner
        self.ledger = ledger
        self.supervisor = supervisor
        self.tracker = tracker
        self.event = event
        self.checkpoints: dict[str, tuple[int, int, Any]] = {}  # task -> unsaved state

    def heartbeat(self, now: float) -> None:
        """Renew the leases of chunks whose worker is alive (and of finished
        chunks whose outcome is not committed yet); then act on what the store
        says we hold: stop the workers of lost leases, give back leases we
        never knew we had."""
        renew = self.ledger.renewals(lambda slot: self.supervisor.responsive(slot, now), now)
        held = self.store.coordinator_heartbeat(self.owner, renew, self.tracker.lease_seconds())
        lost = self.ledger.reconcile(held)
        if lost:
            self.leases_lost(lost)

    def leases_lost(self, lost: list[Task]) -> None:
        """Chunks no longer ours (reaped, cancelled): never commit them, and stop
        the workers running them."""
        stop: dict[int, Slot] = {}
        for task in lost:
            self.ledger.forget(task)
            queue = self.ledger.queues[task.slot.slot]
            running = bool(queue) and queue[0] is task
            if running:
                stop[task.slot.slot] = task.slot
            detail = {
                "owner": self.owner,
                "fencing_token": task.lease.fencing_token,
                "slot": task.slot.name,
                "action": "worker stopped" if running else "result will be ignored",
            }
            self.event("chunk_lease_lost", task.job.record.id, task.lease.chunk_id, detail)
        for slot in stop.values():
            self.supervisor.stop(slot, "another chunk on its worker lost its lease")

    def checkpoint(self, header: dict[str, Any]) -> None:
        """A worker reported its chunk's state (kept until saved)."""
        task = self.ledger.tasks.get(str(header.get("task")))
        if task is not None:
            lease, state = task.lease, header.get("state")
            self.checkpoints[task.task_id] = (lease.chunk_id, lease.fencing_token, state)

    def save_checkpoints(self) -> None:
        """Before outcomes are committed: a retried attempt must find the last
        state its predecessor saved."""
        for task_id, (chunk_id, token, state) in list(self.checkpoints.items()):
            self.store.save_checkpoint(chunk_id, token, state)
            del self.checkpoints[task_id]
