"""Preemption: which running chunks make room when URGENT chunks wait.

When URGENT chunks wait and no slot is free, the lowest-priority running
chunks are stopped (the most recently started first: least work lost) so the
URGENT ones start at once. A stopped chunk goes back to pending without an
attempt spent; the last checkpoint its worker reported is kept, so a
checkpointing processor resumes from it. Preemptions are at least
:data:`PREEMPT_COOLDOWN_SECONDS` apart, so the stopped workers' restarts are
not taken for free slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.ledger import Task
from orchestrator.dispatch.options import PREEMPT_COOLDOWN_SECONDS
from orchestrator.dispatch.slots import EventSink, Supervisor
from orchestrator.executors.base import Slot
from orchestrator.states import ChunkState, Priority
from orchestrator.store.base import Store


def urgent_jobs(jobs: Iterable[ActiveJob]) -> list[ActiveJob]:
    return [job for job in jobs if job.record.priority == Priority.URGENT]


def preemption_victims(
    store: Store,
    urgent: Sequence[ActiveJob],
    usable: Sequence[Slot],
    queues: Mapping[int, Sequence[Task]],
    now: float,
) -> list[Slot]:
    """The slots whose running chunk to stop for the ``urgent`` jobs' waiting
    chunks, in the order to stop them (none: no need, or nothing to stop)."""
    victims = [
        s
        for s in usable
        if queues[s.slot] and queues[s.slot][0].job.record.priority < Priority.URGENT
    ]
    if not victims:
        return []
    # waiting: pending in the store, or leased by us but queued behind a
    # lower-priority chunk that runs
    waiting = sum(
        1
        for s in victims
        for task in list(queues[s.slot])[1:]
        if task.job.record.priority == Priority.URGENT and not task.dropped
    )
    for job in urgent:
        waiting += store.job_progress(job.record.id).chunks.get(ChunkState.PENDING, 0)
    idle = sum(1 for s in usable if not queues[s.slot])
    need = min(waiting - idle, len(victims))
    if need <= 0:
        return []
    victims.sort(
        key=lambda s: (
            queues[s.slot][0].job.record.priority,
            -(queues[s.slot][0].started_at or now),
        )
    )
    return victims[:need]


def preempted_for(urgent: Iterable[ActiveJob]) -> str:
    """The names of the URGENT jobs a preemption makes room for."""
    return ", ".join(sorted({job.spec.name for job in urgent}))


def preemption_detail(slot: Slot, head: Task, owner: str, names: str) -> dict[str, object]:
    """The ``chunk_preempted`` event's detail."""
    return {
        "owner": owner,
        "slot": slot.name,
        "fencing_token": head.lease.fencing_token,
        "priority": head.job.record.priority.name,
        "for": names,
    }


class Preemptor:
    """Stops running chunks for URGENT ones, now and then."""

    def __init__(self, store: Store, owner: str, supervisor: Supervisor, event: EventSink) -> None:
        self.store = store
        self.owner = owner
        self.supervisor = supervisor
        self.event = event
        self.preempted_at = 0.0

    def run(self, jobs: Iterable[ActiveJob], now: float) -> bool:
        """Preempt if URGENT chunks wait; returns whether a worker was stopped."""
        urgent = urgent_jobs(jobs)
        if not urgent or now - self.preempted_at < PREEMPT_COOLDOWN_SECONDS:
            return False
        queues = self.supervisor.ledger.queues
        victims = preemption_victims(self.store, urgent, self.supervisor.usable(), queues, now)
        if not victims:
            return False
        self.preempted_at = now
        names = preempted_for(urgent)
        for slot in victims:
            head = queues[slot.slot][0]
            detail = preemption_detail(slot, head, self.owner, names)
            self.event("chunk_preempted", head.job.record.id, head.lease.chunk_id, detail)
            self.supervisor.stop(slot, f"preempted by URGENT job(s) {names}")
        return True
