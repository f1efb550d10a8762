"""kill -9 of the coordinator during a merged and during a partitioned publish
(the laid-out files in the job's publish directory, no ``_SUCCESS`` yet);
``jobctl resume`` then publishes exactly what an undisturbed run does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from orchestrator.dispatch.finalize import verify_output
from orchestrator.store import open_store
from tests.acceptance.cli import cli_env, jobctl
from tests.acceptance.test_output_layout import SPEC, _input
from tests.fault.harness import wait_for


def rows_of(out: Path) -> list[tuple[object, ...]]:
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())


def laid_out_files_ready(tmp: Path) -> bool:
    """Files in a job's publish directory (staging), and no ``_SUCCESS`` yet."""
    ready = [p for p in tmp.rglob("publish") if p.is_dir() and any(p.iterdir())]
    return bool(ready) and not (tmp / "out" / "_SUCCESS").exists()


@pytest.mark.parametrize(
    "layout", ["merge: {files: 2, sort_by: [email]}", "partition_by: [country]"]
)
def test_kill_during_a_laid_out_publish_then_resume(
    tmp_path: Path, pg_url: str, layout: str
) -> None:
    env = cli_env(tmp_path, pg_url)
    reference = tmp_path / "reference"
    reference.mkdir()
    _input(reference)
    (reference / "jobs.yaml").write_text(SPEC.format(layout=layout))
    # the undisturbed run, on an embedded store of its own
    done = jobctl("run", "jobs.yaml", env=cli_env(reference), cwd=reference)
    assert done.returncode == 0, done.stderr
    _input(tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC.format(layout=layout))
    hooked = [sys.executable, "-m", "tests.hooked", "hold_publish=60", "--"]
    proc = subprocess.Popen(
        [*hooked, "run", "jobs.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: laid_out_files_ready(tmp_path), 60, "the laid-out files, no _SUCCESS")
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    # what a kill in the middle of writing _SUCCESS leaves (seen in a soak)
    (ready,) = [p for p in tmp_path.rglob("publish") if p.is_dir()]
    (ready / "._SUCCESS.tmp-99999-deadbeef").write_text('{"half": ')
    store = open_store(pg_url)
    try:
        [job] = store.list_jobs()
    finally:
        store.close()
    resumed = jobctl("resume", str(job.id), env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    out, ref = tmp_path / "out", reference / "out"
    assert verify_output(out) == []
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(ref)) for p in ref.rglob("*") if p.is_file())
    assert rows_of(out) == rows_of(ref)  # the same rows, each once
    manifest = json.loads((out / "_SUCCESS").read_text())
    expected = json.loads((ref / "_SUCCESS").read_text())
    assert manifest["rows"] == expected["rows"]
    assert sorted(p["file"] for p in manifest["parts"]) == sorted(
        p["file"] for p in expected["parts"]
    )
    assert [p["checksum"] for p in sorted(manifest["parts"], key=lambda p: p["file"])] == [
        p["checksum"] for p in sorted(expected["parts"], key=lambda p: p["file"])
    ]
