"""Slot supervision (``dispatch/slots.py``): one record per slot, and how it moves."""

from __future__ import annotations

import os
import random
import selectors
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dispatch.ledger import Ledger
from orchestrator.dispatch.options import (
    RESPAWN_MIN_SECONDS,
    SLOT_RETRY_MIN_SECONDS,
    STARTUP_SILENCE_SECONDS,
    worker_env,
)
from orchestrator.dispatch.slots import Supervisor
from orchestrator.executors.base import Frame, SlotUnavailable
from orchestrator.executors.local import WorkerProcess


class HostSlot:
    """A slot on a host that refuses connections until told otherwise."""

    def __init__(self) -> None:
        self.slot = 7
        self.known_jobs: set[str] = set()
        self.ready = False
        self.reachable = False
        self._read, self._write = os.pipe()

    name = "h1/0"
    host = "h1"
    pid = None

    def start(self) -> None:
        if not self.reachable:
            raise SlotUnavailable("connection refused")

    def fileno(self) -> int:
        return self._read

    def send(self, frames: Sequence[Frame]) -> bool:
        return True

    def read_available(self) -> tuple[list[Frame], bool]:
        return [], True

    def alive(self) -> bool:
        return True

    def exit_status(self) -> int | None:
        return None

    def kill(self) -> None:
        pass

    def shutdown(self, timeout: float = 2.0) -> None:
        pass

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


Events = list[tuple[str, dict[str, Any] | None]]


@pytest.fixture
def supervised() -> Iterator[tuple[Supervisor, Events, list[bool]]]:
    events: Events = []
    states: list[bool] = []
    selector = selectors.DefaultSelector()
    supervisor = Supervisor(
        Ledger(random.Random(0)),
        selector,
        "me",
        lambda kind, job_id, chunk_id, detail: events.append((kind, detail)),
        lambda: 10.0,
        lambda: 0,
        lambda slot, up, reason: states.append(up),
    )
    yield supervisor, events, states
    supervisor.shutdown()
    selector.close()


def test_a_slot_that_cannot_start_is_retried_with_a_growing_backoff_and_reported_once(
    supervised: tuple[Supervisor, Events, list[bool]],
) -> None:
    supervisor, events, states = supervised
    slot = HostSlot()
    state = supervisor.add(slot)
    assert supervisor.ledger.queues[slot.slot] is state.queue
    try:
        assert not supervisor.start(slot)
        assert state.down and state.backoff == SLOT_RETRY_MIN_SECONDS
        assert not supervisor.start(slot)
        assert state.backoff == 2 * SLOT_RETRY_MIN_SECONDS
        assert [kind for kind, _ in events] == ["slot_down"] and states == [False]
        assert supervisor.usable() == []
        slot.reachable = True
        assert state.retry_at is not None
        supervisor.retry_due(state.retry_at)
        assert not state.down and state.backoff == 0.0
        assert [kind for kind, _ in events] == ["slot_down", "slot_up"] and states == [False, True]
        assert supervisor.usable() == [slot]
    finally:
        supervisor.selector.unregister(slot.fileno())
        slot.close()


def test_a_worker_that_dies_restarts_after_a_pause_that_grows_until_it_answers(
    supervised: tuple[Supervisor, Events, list[bool]], tmp_path: Path
) -> None:
    supervisor, _, _ = supervised
    worker = WorkerProcess(0, tmp_path, worker_env(10.0))
    state = supervisor.add(worker)
    assert supervisor.start(worker) and state.last_heard is not None
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    supervisor.died(worker, "worker process exited")
    assert state.crashes == 1 and state.respawn_at is not None
    first_pause = state.respawn_at - time.monotonic()
    assert 0 < first_pause <= RESPAWN_MIN_SECONDS
    assert worker not in supervisor.usable()
    supervisor.retry_due(state.respawn_at)
    assert state.respawn_at is None and worker.alive()
    supervisor.died(worker, "worker process exited")
    assert state.crashes == 2 and state.respawn_at is not None
    assert state.respawn_at - time.monotonic() > first_pause
    supervisor.retry_due(state.respawn_at)
    supervisor.answered(worker)
    assert state.crashes == 0


def test_a_worker_that_promised_heartbeats_and_went_quiet_is_not_responsive(
    supervised: tuple[Supervisor, Events, list[bool]],
) -> None:
    supervisor, _, _ = supervised
    slot = HostSlot()
    slot.reachable = True
    supervisor.add(slot)
    try:
        supervisor.start(slot)
        now = time.monotonic()
        # not ready yet: it has STARTUP_SILENCE_SECONDS to say so
        assert supervisor.responsive(slot, now + STARTUP_SILENCE_SECONDS - 1)
        assert not supervisor.responsive(slot, now + STARTUP_SILENCE_SECONDS + 1)
        slot.ready = True
        assert supervisor.responsive(slot, now + 3600)  # ready, promised nothing: trusted
        supervisor.promised(slot, 1.0)
        assert slot.ready
        supervisor.heard(slot, now)
        assert supervisor.responsive(slot, now + 19)  # limit: 2 x the jobs' 10 s
        assert not supervisor.responsive(slot, now + 21)
    finally:
        supervisor.selector.unregister(slot.fileno())
        slot.close()
