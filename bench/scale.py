"""`scripts/bench --only scale`: the state store at a million chunks.

On each backend: ``jobctl submit`` of a 1,000,000-chunk no-op job (plan +
submit, whole process), ``jobctl status JOB --json`` of it (whole process,
launch to exit, median of 7) beside the floor of any Python client of the
same store in the same run - ``python -c "import psycopg; psycopg.connect(URL)
.execute('select 1')"`` (``sqlite3`` for SQLite) - and ``jobctl list``; then
the job is run to its end (``jobctl resume``, 2 local workers) and timed
(``BENCH_SCALE_RUN=0`` in the environment skips that part).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
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


def scenario_scale(chunks: int) -> list[Result]:
    from bench import suite

    results = []
    for backend in ("postgres", "sqlite"):
        url = suite.store_url(backend, "scale")
        spec = suite.write_spec(
            "scale",
            f"""\
            - name: scale
              type: noop
              input: {{sequence: {chunks}}}
              executor: {{local: {{workers: 2}}}}
            """,
        )
        submit_s, out, _ = suite.run_jobctl(["submit", str(spec), "--db", url, "--json"])
        job_id = json.loads(out)[0]["job_id"]
        env = suite.jobctl_env()
        status = [suite.status_seconds(job_id, url) for _ in range(7)]
        listing = [
            _seconds([suite.JOBCTL, "list", "--db", url, "--json"], env=env) for _ in range(5)
        ]
        floor = [_seconds(_floor_argv(url)) for _ in range(7)]
        row: Result = {
            "name": f"jobctl ({backend})",
            "chunks": chunks,
            "submit_seconds": submit_s,
            "status_ms": statistics.median(status) * 1000,
            "list_ms": statistics.median(listing) * 1000,
            "client_floor_ms": statistics.median(floor) * 1000,
            "command": f"jobctl submit {spec.relative_to(suite.REPO)}; jobctl status JOB --json; "
            "jobctl list --json; python -c 'connect + select 1'",
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
        "| backend | chunks | plan + submit s | status ms | list ms | client floor ms "
        "| status / floor | run s |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        run = f"{r['run_seconds']:.0f}" if "run_seconds" in r else "-"
        lines.append(
            f"| {r['name']} | {r['chunks']:,} | {r['submit_seconds']:.1f} | {r['status_ms']:.0f} "
            f"| {r['list_ms']:.0f} | {r['client_floor_ms']:.0f} | {r['status_over_floor']:.2f} "
            f"| {run} |"
        )
    return lines
