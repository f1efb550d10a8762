"""Disk trouble while writing parts, and inputs that change before a resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.dispatch.staging import staging_root
from orchestrator.states import ChunkState
from tests.fault.harness import Scenario, scenario_store


def test_disk_full_fails_the_chunk_cleanly(
    pg_url: str, scenario_factory: Callable[..., Scenario], tmp_path: Path
) -> None:
    """Files may not grow past 256 KiB (``prlimit --fsize``, inherited by the
    workers): chunk 2's part cannot be written. That chunk fails (dead after its
    attempts), no partial part is left anywhere, nothing is published; once
    there is room again, resume finishes the job."""
    marker = tmp_path / "room-again"
    s = scenario_factory(
        pg_url,
        chunks=6,
        python="tests.procs:inflate_on_seq",
        params={"seq": 2, "bytes": 1 << 20, "fixed_marker": str(marker)},
    )
    limited = s.start(
        "run", str(s.spec), "--run-key", "k1", prefix=("prlimit", f"--fsize={256 * 1024}")
    )
    code, err = s.finish(limited)
    assert code == 1, err
    report = s.check(succeeded=False, expect_events={"chunk_failed", "chunk_dead"})
    with scenario_store(s) as store:
        [dead] = store.list_chunks(s.job_id(), [ChunkState.DEAD])
    assert dead.seq == 2 and "File too large" in (dead.error or "")
    assert report.kinds()["chunk_succeeded"] == 5
    staged = [p.name for p in staging_root(str(s.out)).rglob("*") if p.is_file()]
    assert not [name for name in staged if name.startswith(("part-00002", ".part-00002"))]
    assert not [name for name in staged if ".tmp-" in name], staged
    assert not s.out.exists()

    marker.write_text("disk cleaned up")
    resumed = s.cli("resume", str(s.job_id()))
    assert resumed.returncode == 0, resumed.stderr
    s.check()


def test_changed_input_refuses_resume_until_replan(
    pg_url: str, scenario_factory: Callable[..., Scenario], tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    s = scenario_factory(
        pg_url,
        chunks=5,
        python="tests.procs:fail_on_seq",
        params={"seq": 1, "fixed_marker": str(marker)},
    )
    code, err = s.finish(s.run())
    assert code == 1, err
    job_id = s.job_id()

    changed = pa.table({"id": pa.array(range(100, 160), pa.int64()),
                        "name": [f"new-{i}" for i in range(60)]})  # fmt: skip
    source = s.tmp / "data" / "in.parquet"
    pq.write_table(changed, source, row_group_size=20)
    marker.write_text("fixed")
    refused = s.cli("resume", str(job_id))
    assert refused.returncode == 2
    assert str(source) in refused.stderr and "--replan" in refused.stderr
    again = s.cli("run", str(s.spec), "--run-key", "k1")
    assert again.returncode == 2 and str(source) in again.stderr

    s.spec.write_text(s.spec.read_text().replace('"seq": 1', '"seq": 1, "note": "v2"'))
    spec_changed = s.cli("run", str(s.spec), "--run-key", "k1")
    assert spec_changed.returncode == 2
    assert str(s.spec.resolve()) in spec_changed.stderr and "spec" in spec_changed.stderr

    replanned = s.cli("run", str(s.spec), "--run-key", "k1", "--replan")
    assert replanned.returncode == 0, replanned.stderr
    assert "planned again" in replanned.stderr
    s.expected = changed
    report = s.check(expect_events={"job_replanned"})
    assert report.chunks == 3
