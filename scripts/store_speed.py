"""Measure the state store's hot paths on both backends (a benchmark, not a test).

For each backend: submit one job of N chunks (one transaction), then lease and
complete M chunks in batches of B with one owner, as the dispatcher does, and
time a job_progress poll on the full job. PostgreSQL runs in a scratch
database created on the server and dropped afterwards; SQLite in a temp file.

    .venv/bin/python scripts/store_speed.py [--pg URL] [--chunks 100000]
        [--cycle 10000] [--batch 100] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.states import JobState, Priority
from orchestrator.store import open_store, redact_url
from orchestrator.store.base import ChunkOutcome, NewJob, OutcomeKind
from orchestrator.store.queries import load_queries

DEFAULT_PG = os.environ.get("JOBCTL_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_pg(server_url: str) -> Iterator[str]:
    name = f"jobctl_speed_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    queries = load_queries("postgres")

    def admin(query: str) -> None:
        statement = sql.SQL(queries[query]).format(db=sql.Identifier(name))
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(statement)

    admin("create_empty_database")
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        admin("drop_database")


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite://{Path(folder) / 'speed.db'}"


def bench(label: str, url: str, chunks: int, cycle: int, batch: int) -> None:
    store = open_store(url)
    try:
        job = NewJob("speed", "run-1", {"bench": True}, "h", Priority.NORMAL, "default", None, None)
        descriptors = [
            ChunkDescriptor(i, "sequence", None, i, i + 1, 1000, phase=0) for i in range(chunks)
        ]
        started = time.perf_counter()
        job_id, _ = store.submit_job(job, [], descriptors)
        submit_s = time.perf_counter() - started
        store.set_job_state(job_id, JobState.RUNNING)

        done = 0
        started = time.perf_counter()
        while done < cycle:
            leases = store.lease_chunks("speed-owner", [job_id], min(batch, cycle - done), 60)
            if not leases:
                break
            outcomes = [
                ChunkOutcome(
                    lease.chunk_id,
                    lease.fencing_token,
                    OutcomeKind.SUCCEEDED,
                    rows_in=1000,
                    rows_out=1000,
                    bytes_out=4096,
                    checksum="c",
                    part_file=f"part-{lease.seq:05d}.attempt-1.parquet",
                    duration=0.01,
                )
                for lease in leases
            ]
            accepted = store.complete_chunks("speed-owner", outcomes)
            done += sum(accepted)
        cycle_s = time.perf_counter() - started

        started = time.perf_counter()
        progress = store.job_progress(job_id)
        progress_ms = (time.perf_counter() - started) * 1000
        assert progress.done == done, (progress.done, done)
        print(
            f"{label:9} submit {chunks:,} chunks: {submit_s:6.2f} s | "
            f"lease+complete {done:,} in batches of {batch}: {cycle_s:6.2f} s "
            f"= {done / cycle_s:,.0f} chunks/s | job_progress: {progress_ms:.1f} ms"
        )
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--cycle", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.only != "sqlite":
        with scratch_pg(args.pg) as url:
            print(f"postgres: {redact_url(args.pg)} (scratch database)")
            bench("postgres", url, args.chunks, args.cycle, args.batch)
    if args.only != "postgres":
        with scratch_sqlite() as url:
            bench("sqlite", url, args.chunks, args.cycle, args.batch)


if __name__ == "__main__":
    main()
