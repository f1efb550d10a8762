"""What a run can be told, its tunables, and what its exit code means.

The constants are the knobs of the dispatch loop, named and explained in one
place; :class:`RunOptions` is what a caller (the CLI, user code) passes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.dispatch.storeguard import MAX_OUTAGE_SECONDS
from orchestrator.errors import ExitCode
from orchestrator.executors.base import Slot
from orchestrator.io.parts import DIR_SYNC_BY_COMMITTER, DIR_SYNC_ENV
from orchestrator.processors.environment import without_store_credentials
from orchestrator.protocol import HEARTBEAT_ENV
from orchestrator.spec.model import LocalExecutorSpec
from orchestrator.states import JobState

#: How often (seconds) the coordinator checks the store for cancels and job ends.
STATE_POLL_SECONDS = 0.5
#: Seconds between lease polls when nothing was pending.
IDLE_POLL_SECONDS = 0.2
#: Outcomes are committed when this many are waiting, or after FLUSH_SECONDS.
FLUSH_BATCH = 256
FLUSH_SECONDS = 0.05
#: Chunks are queued on each worker for about this many seconds of work, so the
#: round trip to the worker and the lease transaction are hidden behind work
#: already queued: 2 for slow chunks, up to MAX_QUEUE_DEPTH for tiny ones. A
#: lease takes a quarter of the queues at once, so deep queues of tiny chunks
#: also mean few, large lease transactions (no-op chunks: ~0.02 s of work
#: queued per worker at 512).
PREFETCH_SECONDS = 0.1
MAX_QUEUE_DEPTH = 512
#: Backoff bounds (seconds) for restarting a slot that could not start.
SLOT_RETRY_MIN_SECONDS = 1.0
SLOT_RETRY_MAX_SECONDS = 30.0
#: Backoff bounds (seconds) for restarting a worker that died: a chunk that
#: kills its worker every time cannot make the coordinator fork in a loop.
RESPAWN_MIN_SECONDS = 0.1
RESPAWN_MAX_SECONDS = 5.0
#: How long a graceful stop waits for running chunks before it stops them.
GRACEFUL_STOP_SECONDS = 30.0
#: How long the end of a run keeps trying to commit and release (store down).
SHUTDOWN_STORE_SECONDS = 30.0
#: How long a worker whose output closed may take to exit, so its exit status
#: (a signal, an exit code) can be recorded with the chunk it was running.
EXIT_STATUS_WAIT_SECONDS = 0.5
#: a worker that has not said "ready" this long after its start is silent: one
#: stopped or hung while it starts (imports, a stalled host) must not hold the
#: chunks queued to it for ever (generous: a loaded host imports slowly)
STARTUP_SILENCE_SECONDS = 30.0
#: Local workers report they are alive at most this often (seconds).
WORKER_HEARTBEAT_MAX_SECONDS = 1.0
#: How often a dispatcher looks for jobs to take on (serve, and jobs waiting
#: for their upstream jobs) when nothing woke it; with LISTEN/NOTIFY
#: (PostgreSQL) a submit wakes it at once and the poll is only a safety net.
ADMIT_POLL_SECONDS = 0.5
ADMIT_LISTEN_POLL_SECONDS = 5.0
#: How often a run checks for jobs no slot can take (seconds; see placement.py).
PLACEMENT_CHECK_SECONDS = 0.5
#: How often a serving coordinator looks for hosts added to the store (seconds).
HOSTS_POLL_SECONDS = 5.0
#: How often the coordinator checks whether URGENT chunks wait for a slot, and
#: how long it lets a preemption take effect before it preempts again.
PREEMPT_CHECK_SECONDS = 0.5
PREEMPT_COOLDOWN_SECONDS = 2.0
#: A coordinator's claim to settle (publish) a finished job lapses after this
#: long, so one that died while publishing is followed by another.
SETTLE_CLAIM_SECONDS = 120.0


@dataclass(frozen=True)
class RunOptions:
    workers: int | None = None
    resume: bool = False
    #: slots on other hosts (SSH); they serve the jobs together with local ones
    remote_slots: tuple[Slot, ...] = ()
    #: serve: slots that joined since the last call (hosts added while serving)
    more_slots: Callable[[], Sequence[Slot]] | None = None
    #: called when a slot goes down or comes back (host state bookkeeping)
    on_slot_state: Callable[[Slot, bool, str], None] | None = None
    #: record the keys of SSH hosts that known_hosts does not list yet (like
    #: ``StrictHostKeyChecking=accept-new``); a changed key is refused regardless
    accept_new_host_keys: bool = False
    prefetch_seconds: float = PREFETCH_SECONDS
    graceful_stop_seconds: float = GRACEFUL_STOP_SECONDS
    install_signal_handlers: bool = True
    #: a store outage longer than this ends the run (exit code 3)
    max_store_outage: float = MAX_OUTAGE_SECONDS
    #: local workers started ahead (:func:`orchestrator.dispatch.prestart.prestart_workers`)
    #: while the caller planned and submitted; the run adopts those it can use
    prestarted: tuple[Slot, ...] = ()
    #: ``--max-failures``: a job stops (failed; chunks not run stay pending for
    #: a resume) once this many of its chunks went dead in this run
    max_failures: int | None = None


def local_worker_count(
    workers: int | None, locals_: Sequence[LocalExecutorSpec | None], remote: bool
) -> int:
    """Local slots of a run: ``--workers``, else the first job's
    ``executor.local.workers``, else the CPU count; none when every job runs
    on SSH hosts only (``remote``: the run has SSH slots)."""
    if workers is not None:
        return workers
    for local in locals_:
        if local is not None and local.workers:
            return local.workers
    if remote and all(local is None for local in locals_):
        return 0
    return os.cpu_count() or 1


def worker_env(heartbeat_timeout: float) -> dict[str, str]:
    """A local worker's environment: the coordinator's minus the store's
    credentials (user code runs in it); it sends heartbeats at twice the rate the
    jobs' ``timeouts.heartbeat`` asks (at least every second), and leaves the
    fsync of its parts' directory to the committer (io/parts.py), which syncs
    it once per batch of commits instead of once per part."""
    interval = max(0.05, min(WORKER_HEARTBEAT_MAX_SECONDS, heartbeat_timeout / 2))
    env = without_store_credentials(os.environ)
    return {**env, HEARTBEAT_ENV: f"{interval:g}", DIR_SYNC_ENV: DIR_SYNC_BY_COMMITTER}


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
