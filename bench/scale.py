"""`scripts/bench --only scale`: the state store at a million chunks.

On each backend: ``jobctl submit`` of a 1,000,000-chunk no-op job (plan +
submit, whole process), ``jobctl status JOB --json`` of it (whole process,
launch to exit, median of 7) beside the floor of any Python client of the
same store in the same run - ``python -c "import psycopg; psycopg.connect(URL)
.execute('select 1')"`` (``sqlite3`` for SQLite) - and ``jobctl list``; then
the job is run to its end (``jobctl resume``, 2 local workers) and timed
(``BENCH_SCALE_RUN=0`` in the environment skips that part). With
``--scale-jobs N`` the store first gets N - 1 more jobs of as many chunks
(not timed), and ``jobctl events JOB --limit 50`` and ``jobctl queue stats``
are timed too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {done.returncode}: {done.stderr[-1500:]}")
    return seconds


def _floor_argv(url: str) -> list[str]:
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1]
        code = f"import sqlite3; sqlite3.connect({path!r}).execute('select 1')"
    else:
        code = f"import psycopg; psycopg.connect({url!r}).execute('select 1')"
    return [sys.executable, "-c", code]


def _spec(name: str, chunks: int) -> Path:
    from bench import suite

    return suite.write_spec(
        name,
        f"""\
        - name: {name}
          type: noop
          input: {{sequence: {chunks}}}
          executor: {{local: {{workers: 2}}}}
        """,
    )


def _median_ms(argv: list[str], env: dict[str, str], times: int = 5) -> float:
    return statistics.median(_seconds(argv, env=env) for _ in range(times)) * 1000


def scenario_scale(chunks: int, jobs: int = 1) -> list[Result]:
    """On each backend: ``jobs - 1`` jobs of ``chunks`` submitted first (not
    timed), then the measured one, so the reads run on a store of ``jobs`` x
    ``chunks`` chunk rows."""
    from bench import suite

    results = []
    for backend in ("postgres", "sqlite"):
        url = suite.store_url(backend, "scale")
        for index in range(jobs - 1):
            suite.run_jobctl(["submit", str(_spec(f"filler-{index}", chunks)), "--db", url])
        spec = _spec("scale", chunks)
        submit_s, out, _ = suite.run_jobctl(["submit", str(spec), "--db", url, "--json"])
        job_id = json.loads(out)[0]["job_id"]
        env = suite.jobctl_env()
        status = [suite.status_seconds(job_id, url) for _ in range(7)]
        row: Result = {
            "name": f"jobctl ({backend})",
            "chunks": chunks,
            "jobs_in_store": jobs,
            "submit_seconds": submit_s,
            "status_ms": statistics.median(status) * 1000,
            "list_ms": _median_ms([suite.JOBCTL, "list", "--db", url, "--json"], env),
            "events_ms": _median_ms(
                [suite.JOBCTL, "events", str(job_id), "--limit", "50", "--db", url, "--json"], env
            ),
            "queue_stats_ms": _median_ms(
                [suite.JOBCTL, "queue", "stats", "--db", url, "--json"], env
            ),
            "client_floor_ms": statistics.median(_seconds(_floor_argv(url)) for _ in range(7))
            * 1000,
            "command": f"jobctl submit {spec.relative_to(suite.REPO)}; jobctl status JOB --json; "
            "jobctl list --json; jobctl events JOB --limit 50 --json; jobctl queue stats --json; "
            "python -c 'connect + select 1'",
        }
        row["status_over_floor"] = row["status_ms"] / row["client_floor_ms"]
        if os.environ.get("BENCH_SCALE_RUN", "1") != "0":
            run_s, out, _ = suite.run_jobctl(["resume", str(job_id), "--db", url, "--json"])
            job_s, doc = suite.job_times(out)
            assert doc["chunks"]["succeeded"] == chunks, doc["chunks"]
            row["run_seconds"] = run_s
            row["run_chunks_per_second"] = chunks / job_s
        print(f"  scale {backend}: {row}", flush=True)
        results.append(row)
    return results


def markdown(results: list[Result]) -> list[str]:
    lines = ["", "### State at scale", ""]
    lines.append(
        "| backend | jobs x chunks in the store | plan + submit s | status ms | list ms "
        "| events ms | queue stats ms | client floor ms | status / floor | run s |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        run = f"{r['run_seconds']:.0f}" if "run_seconds" in r else "-"
        lines.append(
            f"| {r['name']} | {r.get('jobs_in_store', 1)} x {r['chunks']:,} "
            f"| {r['submit_seconds']:.1f} | {r['status_ms']:.0f} | {r['list_ms']:.0f} "
            f"| {r['events_ms']:.0f} | {r['queue_stats_ms']:.0f} | {r['client_floor_ms']:.0f} "
            f"| {r['status_over_floor']:.2f} | {run} |"
        )
    return lines
