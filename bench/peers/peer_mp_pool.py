"""multiprocessing.Pool: N no-op calls on 2 processes, nothing durable (the ceiling).

The pool is started before the clock; the clock times
``pool.map(noop, range(N), chunksize=1)``.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

from _common import dispatch_args, dispatch_result, emit, exit_on_signals


def noop(i: int) -> None:
    """A no-op task."""


def main() -> int:
    exit_on_signals()
    args = dispatch_args(__doc__.splitlines()[0]).parse_args()
    with multiprocessing.Pool(args.workers) as pool:
        pool.map(noop, range(args.workers), chunksize=1)  # warm-up, not timed
        t0 = time.perf_counter()
        result = pool.map_async(noop, range(args.n), chunksize=1)
        out = result.get(timeout=args.timeout)
        seconds = time.perf_counter() - t0
    if len(out) != args.n:
        raise SystemExit(f"{len(out)} of {args.n} results")
    emit(
        dispatch_result(
            "mp_pool",
            args.n,
            seconds,
            f"multiprocessing.Pool({args.workers}).map(noop, range(N), chunksize=1), "
            f"start method {multiprocessing.get_start_method()}; nothing durable",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
