"""`scripts/bench --only transform,report`: jobctl's analytics job types beside DuckDB alone.

- ``transform``: a dataset-wide GROUP BY over the people file
  (``type: transform`` with ``partition_by: city``: a map_reduce, 2 workers;
  once shuffling whole rows, once with a ``map_sql`` that pre-aggregates each
  chunk by (city, last_name), a combiner) against the same query in one DuckDB process
  (``SET threads = 2``) writing Parquet.
- ``report``: a dataset profile (``type: report``: HTML, JSON, Markdown and
  a part) against DuckDB's ``SUMMARIZE`` of the same file, written as JSON.
  (ydata-profiling is not run: it is not in this machine's package lists and
  pulls pandas, matplotlib and a browser-less renderer stack; DuckDB's
  SUMMARIZE is the peer.)

One run each (these are minutes-long on 10M rows, not a dispatch race):
seconds from launch until the output is complete, and peak RSS (the largest
process of the contender's tree). Every row names the command it timed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.procwatch import TreeMemory

Result = dict[str, Any]

GROUP_BY = (
    "SELECT city, count(*) AS people, min(birth_date) AS oldest, max(birth_date) AS youngest, "
    "count(DISTINCT last_name) AS surnames FROM {source} GROUP BY city"
)

COMBINE_MAP = (
    "SELECT city, last_name, count(*) AS people, min(birth_date) AS oldest, "
    "max(birth_date) AS youngest FROM chunk GROUP BY city, last_name"
)
COMBINE_REDUCE = (
    "SELECT city, sum(people) AS people, min(oldest) AS oldest, max(youngest) AS youngest, "
    "count(DISTINCT last_name) AS surnames FROM chunk GROUP BY city"
)

DUCKDB_GROUP_BY = """
import sys, time, duckdb
src, dst, sql = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute(f"COPY ({sql.format(source=f'read_parquet({src!r})')}) TO {dst!r} (FORMAT PARQUET)")
print(con.execute(f"SELECT count(*) FROM read_parquet({dst!r})").fetchone()[0])
"""

DUCKDB_SUMMARIZE = """
import json, sys, duckdb
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads = 2")
rel = con.sql(f"SUMMARIZE SELECT * FROM read_parquet({src!r})")
cols, rows = rel.columns, rel.fetchall()
with open(dst, "w") as f:
    json.dump([dict(zip(cols, map(str, r))) for r in rows], f)
print(len(rows))
"""


def _peer(label: str, script: str, args: list[str]) -> Result:
    """One DuckDB process: wall seconds and its peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate(timeout=3600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{label} exited {proc.returncode}: {err.decode()[-2000:]}")
    peak = max((p for p, _ in memory.peaks.values()), default=0)
    return {
        "name": label,
        "seconds": seconds,
        "peak_rss_bytes": peak,
        "rows_out": int(out.decode().split()[-1]),
        "command": f"python -c <{label}> {' '.join(Path(a).name for a in args[:2])}",
    }


def _jobctl(name: str, body: str, out: Path, rows: int) -> Result:
    from bench import suite

    for leftover in (out, out.parent / f".{out.name}.jobctl-staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    spec = suite.write_spec(name, body)
    url = suite.store_url("postgres", name.replace("-", "_"))
    # A store's schema is made once, not per job (`jobctl db upgrade`, or the
    # first command against it): migrated here before the clock starts, as a
    # user's store is; the peers have no store to make. Its seconds are kept.
    migrated, _, _ = suite.run_jobctl(["db", "upgrade", "--db", url])
    launched = time.time()
    to_exit, out_json, memory = suite.run_jobctl(["run", str(spec), "--db", url, "--json"])
    _, doc = suite.job_times(out_json)
    seconds = dt.datetime.fromisoformat(doc["finished_at"]).timestamp() - launched
    return {
        "name": "jobctl (2 workers)",
        "seconds": seconds,
        "seconds_to_exit": to_exit,
        "store_migration_seconds": migrated,
        "rows_per_second": rows / seconds,
        "peak_rss_bytes": max(memory["coordinator_peak_rss"], memory["max_worker_peak_rss"]),
        "coordinator_peak_rss_bytes": memory["coordinator_peak_rss"],
        "max_worker_peak_rss_bytes": memory["max_worker_peak_rss"],
        # the published rows (the job's rows_out counts every phase's, the map's too)
        "rows_out": json.loads((out / "_SUCCESS").read_text())["rows"],
        "command": f"jobctl run {spec.relative_to(suite.REPO)} --db postgresql://.../bench_{name}",
    }


def _job_body(name: str, job_type: str, params: dict[str, Any], source: Path, out: Path) -> str:
    """One job of 2 local workers over ``source`` (params as JSON: a YAML flow mapping)."""
    return f"""\
    - name: {name}
      type: {job_type}
      params: {json.dumps(params)}
      input: {{path: "{source}"}}
      chunking: {{rows: 250000}}
      output: {{path: "{out}", format: parquet, mode: overwrite}}
      executor: {{local: {{workers: 2}}}}
    """


def scenario_transform(rows: int) -> list[Result]:
    from bench import suite

    parquet, _ = suite.ensure_data(rows)
    out = suite.WORK / "out-transform"
    params = {"partition_by": "city", "sql": GROUP_BY.format(source="chunk")}
    body = _job_body("transform-group-by", "transform", params, parquet, out)
    suite.warm_file(parquet)
    ours = _jobctl("transform-group-by", body, out, rows)
    # the same with a combiner: map_sql pre-aggregates each chunk by (city,
    # last_name), so the shuffle carries a row per pair, not per person
    combined = {
        "partition_by": "city",
        "map_sql": COMBINE_MAP,
        "sql": COMBINE_REDUCE,
    }
    body = _job_body("transform-combined", "transform", combined, parquet, out)
    suite.warm_file(parquet)
    lean = _jobctl("transform-combined", body, out, rows)
    lean["name"] = "jobctl (2 workers, map_sql pre-aggregates)"
    suite.warm_file(parquet)
    duck = _peer(
        "duckdb_group_by",
        DUCKDB_GROUP_BY,
        [str(parquet), str(suite.WORK / "duckdb-group-by.parquet"), GROUP_BY],
    )
    if not duck["rows_out"] == ours["rows_out"] == lean["rows_out"]:
        raise RuntimeError(
            f"group counts differ: jobctl {ours['rows_out']} and {lean['rows_out']}, "
            f"duckdb {duck['rows_out']}"
        )
    return [ours, lean, duck]


def scenario_report(rows: int) -> list[Result]:
    from bench import suite

    parquet, _ = suite.ensure_data(rows)
    out = suite.WORK / "out-report"
    body = _job_body("report-profile", "report", {"key": "email", "title": "people"}, parquet, out)
    suite.warm_file(parquet)
    ours = _jobctl("report-profile", body, out, rows)
    suite.warm_file(parquet)
    duck = _peer(
        "duckdb_summarize", DUCKDB_SUMMARIZE, [str(parquet), str(suite.WORK / "summarize.json")]
    )
    return [ours, duck]


def markdown(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    titles = {
        "transform": "**Transform: GROUP BY city over the people file** (one run; seconds from "
        "launch until the output is complete)",
        "report": "**Report: dataset profile** (one run; jobctl: HTML + JSON + Markdown + part, "
        "with duplicates by email; DuckDB: SUMMARIZE to JSON)",
    }
    for key in ("transform", "report"):
        rows = results.get(key)
        if not rows:
            continue
        base = rows[0]["seconds"]
        lines += [
            "",
            titles[key],
            "",
            "| contender | seconds | its time / jobctl time | peak RSS (max process) | command |",
            "|---|---:|---:|---:|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['name']} | {r['seconds']:.2f} | {r['seconds'] / base:.2f} | "
                f"{r['peak_rss_bytes'] / 2**20:,.0f} MiB | `{r['command']}` |"
            )
    return lines
