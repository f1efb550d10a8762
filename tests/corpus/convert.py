"""Run a ``convert`` job in this process, chunk by chunk, as workers would.

Plans with the real planner, runs every chunk through the real worker runtime
(:func:`orchestrator.worker.run_task`) and reads the parts back in chunk order:
the conversion path of a job without the dispatcher, fast enough for a corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestrator.planning.plan import plan_job
from orchestrator.planning.schema import encode_schema
from orchestrator.protocol import build_job_payload
from orchestrator.spec.model import JobSpec
from orchestrator.worker import run_task


class ChunkFailed(Exception):
    """A chunk's result was not ok; the message is the worker's one-line error."""


def convert(spec: JobSpec, staging: Path) -> tuple[pa.Table | None, list[dict[str, Any]]]:
    """(all parts read back in order, or None without parts; the chunk results)."""
    plan = plan_job(spec)
    payload = build_job_payload(spec, spec.name, str(staging))
    if plan.csv_schema is not None:
        payload["csv_schema"] = encode_schema(plan.csv_schema)
    results = []
    for chunk in plan.chunks:
        result = run_task(payload, chunk.to_dict(), part_name=f"part-{chunk.seq:05d}")
        if not result["ok"]:
            raise ChunkFailed(result["error"])
        results.append(result)
    assert spec.output is not None
    parts = [read_part(r["part_file"], spec.output.format) for r in results if r["part_file"]]
    if spec.output.format == "csv" and len({p.schema for p in parts}) > 1:
        return None, results  # CSV parts are typed per part when read back: compare as text
    return (pa.concat_tables(parts) if parts else None), results


def read_part(path: str, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return pq.ParquetFile(path).read()  # read_table refuses duplicate column names
    return pacsv.read_csv(path)
