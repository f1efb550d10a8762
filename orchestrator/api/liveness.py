"""Whether a job still has a coordinator: ``interrupted`` derived, not stored.

A job stays ``running`` in the store when its coordinator stops (Ctrl-C,
SIGTERM, kill -9, a lost machine): the chunks not finished wait for
``jobctl resume``. ``status`` and ``list`` show such a job as
``interrupted`` (with the resume command) when no coordinator that could be
running it is alive: none registered, or every registered one provably gone
(its pid no longer exists on this host) or silent for longer than
:data:`COORDINATOR_STALE_SECONDS`. Only the coordinators linked to the job
count (a coordinator links a job before it opens it, store migration 0007):
a ``serve`` alive for other jobs does not hide a job whose own run died.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from orchestrator.states import JobState
from orchestrator.store.base import JobRecord, LeaseOwner, Store

#: A coordinator silent this long is gone (it heartbeats every few seconds,
#: and its leases, 60 s by default, have expired by then).
COORDINATOR_STALE_SECONDS = 90.0
INTERRUPTED = "interrupted"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(coordinator: LeaseOwner, host: str) -> bool:
    if coordinator.heartbeat_age is not None and (
        coordinator.heartbeat_age > COORDINATOR_STALE_SECONDS
    ):
        return False
    if coordinator.host == host and coordinator.pid is not None:
        return _pid_alive(coordinator.pid)
    return True


def interrupted_jobs(store: Store, jobs: Sequence[JobRecord]) -> set[int]:
    """The ids of the running jobs among ``jobs`` that no coordinator runs."""
    running = {job.id for job in jobs if job.state == JobState.RUNNING}
    if not running:
        return set()
    host = socket.gethostname()
    linked = store.job_coordinators(sorted(running))
    return {job_id for job_id in running if not any(alive(c, host) for c in linked.get(job_id, []))}


def shown_states(store: Store, jobs: Sequence[JobRecord]) -> dict[int, str]:
    """Each job's state as ``status`` / ``list`` show it (``interrupted`` derived)."""
    stopped = interrupted_jobs(store, jobs)
    return {job.id: INTERRUPTED if job.id in stopped else job.state.value for job in jobs}


def resume_command(job: JobRecord) -> str:
    return f"jobctl resume {job.id}"
