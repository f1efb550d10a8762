"""The lease order at equal priority: a fair share of the slots between jobs.

Within one priority, jobs take turns: a job's k-th chunk of a lease has turn
``running + k`` (``running``: its chunks running now, by any coordinator),
and the lowest turn goes first; on a tie the job that has had fewer chunks
go (``served``: not pending), then the older one. Two jobs submitted
one after the other therefore both make progress, interleaved, instead of
the later one waiting behind the whole of the first (what users of Slurm's
fair share or Airflow's pools expect); a job that already holds many slots
yields to one that holds few. Priorities still come strictly first.

PostgreSQL computes the turns in SQL (``lease_chunks``); SQLite leases job by
job, so :func:`fair_quotas` splits a lease between the jobs of one priority.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

R = TypeVar("R")


def fair_quotas(
    wanted: int, running: Sequence[int], served: Sequence[int] | None = None
) -> list[int]:
    """How many of ``wanted`` chunks each job (in age order, with its running
    and served chunks) gets when each next chunk goes to the job with the
    lowest turn (fewest served on a tie, then the oldest)."""
    quotas = [0] * len(running)
    if not running:
        return quotas
    served = served if served is not None else [0] * len(running)
    turns = [(count, served[index], index) for index, count in enumerate(running)]
    heapq.heapify(turns)
    for _ in range(max(wanted, 0)):
        count, done, index = heapq.heappop(turns)
        quotas[index] += 1
        heapq.heappush(turns, (count + 1, done + 1, index))
    return quotas


def lease_fairly(
    jobs: Sequence[Mapping[str, Any]],
    limit: int,
    lease_job: Callable[[Any, int], list[R]],
) -> list[R]:
    """Lease up to ``limit`` chunks from ``jobs`` (rows with ``id``, ``priority``,
    ``running`` and ``served``, in lease order) by calling ``lease_job(job, n)``, which
    leases at most n of that job's chunks: strict priority, and a fair share
    (:func:`fair_quotas`) within one. A job that gave fewer than asked is
    spent; its share goes to the others. The leases come back in turn order."""
    picked: list[tuple[int, int, int, int, int, R]] = []  # group, turn, served, order, k, row
    groups: dict[int, list[tuple[int, Mapping[str, Any]]]] = {}
    for order, job in enumerate(jobs):
        groups.setdefault(-int(job["priority"]), []).append((order, job))
    for group, members in sorted(groups.items()):
        running = {order: int(job["running"] or 0) for order, job in members}
        served = {order: int(job["served"] or 0) for order, job in members}
        active = list(members)
        while active and len(picked) < limit:
            quotas = fair_quotas(
                limit - len(picked),
                [running[order] for order, _ in active],
                [served[order] for order, _ in active],
            )
            still: list[tuple[int, Mapping[str, Any]]] = []
            for (order, job), quota in zip(active, quotas, strict=True):
                got = lease_job(job, quota) if quota else []
                for k, row in enumerate(got, start=1):
                    turn = (running[order] + k, served[order] + k)
                    picked.append((group, *turn, order, k, row))
                running[order] += len(got)
                served[order] += len(got)
                if len(got) == quota:
                    still.append((order, job))
            if len(still) == len(active) and all(q == 0 for q in quotas):
                break
            active = still
    picked.sort(key=lambda item: item[:5])
    return [item[5] for item in picked]
