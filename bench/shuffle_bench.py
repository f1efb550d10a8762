"""`scripts/bench --only shuffle`: jobctl's map_reduce beside single processes.

Two tasks over one generated Parquet file (``--rows``, default 10M):

- ``dedupe``: exact dedup on ``lower(trim(email))`` (half the rows repeat an
  address, with case and blank noise), keeping the first row of each;
- ``group_by``: ``count(*)``, ``sum(v)``, ``count(DISTINCT t)`` by ``k`` of
  1M distinct values.

Contenders, one after the other in this run: jobctl (``type: dedupe`` and a
``type: transform`` map_reduce, 2 local workers), DuckDB (2 threads;
unconstrained and ``memory_limit='1GB'``), polars (eager and streaming) and
pyarrow, each a process of its own writing Parquet. Wall seconds and the peak
RSS of every process (the largest jobctl process: coordinator or worker).

``shuffle_profile`` times the shuffle's own steps in this process on one map
chunk (partition + Arrow IPC spill write with fsync, then reading every
partition back): bytes written and read and CPU per row, beside Arrow IPC
(lz4) writing and reading the same table, and the disk writing 256 MiB with
fsync.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

Result = dict[str, Any]
KEY_CARDINALITY = 1_000_000

PEER = """
import sys, duckdb, numpy as np, polars as pl, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
tool, task, src, dst = sys.argv[1:5]
if tool.startswith("duckdb"):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    if tool == "duckdb_1gb":
        con.execute("SET memory_limit = '1GB'")
        con.execute("SET preserve_insertion_order = false")
    if task == "dedupe":
        sql = ("SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER "
               "(PARTITION BY lower(trim(email)) ORDER BY n) AS rn FROM read_parquet('{s}')) WHERE rn = 1")
    else:
        sql = ("SELECT k, count(*) AS rows, sum(v) AS v_sum, count(DISTINCT t) AS t_distinct "
               "FROM read_parquet('{s}') GROUP BY k")
    con.execute(f"COPY ({sql.format(s=src)}) TO '{dst}' (FORMAT PARQUET)")
elif tool.startswith("polars"):
    lf = pl.scan_parquet(src)
    if task == "dedupe":
        q = (lf.with_columns(pl.col("email").str.strip_chars().str.to_lowercase().alias("_k"))
             .unique(subset=["_k"], keep="first", maintain_order=False).drop("_k"))
    else:
        q = lf.group_by("k").agg(pl.len().alias("rows"), pl.col("v").sum().alias("v_sum"),
                                 pl.col("t").n_unique().alias("t_distinct"))
    if tool == "polars_streaming":
        q.sink_parquet(dst, engine="streaming")
    else:
        q.collect().write_parquet(dst)
else:
    table = pq.read_table(src)
    if task == "dedupe":
        key = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("email")))
        index = pa.array(range(table.num_rows))
        first = pa.table({"_k": key, "_i": index}).group_by("_k").aggregate([("_i", "min")])
        out = table.take(pa.array(np.sort(first.column("_i_min").to_numpy())))
    else:
        out = table.group_by("k").aggregate([("k", "count"), ("v", "sum"), ("t", "count_distinct")])
    pq.write_table(out, dst)
print(pq.ParquetFile(dst).metadata.num_rows)
"""


def make_data(rows: int, path: Path) -> Path:
    """``n``, ``email`` (noisy duplicates), ``k`` (1M values), ``v``, ``t``; written once."""
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    rng = np.random.default_rng(17)
    writer = None
    step = 1_000_000
    tmp = path.with_suffix(".tmp")
    for start in range(0, rows, step):
        n = min(step, rows - start)
        ids = rng.integers(0, max(1, rows // 2), n)
        base = pa.array([f"user{i}@example.org" for i in ids])
        noise = rng.integers(0, 3, n)
        emails = [
            f"  {e.upper()} " if flag == 1 else (e.capitalize() if flag == 2 else e)
            for e, flag in zip(base.to_pylist(), noise, strict=True)
        ]
        batch = pa.table(
            {
                "n": pa.array(np.arange(start, start + n)),
                "email": pa.array(emails),
                "k": pa.array(rng.integers(0, KEY_CARDINALITY, n)),
                "v": pa.array(rng.integers(0, 1000, n)),
                "t": pa.array(rng.integers(0, 50, n).astype(np.int32)),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(tmp, batch.schema, compression="zstd")
        writer.write_table(batch, row_group_size=250_000)
    assert writer is not None
    writer.close()
    os.replace(tmp, path)
    return path


def _jobctl_body(task: str, source: Path, out: Path) -> str:
    if task == "dedupe":
        head = "type: dedupe\n      params: {key: email, normalize: [lower, trim], keep: first}"
    else:
        sql = (
            "SELECT k, count(*) AS rows, sum(v) AS v_sum, count(DISTINCT t) AS t_distinct "
            "FROM chunk GROUP BY k"
        )
        head = f'type: transform\n      params: {{partition_by: k, sql: "{sql}"}}'
    return f"""\
    - name: shuffle-{task.replace("_", "-")}
      {head}
      input: {{path: "{source}"}}
      chunking: {{rows: 250000}}
      output: {{path: "{out}", format: parquet, mode: overwrite}}
      executor: {{local: {{workers: 2}}}}
    """


PEERS = ("duckdb", "duckdb_1gb", "polars", "polars_streaming", "pyarrow")
TASKS = ("dedupe", "group_by")


def scenario_shuffle(
    rows: int, tasks: tuple[str, ...] = TASKS, peers: tuple[str, ...] = PEERS
) -> dict[str, Any]:
    """Each task: jobctl, then each peer, one after the other; every row also
    records the 1-minute load average when it started (the machine is shared)."""
    from bench import analytics, suite

    source = make_data(rows, suite.WORK / f"shuffle-{rows}.parquet")
    results: dict[str, Any] = {
        "rows": rows,
        "profile": shuffle_profile(source),
        "profile_group_by": shuffle_profile(source, "k", (), ["k", "v", "t"]),
    }
    for task in tasks:
        out = suite.WORK / f"out-shuffle-{task}"
        suite.warm_file(source)
        name = f"shuffle-{task.replace('_', '-')}"
        load = os.getloadavg()[0]
        ours = analytics._jobctl(name, _jobctl_body(task, source, out), out, rows)
        ours["load_at_start"] = load
        rows_task = [ours]
        print(f"  {task} jobctl: {ours['seconds']:.1f}s (load {load:.1f})", flush=True)
        for tool in peers:
            dst = suite.WORK / f"peer-{task}-{tool}.parquet"
            suite.warm_file(source)
            load = os.getloadavg()[0]
            try:
                peer = analytics._peer(tool, PEER, [tool, task, str(source), str(dst)])
            except RuntimeError as exc:
                peer = {"name": tool, "error": str(exc)[-300:]}
            peer["name"] = tool
            peer["load_at_start"] = load
            rows_task.append(peer)
            print(f"  {task} {tool}: {peer.get('seconds', 0):.1f}s (load {load:.1f})", flush=True)
        results[task] = rows_task
    return results


def shuffle_profile(
    source: Path,
    key: str = "email",
    normalize: tuple[str, ...] = ("lower", "trim"),
    columns: list[str] | None = None,
) -> Result:
    """The shuffle on one 250k-row map chunk, against Arrow IPC and the disk.

    The default is the dedupe's shuffle (every column, by the normalized
    e-mail); the group-by's reads and spills ``k, v, t`` only, by ``k``.
    """
    from orchestrator.shuffle.spill import SPILL_COMPRESSION, write_map_output

    cpu, wall = time.process_time(), time.perf_counter()
    table = pq.ParquetFile(source).read_row_group(0, columns=columns)
    read_cpu_input, read_wall_input = time.process_time() - cpu, time.perf_counter() - wall
    n = table.num_rows
    work = Path(tempfile.mkdtemp(prefix="shuffle-profile-", dir=source.parent))
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        out = write_map_output(table, str(work), "m0", [key], 64, list(normalize))
        map_cpu, map_wall = time.process_time() - cpu, time.perf_counter() - wall
        data = Path(out.directory) / "data.arrow"
        cpu, wall = time.process_time(), time.perf_counter()
        with pa.memory_map(str(data)) as f:
            reader = pa.ipc.open_file(f)
            read_rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        read_cpu, read_wall = time.process_time() - cpu, time.perf_counter() - wall
        assert read_rows == n
        ipc = work / "plain.arrow"
        options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION)
        wall = time.perf_counter()
        with (
            pa.OSFile(str(ipc), "wb") as sink,
            pa.ipc.new_file(sink, table.schema, options=options) as w,
        ):
            w.write_table(table)
        ipc_write = time.perf_counter() - wall
        wall = time.perf_counter()
        with pa.memory_map(str(ipc)) as f:
            pa.ipc.open_file(f).read_all()
        ipc_read = time.perf_counter() - wall
        blob = os.urandom(1 << 20)
        wall = time.perf_counter()
        with open(work / "disk", "wb") as f:
            for _ in range(256):
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        disk_mb_s = 256 / (time.perf_counter() - wall)
        spill_bytes = data.stat().st_size
        return {
            "rows": n,
            "columns": ",".join(table.column_names),
            "parquet_read_cpu_us_per_row": read_cpu_input / n * 1e6,
            "parquet_read_wall_us_per_row": read_wall_input / n * 1e6,
            "spill_bytes_per_row": spill_bytes / n,
            "read_bytes_per_row": spill_bytes / n,
            "map_cpu_us_per_row": map_cpu / n * 1e6,
            "map_wall_us_per_row": map_wall / n * 1e6,
            "read_cpu_us_per_row": read_cpu / n * 1e6,
            "read_wall_us_per_row": read_wall / n * 1e6,
            "ipc_write_us_per_row": ipc_write / n * 1e6,
            "ipc_read_us_per_row": ipc_read / n * 1e6,
            "ipc_bytes_per_row": ipc.stat().st_size / n,
            "disk_write_fsync_mb_s": disk_mb_s,
            "disk_us_per_row_of_spill": spill_bytes / n / (disk_mb_s * 1e6) * 1e6,
            "compression": SPILL_COMPRESSION,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(results: dict[str, Any]) -> list[str]:
    lines = ["", f"### shuffle: {results['rows']:,} rows", ""]
    for task in (t for t in TASKS if t in results):
        lines += [
            f"{task}:",
            "",
            "| contender | seconds | peak RSS MiB | rows out | load at start |",
            "|---|---|---|---|---|",
        ]
        for r in results[task]:
            if "error" in r:
                lines.append(f"| {r['name']} | failed: {r['error'][-80:]} | | | |")
                continue
            rss = r["peak_rss_bytes"] / 2**20
            load = r.get("load_at_start", 0.0)
            name = r["name"]
            if "max_worker_peak_rss_bytes" in r:  # jobctl: the largest of its processes
                name += (
                    f" (coordinator {r['coordinator_peak_rss_bytes'] / 2**20:.0f},"
                    f" largest worker {r['max_worker_peak_rss_bytes'] / 2**20:.0f} MiB)"
                )
            lines.append(
                f"| {name} | {r['seconds']:.1f} | {rss:.0f} | {r['rows_out']:,} | {load:.1f} |"
            )
        migrated = [
            r["store_migration_seconds"] for r in results[task] if "store_migration_seconds" in r
        ]
        if migrated:
            lines += [
                "",
                f"jobctl: from launch to the job's end in the store; its new store was "
                f"migrated before (`jobctl db upgrade`, {migrated[0]:.2f} s, not counted). "
                "No contender sorts its output.",
            ]
        lines.append("")
    for label, key in (("dedupe", "profile"), ("group_by", "profile_group_by")):
        if key not in results:
            continue
        lines.append(
            f"shuffle profile, {label} (one 250k-row map chunk): "
            + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in results[key].items()
            )
        )
        lines.append("")
    return lines
