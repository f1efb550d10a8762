"""Dask distributed: N no-op tasks on a LocalCluster of 2 single-threaded worker processes.

The cluster is up (both workers registered) before the clock starts; the clock
runs from ``client.map(noop, range(N))`` to the end of ``client.gather``.
"""

from __future__ import annotations

import logging
import sys
import time

from _common import dispatch_args, dispatch_result, emit, exit_on_signals, version


def noop(i: int) -> None:
    """A no-op task."""


def main() -> int:
    exit_on_signals()
    args = dispatch_args(__doc__.splitlines()[0]).parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(args.workers, timeout=60)
        client.gather(client.map(noop, range(-args.workers, 0)))  # warm-up, not timed
        t0 = time.perf_counter()
        futures = client.map(noop, range(args.n))
        client.gather(futures, errors="raise")
        seconds = time.perf_counter() - t0
        done = sum(1 for f in futures if f.status == "finished")
        if done != args.n:
            raise SystemExit(f"{done} of {args.n} tasks finished")
        del futures
    emit(
        dispatch_result(
            "dask",
            args.n,
            seconds,
            f"dask.distributed {version('distributed')} LocalCluster(n_workers={args.workers}, "
            "threads_per_worker=1, processes=True); client.gather(client.map(noop, range(N)))",
            version=version("distributed"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
