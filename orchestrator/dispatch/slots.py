"""Slot supervision: one :class:`SlotState` per slot, and the rules that move it.

A slot is a place a chunk can run; its worker is the process in it. The
coordinator keeps, per slot, whether it is up (a slot that cannot start is
retried with a growing backoff), when a dead worker restarts (a worker that
died by itself restarts after a growing pause; one we killed, at once), how
often it died since its last result, when its worker was last heard from and
the heartbeat interval it promised (a silent worker's leases are no longer
renewed), whether a graceful stop retired it, and its queue of tasks (the
ledger's, shared: the head is the chunk running). :class:`Supervisor` owns
these records and every change of them; what a worker's death costs its
chunks is the ledger's decision (``ledger.py``).
"""

from __future__ import annotations

import contextlib
import selectors
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.ledger import Ledger, Task
from orchestrator.dispatch.options import (
    EXIT_STATUS_WAIT_SECONDS,
    RESPAWN_MAX_SECONDS,
    RESPAWN_MIN_SECONDS,
    SLOT_RETRY_MAX_SECONDS,
    SLOT_RETRY_MIN_SECONDS,
    STARTUP_SILENCE_SECONDS,
)
from orchestrator.executors.base import Slot, SlotUnavailable

#: record_event(kind, job_id, chunk_id, detail), best effort
EventSink = Callable[[str, int | None, int | None, dict[str, Any] | None], None]


@dataclass(eq=False)
class SlotState:
    """What the coordinator knows about one slot and its worker."""

    slot: Slot
    #: its tasks in the worker's order (the same deque as ``Ledger.queues``)
    queue: deque[Task]
    #: down (could not start): when to try again, and the pause before that
    retry_at: float | None = None
    backoff: float = 0.0
    #: its worker died: when a new one starts
    respawn_at: float | None = None
    #: deaths since its last result (the respawn pause grows with them)
    crashes: int = 0
    #: the last message from its worker (None: not since it started)
    last_heard: float | None = None
    #: the heartbeat interval its worker promised (None: it promised none)
    heartbeat: float | None = None
    #: silent too long: its chunks' leases are no longer renewed
    silent: bool = False
    #: stopped for good by a graceful stop
    retired: bool = False

    @property
    def down(self) -> bool:
        return self.retry_at is not None

    @property
    def without_worker(self) -> bool:
        """No worker to watch: down, waiting to respawn, or retired."""
        return self.down or self.respawn_at is not None or self.retired

    @property
    def usable(self) -> bool:
        """Started, and its worker not silent."""
        return not self.down and self.respawn_at is None and not self.silent


class Supervisor:
    """Starts, watches, stops and restarts the slots of one coordinator."""

    def __init__(
        self,
        ledger: Ledger,
        selector: selectors.BaseSelector,
        owner: str,
        event: EventSink,
        heartbeat_interval: Callable[[], float],
        stopping: Callable[[], int],
        on_slot_state: Callable[[Slot, bool, str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.selector = selector
        self.owner = owner
        self.event = event
        self.heartbeat_interval = heartbeat_interval
        #: the coordinator's stop request: 0 none, 1 graceful, 2 immediate
        self.stopping = stopping
        self.on_slot_state = on_slot_state
        self.slots: list[Slot] = []
        self.states: dict[int, SlotState] = {}

    # -- joining and starting --------------------------------------------------------

    def add(self, slot: Slot) -> SlotState:
        """A slot joins the run (not started yet)."""
        self.slots.append(slot)
        queue: deque[Task] = deque()
        self.ledger.queues[slot.slot] = queue
        state = self.states[slot.slot] = SlotState(slot, queue)
        return state

    def start(self, slot: Slot) -> bool:
        """Start a slot; one that cannot start is retried later with backoff."""
        state = self.states[slot.slot]
        try:
            slot.start()
        except SlotUnavailable as exc:
            backoff = state.backoff if state.down else SLOT_RETRY_MIN_SECONDS / 2
            backoff = min(backoff * 2, SLOT_RETRY_MAX_SECONDS)
            first = not state.down
            state.retry_at, state.backoff = time.monotonic() + backoff, backoff
            if first:
                self._slot_state(slot, False, str(exc))
            return False
        if state.down:
            state.retry_at, state.backoff = None, 0.0
            self._slot_state(slot, True, "started")
        state.last_heard = time.monotonic()
        state.heartbeat = None
        state.silent = False
        self.selector.register(slot.fileno(), selectors.EVENT_READ, slot)
        return True

    def _slot_state(self, slot: Slot, up: bool, reason: str) -> None:
        detail = {"slot": slot.name, "host": slot.host, "reason": reason, "owner": self.owner}
        self.event("slot_up" if up else "slot_down", None, None, detail)
        if self.on_slot_state is not None:
            self.on_slot_state(slot, up, reason)

    def retry_due(self, now: float) -> None:
        """Start again the slots whose retry or respawn time came."""
        for state in self.states.values():
            if state.retry_at is not None and now >= state.retry_at:
                self.start(state.slot)
        for state in self.states.values():
            if state.respawn_at is not None and now >= state.respawn_at:
                state.respawn_at = None
                self.start(state.slot)

    # -- what the workers say --------------------------------------------------------

    def heard(self, slot: Slot, now: float) -> None:
        state = self.states[slot.slot]
        state.last_heard = now
        state.silent = False

    def promised(self, slot: Slot, interval: Any) -> None:
        """Its worker is ready and promised heartbeats every ``interval`` seconds."""
        slot.ready = True
        if isinstance(interval, int | float) and interval > 0:
            self.states[slot.slot].heartbeat = float(interval)

    def answered(self, slot: Slot) -> None:
        """A result came: the worker is healthy."""
        self.states[slot.slot].crashes = 0

    def responsive(self, slot: Slot, now: float) -> bool:
        """Whether the worker showed signs of life recently. A worker that is
        ready but never promised heartbeats (an older or foreign runtime) is
        trusted; one not ready yet has STARTUP_SILENCE_SECONDS to say so."""
        state = self.states[slot.slot]
        if state.heartbeat is None:
            return slot.ready or now - _heard(state, now) <= STARTUP_SILENCE_SECONDS
        limit = max(4 * state.heartbeat, 2 * self.heartbeat_interval())
        return now - _heard(state, now) <= limit

    def usable(self) -> list[Slot]:
        """Started slots whose worker is not silent. A worker that dies is noticed
        by the end of its output stream (select), so the hot path never polls
        processes."""
        return [s for s in self.slots if self.states[s.slot].usable]

    # -- workers that end ------------------------------------------------------------

    def died(self, slot: Slot, reason: str) -> None:
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

    def stop(self, slot: Slot, reason: str) -> None:
        """Kill a worker on purpose; its queued chunks go back free."""
        self.ledger.end_queue(slot, None, reason)
        self._respawn(slot, crashed=False)

    def stop_job(self, job: ActiveJob, reason: str) -> None:
        """A job ended while we ran it: its queued chunks are never committed,
        and the workers running one of them are stopped."""
        for slot in self.slots:
            queue = self.states[slot.slot].queue
            for task in [t for t in queue if t.job is job and not t.dropped]:
                self.ledger.forget(task)
            if queue and queue[0].job is job:
                self.stop(slot, reason)

    def retire_if_only_dropped(self, slot: Slot) -> None:
        """While stopping, a worker left with chunks we gave back is killed."""
        if self.stopping() and self.ledger.only_dropped(slot):
            state = self.states[slot.slot]
            state.queue.clear()
            state.retired = True
            self._respawn(slot, crashed=False)

    def _respawn(self, slot: Slot, crashed: bool) -> None:
        """Kill a slot's worker and start a new one: at once after a kill of our
        own, after a growing pause when it died by itself."""
        self._unregister(slot)
        slot.kill()
        if self.stopping():
            return
        if crashed:
            state = self.states[slot.slot]
            state.crashes += 1
            delay = min(RESPAWN_MIN_SECONDS * 2 ** (state.crashes - 1), RESPAWN_MAX_SECONDS)
            state.respawn_at = time.monotonic() + delay
        else:
            self.start(slot)

    def check(self, now: float) -> None:
        """Notice workers that exited while idle, chunks over their time limit
        (the worker is killed) and workers gone silent (an event; their leases
        are no longer renewed)."""
        for slot in self.slots:
            state = self.states[slot.slot]
            if state.without_worker:
                continue
            if not state.queue:
                if not slot.alive() and self.stopping() != 2:
                    self.died(slot, "worker process exited")
                continue
            head = state.queue[0]
            limit = head.job.spec.timeouts.chunk
            if head.started_at is not None and now - head.started_at > limit:
                if not head.dropped:
                    self.ledger.fail(head, f"timed out after {limit:g}s (timeouts.chunk)")
                self.stop(slot, "worker killed after a chunk timed out")
            elif not state.silent and not self.responsive(slot, now):
                state.silent = True  # its leases are no longer renewed
                detail = {
                    "owner": self.owner,
                    "slot": slot.name,
                    "pid": slot.pid,
                    "silent_for": round(now - _heard(state, now), 3),
                }
                self.event("worker_silent", head.job.record.id, head.lease.chunk_id, detail)

    def shutdown(self) -> None:
        """Stop every worker: one with chunks at once, an idle one politely;
        every chunk not finished goes back."""
        for slot in self.slots:
            state = self.states[slot.slot]
            if state.without_worker:
                continue
            self._unregister(slot)
            if state.queue:
                slot.kill()
            else:
                slot.shutdown()
        for slot in self.slots:
            self.ledger.end_queue(slot, None, "coordinator stopped before the chunk finished")

    def _unregister(self, slot: Slot) -> None:
        with contextlib.suppress(KeyError, ValueError, AssertionError, OSError):
            self.selector.unregister(slot.fileno())


def _heard(state: SlotState, now: float) -> float:
    return state.last_heard if state.last_heard is not None else now
