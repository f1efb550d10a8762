"""The Celery app of the celery peer (imported by the worker and the client).

Redis broker and Redis result backend (results stored, Celery's defaults
otherwise); the URL comes from BENCH_REDIS_URL.
"""

from __future__ import annotations

import os

from celery import Celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

app = Celery("jobctl_bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name="jobctl_bench.noop")
def noop(i: int) -> None:
    """A no-op task (its None result is still stored in the backend)."""
