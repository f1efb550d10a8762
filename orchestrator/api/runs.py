"""Running jobs: a run of some jobs to their end, and the long-running serve.

Imported by the commands that run (it brings in the dispatcher, pyarrow and the
executors); read-only commands never import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.dispatch.entry import run_jobs as _run_jobs
from orchestrator.dispatch.entry import serve_with_hosts
from orchestrator.dispatch.options import RunOptions, exit_code_for
from orchestrator.dispatch.prestart import prestart_workers, stop_unused
from orchestrator.executors.base import Slot
from orchestrator.spec.loader import load_spec
from orchestrator.spec.model import JobSpec

if TYPE_CHECKING:
    from orchestrator.api.live import Observer
    from orchestrator.states import JobState
    from orchestrator.store.base import JobRecord, Store

__all__ = [
    "RunOptions",
    "Slot",
    "exit_code_for",
    "load_spec",
    "prestart_for",
    "prestart_workers",
    "run_jobs",
    "serve",
    "stop_unused",
]


def prestart_for(record: JobRecord, workers: int | None) -> tuple[Slot, ...]:
    """Start the local workers a resume of ``record`` will use, while it is checked."""
    return prestart_workers([JobSpec.from_dict(record.spec)], workers)


def run_jobs(
    store: Store,
    job_ids: Sequence[int],
    *,
    workers: int | None = None,
    resume: bool = False,
    accept_new_host_keys: bool = False,
    prestarted: tuple[Slot, ...] = (),
    observer: Observer | None = None,
    max_failures: int | None = None,
) -> dict[int, JobState]:
    """Dispatch ``job_ids`` until each ends (or a stop is asked); their final
    states. ``max_failures``: a job stops once that many of its chunks are dead."""
    options = RunOptions(
        workers=workers,
        resume=resume,
        accept_new_host_keys=accept_new_host_keys,
        prestarted=prestarted,
        max_failures=max_failures,
    )
    return _run_jobs(store, job_ids, options, observer=observer)


def serve(
    store: Store,
    queues: Sequence[str] | None,
    *,
    workers: int,
    hosts_files: Sequence[Path] = (),
    use_registered_hosts: bool = True,
    accept_new_host_keys: bool = False,
    observer: Observer | None = None,
    max_failures: int | None = None,
) -> dict[int, JobState]:
    """Serve queued jobs until stopped, on ``workers`` local slots and SSH hosts."""
    options = RunOptions(
        workers=workers, accept_new_host_keys=accept_new_host_keys, max_failures=max_failures
    )
    files = [str(path.resolve()) for path in hosts_files]
    return serve_with_hosts(
        store, queues, options, observer, files, use_registered_hosts=use_registered_hosts
    )
