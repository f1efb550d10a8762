"""What a cron run does when the previous run of the same job is still going.

``concurrency:`` in the spec (like Kubernetes CronJob's concurrencyPolicy,
plus ``queue``):

- ``allow``: start anyway; runs may overlap.
- ``forbid``: skip this fire (exit 0, one log line) while a previous run goes on.
- ``replace``: cancel the previous run(s), then start.
- ``queue``: wait until the previous run(s) ended, then start.

A previous run "goes on" while it is pending (queued for a ``serve``) or has
a chunk running. A run left ``running`` with nothing running (its
coordinator died and its leases expired) is abandoned: it blocks nothing,
and the log line says how to resume it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.states import ChunkState, JobState
from orchestrator.store.base import JobRecord, Store

#: How often a ``queue`` run looks whether the previous run ended (seconds).
QUEUE_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Overlap:
    """The previous runs of a job at the moment a new fire wants to start."""

    going: list[JobRecord] = field(default_factory=list)
    abandoned: list[JobRecord] = field(default_factory=list)


def previous_runs(store: Store, name: str, run_key: str) -> Overlap:
    """Unfinished runs of job ``name`` other than ``run_key``."""
    active = store.list_jobs([JobState.PENDING, JobState.RUNNING], limit=10_000)
    going, abandoned = [], []
    for record in active:
        if record.name != name or record.run_key == run_key:
            continue
        if record.state == JobState.PENDING or _has_running_chunk(store, record.id):
            going.append(record)
        else:
            abandoned.append(record)
    return Overlap(going, abandoned)


def _has_running_chunk(store: Store, job_id: int) -> bool:
    return store.job_progress(job_id).chunks.get(ChunkState.RUNNING, 0) > 0


def wait_until_ended(
    store: Store,
    name: str,
    run_key: str,
    on_wait: Callable[[list[JobRecord]], None] | None = None,
    poll_seconds: float = QUEUE_POLL_SECONDS,
) -> None:
    """``queue``: return once no previous run of ``name`` goes on."""
    told = False
    while True:
        going = previous_runs(store, name, run_key).going
        if not going:
            return
        if not told and on_wait is not None:
            on_wait(going)
            told = True
        time.sleep(poll_seconds)
