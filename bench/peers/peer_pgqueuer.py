"""pgqueuer: N no-op jobs through 2 consumer processes on PostgreSQL.

A fresh database ``bench_pgqueuer`` gets pgqueuer's schema
(``Queries.install()``, what ``pgq install`` runs). Two consumer processes
(``QueueManager`` with an async no-op entrypoint, psycopg driver) start,
connect and report ready before the clock starts. The clock runs from the
first enqueue (one batch ``Queries.enqueue`` of N jobs) until the last
``successful`` entry is committed to pgqueuer's job status log (its
``created`` time); the consumers drain the queue (``QueueExecutionMode.drain``)
and exit, after which the log must hold N ``successful`` jobs and the queue
none. The time until both consumers exited is reported too. The database is
dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import subprocess
import sys
import time
from datetime import timedelta

from _common import (
    dispatch_args,
    dispatch_result,
    emit,
    exit_on_signals,
    fresh_database,
    popen_group,
    stop_group,
    version,
)

DATABASE = "bench_pgqueuer"
BATCH_SIZE = 10  # pgqueuer's default dequeue batch size
DSN_ENV = "BENCH_PGQUEUER_DSN"


async def consume(dsn: str) -> None:
    """One consumer: connect, say ready, wait for 'go' on stdin, drain the queue."""
    import psycopg
    from pgqueuer import Job, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        qm = QueueManager(Queries.from_psycopg_connection(conn))

        @qm.entrypoint("noop")
        async def noop(job: Job) -> None:
            """A no-op job."""

        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await qm.run(
            mode=QueueExecutionMode.drain,
            batch_size=BATCH_SIZE,
            dequeue_timeout=timedelta(seconds=0.5),
        )


async def setup(dsn: str) -> None:
    import psycopg
    from pgqueuer import Queries

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await Queries.from_psycopg_connection(conn).install()


async def enqueue(dsn: str, n: int) -> None:
    import psycopg
    from pgqueuer import Queries

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        queries = Queries.from_psycopg_connection(conn)
        await queries.enqueue(["noop"] * n, [str(i).encode() for i in range(n)], [0] * n)


async def outcome(dsn: str) -> tuple[dict[str, int], float]:
    """Jobs per logged status (and left in the queue), and the epoch time of the last success."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT status::text, count(DISTINCT job_id) FROM pgqueuer_log GROUP BY 1"
        )
        counts = {status: count for status, count in await cur.fetchall()}
        cur = await conn.execute("SELECT count(*) FROM pgqueuer")
        row = await cur.fetchone()
        counts["left_in_queue"] = row[0] if row else -1
        cur = await conn.execute(
            "SELECT extract(epoch FROM max(created))::float8 FROM pgqueuer_log"
            " WHERE status = 'successful'"
        )
        row = await cur.fetchone()
    return counts, float(row[0]) if row and row[0] is not None else float("nan")


def wait_line(procs: list[subprocess.Popen[bytes]], expect: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready or p.stdout.readline().strip() != expect:
            raise SystemExit("a pgqueuer consumer did not start")


def main() -> int:
    exit_on_signals()
    ap = dispatch_args(__doc__.splitlines()[0])
    ap.add_argument("--consumer", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.consumer:  # the DSN comes in the environment, never in argv
        asyncio.run(consume(os.environ[DSN_ENV]))
        return 0
    consumers: list[subprocess.Popen[bytes]] = []
    with fresh_database(DATABASE) as dsn:
        asyncio.run(setup(dsn))
        try:
            for _ in range(args.workers):
                consumers.append(
                    popen_group(
                        [sys.executable, __file__, "--consumer"],
                        env={**os.environ, DSN_ENV: dsn},
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                    )
                )
            wait_line(consumers, b"ready", 60)
            t0 = time.perf_counter()
            t0_epoch = time.time()
            asyncio.run(enqueue(dsn, args.n))
            for p in consumers:
                assert p.stdin is not None
                p.stdin.write(b"go\n")
                p.stdin.flush()
            for p in consumers:
                p.wait(max(1.0, args.timeout - (time.perf_counter() - t0)))
            until_exit = time.perf_counter() - t0
            codes = [p.returncode for p in consumers]
            if any(codes):
                raise SystemExit(f"consumer exit codes {codes}")
        finally:
            for p in consumers:
                stop_group(p, grace=5)
        counts, last_success = asyncio.run(outcome(dsn))
    if counts.get("successful") != args.n or counts["left_in_queue"] != 0:
        raise SystemExit(f"after the run: {counts} (expected {args.n} successful)")
    # The end is when the last success was committed to pgqueuer_log (the
    # server's clock, same host), not when the drained consumers got round to
    # exiting, which can add up to a dequeue timeout of idle wait.
    seconds = min(until_exit, last_success - t0_epoch)
    emit(
        dispatch_result(
            "pgqueuer",
            args.n,
            seconds,
            f"pgqueuer {version('pgqueuer')}, {args.workers} consumer processes "
            f"(QueueManager, psycopg driver, async no-op entrypoint, batch_size={BATCH_SIZE}, "
            "drain mode); one batch Queries.enqueue of N jobs",
            seconds_until_consumers_exit=round(until_exit, 4),
            version=version("pgqueuer"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
