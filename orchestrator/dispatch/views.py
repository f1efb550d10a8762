"""What a run looks like from outside: the snapshots a live view draws.

Plain data built from the coordinator's in-memory counters a few times a
second (no store query), so drawing progress never slows dispatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.dispatch.active import ActiveJob


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
    #: the first error of a failing chunk, short (None: none failed, or not known)
    error: str | None = None
    #: a job of several phases: the current one ("phase 2/2 reduce") and its counts
    phase: str | None = None
    phase_done: int = 0
    phase_total: int = 0


@dataclass(frozen=True)
class RunSnapshot:
    """What the live view shows; produced a few times a second."""

    elapsed: float
    jobs: list[JobView]
    slots: list[SlotView]
    stopping: bool
    message: str | None = None


Observer = Callable[[RunSnapshot], None]


class QueuedTask(Protocol):
    """What a view needs of a task at the head of a slot's queue."""

    job: ActiveJob
    started_at: float | None

    @property
    def seq(self) -> int: ...


class NamedSlot(Protocol):
    @property
    def slot(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def pid(self) -> int | None: ...


def job_view(job: ActiveJob, now: float, elapsed: float) -> JobView:
    """One job's line: counts, rates over the last 10 s, an ETA. (``elapsed``,
    the run's time, is kept for callers; rates never divide by it.)"""
    job.rates.append((now, job.done))
    job.rates[:] = [(t, d) for t, d in job.rates if now - t <= 10.0]
    first_t, first_d = job.rates[0]
    rate_chunks = (job.done - first_d) / (now - first_t) if now > first_t else 0.0
    # Rows per second over the same window: the chunks done in it times the
    # rows a done chunk read, never all rows (resumed ones too) over uptime.
    rows_per_s = rate_chunks * (job.rows_in / job.done) if job.done else 0.0
    remaining = job.total - job.done - job.dead
    return JobView(
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
        eta_seconds=remaining / rate_chunks if rate_chunks > 0 else None,
        error=job.first_error,
        phase=job.phase_label(),
        phase_done=job.phase_counts()[0],
        phase_total=job.phase_counts()[1],
    )


def slot_views(
    slots: Iterable[NamedSlot], queues: Mapping[int, Sequence[QueuedTask]], now: float
) -> list[SlotView]:
    views = []
    for slot in slots:
        queue = queues.get(slot.slot)
        head = queue[0] if queue else None
        views.append(
            SlotView(
                name=slot.name,
                pid=slot.pid,
                job=head.job.spec.name if head else None,
                chunk=head.seq if head else None,
                elapsed=(now - head.started_at) if head and head.started_at else 0.0,
            )
        )
    return views


def snapshot(
    elapsed: float,
    now: float,
    jobs: Iterable[ActiveJob],
    slots: Iterable[NamedSlot],
    queues: Mapping[int, Sequence[QueuedTask]],
    stopping: bool,
    message: str | None,
) -> RunSnapshot:
    """The whole run as the observer sees it now."""
    views = [job_view(job, now, elapsed) for job in jobs]
    return RunSnapshot(elapsed, views, slot_views(slots, queues, now), stopping, message)
