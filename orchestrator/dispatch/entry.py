"""The ways in to dispatch: run given jobs, or serve the queues, with their slots.

:func:`run_jobs` is ``jobctl run`` / ``resume`` (the given jobs until each
ends); :func:`serve_jobs` and :func:`serve_with_hosts` are ``jobctl serve``
(every queued job until a stop is requested). Each builds a
:class:`~orchestrator.dispatch.coordinator.Coordinator` with the right job
source and slots: the SSH slots (``ssh_slots.py``) are built here, so a run
without SSH hosts never imports paramiko.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from orchestrator.dispatch.admission import GivenJobs, QueuedJobs
from orchestrator.dispatch.coordinator import Coordinator
from orchestrator.dispatch.liblog import logs_to_file
from orchestrator.dispatch.options import RunOptions, default_log_dir
from orchestrator.dispatch.views import Observer
from orchestrator.states import JobState
from orchestrator.store.base import Store


def run_jobs(
    store: Store,
    job_ids: Sequence[int],
    options: RunOptions | None = None,
    observer: Observer | None = None,
) -> dict[int, JobState]:
    """Dispatch the given jobs until each ends (or a stop is requested); a job
    starts once the jobs it depends on succeeded."""
    options = options or RunOptions()
    close_remote: Callable[[], None] | None = None
    if not options.remote_slots:  # SSH hosts of the jobs' executor.ssh (none: nothing imported)
        from orchestrator.dispatch.ssh_slots import with_remote_slots

        options, close_remote = with_remote_slots(store, job_ids, options)
    coordinator = Coordinator(store, GivenJobs(job_ids, options.resume), options, observer)
    try:
        with logs_to_file(default_log_dir()):
            return coordinator.run()
    finally:
        if close_remote is not None:
            close_remote()


def serve_jobs(
    store: Store,
    queues: Sequence[str] | None = None,
    options: RunOptions | None = None,
    observer: Observer | None = None,
) -> dict[int, JobState]:
    """``jobctl serve``: dispatch every queued job of ``queues`` (None: all) with
    the slots of ``options``, until a stop is requested. Returns the final
    states of the jobs that ended while it served."""
    coordinator = Coordinator(store, QueuedJobs(queues), options or RunOptions(), observer)
    with logs_to_file(default_log_dir()):  # a library's warnings never cross the view
        return coordinator.run()


def serve_with_hosts(
    store: Store,
    queues: Sequence[str] | None,
    options: RunOptions,
    observer: Observer | None = None,
    hosts_files: Sequence[str] = (),
    use_registered_hosts: bool = True,
) -> dict[int, JobState]:
    """:func:`serve_jobs` with SSH slots: the hosts of ``hosts_files`` and every
    host registered in the store (also those added while it serves)."""
    if not hosts_files and not use_registered_hosts:
        return serve_jobs(store, queues, options, observer)
    from orchestrator.dispatch.ssh_slots import ServeHosts

    hosts = ServeHosts(store, hosts_files, options.accept_new_host_keys)
    changed = dataclasses.replace(
        options, more_slots=hosts.new_slots, on_slot_state=hosts.on_slot_state
    )
    try:
        return serve_jobs(store, queues, changed, observer)
    finally:
        hosts.close()
