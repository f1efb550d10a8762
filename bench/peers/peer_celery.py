"""Celery + Redis: N no-op tasks through a prefork worker of concurrency 2.

The worker (``celery -A _celery_app worker --pool prefork --concurrency 2``)
is started and answering before the clock starts; the clock runs from the
first enqueue (a ``group`` of N ``noop`` signatures, applied at once) until
every result has been read back from the Redis result backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import (
    PEERS_DIR,
    dispatch_args,
    dispatch_result,
    emit,
    exit_on_signals,
    log,
    popen_group,
    stop_group,
)


def main() -> int:
    exit_on_signals()
    ap = dispatch_args(__doc__.splitlines()[0])
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()
    os.environ["BENCH_REDIS_URL"] = args.redis_url

    import redis
    from _celery_app import app, noop
    from celery import group

    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()  # the bench's own Redis database: leftovers of an aborted run
    worker_cmd = [
        sys.executable, "-m", "celery", "-A", "_celery_app", "worker",
        "--pool", "prefork", "--concurrency", str(args.workers),
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PEERS_DIR)}
    worker = popen_group(worker_cmd, cwd=PEERS_DIR, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the celery worker did not come up")
        # One warm-up round trip through both pool processes.
        group(noop.s(-1) for _ in range(args.workers)).apply_async().get(timeout=60)

        t0 = time.perf_counter()
        result = group(noop.s(i) for i in range(args.n)).apply_async()
        result.get(timeout=args.timeout)
        seconds = time.perf_counter() - t0
        done = sum(1 for r in result.results if r.successful())
        if done != args.n:
            raise SystemExit(f"{done} of {args.n} tasks succeeded")
    finally:
        stop_group(worker)  # SIGTERM = warm shutdown, then SIGKILL what is left
        try:
            client.flushdb()
        except redis.RedisError as exc:
            log(f"could not flush {args.redis_url}: {exc}")
        client.close()
    from _common import version

    emit(
        dispatch_result(
            "celery",
            args.n,
            seconds,
            f"celery {version('celery')} prefork worker --concurrency {args.workers}, "
            "Redis broker + Redis result backend, group(noop.s(i) for i in range(N))"
            ".apply_async().get()",
            worker_command=" ".join(worker_cmd[1:]),
            version=version("celery"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
