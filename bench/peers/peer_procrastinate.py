"""procrastinate: N no-op jobs, one worker of concurrency 2, on PostgreSQL.

A fresh database ``bench_procrastinate`` gets procrastinate's schema; the app's
connection pool is open before the clock starts. The clock runs from the
first (batch) defer until ``run_worker_async(concurrency=2, wait=False)``
returns, i.e. the queue is empty and every job is recorded ``succeeded`` (jobs
kept: ``delete_jobs="never"``, the default). The database is dropped after.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from _common import dispatch_args, dispatch_result, emit, exit_on_signals, fresh_database, version

DATABASE = "bench_procrastinate"


async def run(dsn: str, n: int, workers: int, timeout: float) -> float:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="noop")
    async def noop(i: int) -> None:
        """A no-op task."""

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        t0 = time.perf_counter()
        await noop.batch_defer_async(*({"i": i} for i in range(n)))
        await asyncio.wait_for(
            app.run_worker_async(concurrency=workers, wait=False, install_signal_handlers=False),
            timeout,
        )
        seconds = time.perf_counter() - t0
        rows = await app.connector.execute_query_all_async(
            "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs GROUP BY 1"
        )
    counts = {r["status"]: r["n"] for r in rows}
    if counts != {"succeeded": n}:
        raise SystemExit(f"job states after the run: {counts} (expected {n} succeeded)")
    return seconds


def main() -> int:
    exit_on_signals()
    args = dispatch_args(__doc__.splitlines()[0]).parse_args()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    with fresh_database(DATABASE) as dsn:
        seconds = asyncio.run(run(dsn, args.n, args.workers, args.timeout))
    emit(
        dispatch_result(
            "procrastinate",
            args.n,
            seconds,
            f"procrastinate {version('procrastinate')} PsycopgConnector, async no-op task, "
            "noop.batch_defer_async(N jobs) then "
            f"run_worker_async(concurrency={args.workers}, wait=False)",
            version=version("procrastinate"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
