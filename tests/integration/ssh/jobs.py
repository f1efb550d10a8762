"""Writing specs and running them in-process, for the SSH executor's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from orchestrator import api
from orchestrator.dispatch.entry import run_jobs
from orchestrator.dispatch.options import RunOptions
from orchestrator.executors.ssh import push
from orchestrator.spec.loader import load_spec
from orchestrator.states import JobState
from orchestrator.store.base import Store


def write_csvs(directory: Path, files: int = 3, rows: int = 400) -> int:
    """CSV inputs with quoted newlines; returns the total row count."""
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        lines = ["id,name,note"]
        for i in range(rows):
            note = '"two\nlines, ""quoted"""' if i % 9 == 0 else f"plain {i}"
            lines.append(f"{index * 100_000 + i},name{i},{note}")
        (directory / f"in-{index}.csv").write_text("\n".join(lines) + "\n")
    return files * rows


def write_spec(
    path: Path,
    *,
    inputs: str,
    output: Path,
    ssh: dict[str, Any] | None,
    local_workers: int | None = 1,
    python: str = "tests.procs:identity",
    params: dict[str, Any] | None = None,
    chunk_bytes: str = "2KiB",
    name: str = "convert",
    timeouts: dict[str, Any] | None = None,
) -> Path:
    executor: dict[str, Any] = {}
    if local_workers:
        executor["local"] = {"workers": local_workers}
    if ssh is not None:
        executor["ssh"] = ssh
    job: dict[str, Any] = {
        "name": name,
        "python": python,
        "params": params or {},
        "input": {"path": inputs, "format": "csv"},
        "chunking": {"bytes": chunk_bytes},
        "output": {"path": str(output), "format": "parquet", "compression": "zstd"},
        "executor": executor,
    }
    if timeouts:
        job["timeouts"] = timeouts
    path.write_text(yaml.safe_dump({"version": 1, "jobs": [job]}, allow_unicode=True))
    return path


def run_spec(store: Store, spec: Path, **options: Any) -> tuple[int, JobState]:
    """Submit and run the spec's one job in this process; (job id, final state)."""
    [result] = api.submit_spec(store, load_spec(spec))
    final = run_jobs(store, [result.job_id], RunOptions(install_signal_handlers=False, **options))
    return result.job_id, final[result.job_id]


def read_output(out: Path) -> tuple[pa.Table, list[dict[str, Any]]]:
    """All published rows (manifest order) and the manifest's parts."""
    manifest = json.loads((out / "_SUCCESS").read_text())
    tables = [pq.read_table(out / part["file"]) for part in manifest["parts"]]
    return pa.concat_tables(tables), manifest["parts"]


def workers_of(store: Store, job_id: int) -> dict[str, int]:
    """How many chunks each worker slot committed."""
    counts: dict[str, int] = {}
    for event in store.list_events(job_id):
        if event.kind == "chunk_succeeded":
            worker = str(event.detail.get("worker"))
            counts[worker] = counts.get(worker, 0) + 1
    return counts


def pushed_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes of every chunk pushed over a channel (recorded by a wrapper)."""
    sizes: list[int] = []
    original = push.PushTransfer.outgoing

    def outgoing(self: push.PushTransfer, header: dict[str, Any], payload: Any) -> Any:
        out = original(self, header, payload)
        if out[1] is not None:
            sizes.append(len(out[1]))
        return out

    monkeypatch.setattr(push.PushTransfer, "outgoing", outgoing)
    return sizes
