"""Local workers started before the run needs them.

A worker takes a tenth of a second or more to start (an interpreter, then
pyarrow and the processors' imports). `jobctl run` spends about as long
loading, planning and submitting its jobs before the first chunk can be
leased, so it starts the workers first and hands them to the run
(``RunOptions.prestarted``), which adopts those started with its own settings
and stops any others. Nothing changes for the run itself; it only waits less.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.dispatch.options import default_log_dir, local_worker_count, worker_env
from orchestrator.executors.base import Slot
from orchestrator.executors.local import WorkerProcess
from orchestrator.spec.model import JobSpec


def prestart_workers(specs: Sequence[JobSpec], workers: int | None) -> tuple[Slot, ...]:
    """Start the local workers a run of ``specs`` will use (none for jobs that
    run on SSH hosts only: their slots depend on the hosts)."""
    if not specs or any(spec.executor.ssh for spec in specs):
        return ()
    locals_ = [spec.executor.local for spec in specs]
    count = local_worker_count(workers, locals_, remote=False)
    env = worker_env(min(spec.timeouts.heartbeat for spec in specs))
    started: list[Slot] = []
    try:
        for index in range(count):
            worker = WorkerProcess(index, default_log_dir(), env)
            worker.prestart()
            started.append(worker)
    except BaseException:
        stop_unused(started)
        raise
    return tuple(started)


def stop_unused(workers: Sequence[Slot]) -> None:
    """Stop prestarted workers that no run took (the run failed before it began)."""
    for worker in workers:
        worker.kill()


def local_workers(prestarted: Sequence[Slot], env: dict[str, str], count: int) -> list[Slot]:
    """A run's ``count`` local workers: the prestarted ones started with its
    settings (``env``), then new ones; the other prestarted ones are stopped."""
    local: list[Slot] = []
    for worker in prestarted:
        if isinstance(worker, WorkerProcess) and worker.env == env and len(local) < count:
            local.append(worker)
    for unused in prestarted:
        if unused not in local:
            unused.kill()
    log_dir = default_log_dir()
    local.extend(WorkerProcess(index, log_dir, env) for index in range(len(local), count))
    return local
