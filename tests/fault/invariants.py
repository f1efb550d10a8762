"""The one invariant checker every fault scenario ends with.

Whatever was killed, paused or cut off during a run, once the job has ended
(or been resumed to its end) the store and the output must agree on exactly
this:

- every chunk is in exactly one terminal state, and no lease is left;
- a succeeded chunk was committed exactly once (one ``chunk_succeeded``);
- ``_SUCCESS`` exists iff the job succeeded; then the output holds exactly
  one part per succeeded chunk, every part readable, its rows and checksum as
  the manifest says, and nothing else (no temp file, no stale attempt);
- the output rows equal a clean run's;
- no worker process of the run is left;
- the events log tells the story (the kinds a scenario expects are there).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.dispatch.finalize import MANIFEST_NAME, verify_output
from orchestrator.dispatch.staging import staging_root
from orchestrator.states import CHUNK_TERMINAL, ChunkState, JobState
from orchestrator.store import open_store
from orchestrator.store.base import EventRecord

#: The environment variable that marks the processes of one test run.
MARK_ENV = "JOBCTL_FAULT_MARK"


@dataclass
class Report:
    """What the checker saw, for scenario-specific assertions."""

    state: JobState
    chunks: int
    executions: int  # chunk_leased events: how many times a chunk was handed out
    events: list[EventRecord] = field(default_factory=list)

    @property
    def repeated(self) -> int:
        """Chunk executions beyond one per chunk."""
        return self.executions - self.chunks

    def kinds(self) -> Counter[str]:
        return Counter(event.kind for event in self.events)


def marked_processes(mark: str) -> list[int]:
    """Pids of live processes whose environment carries ``MARK_ENV=mark``."""
    needle = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def wait_no_processes(mark: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the run still alive: {left}"


def check_invariants(
    db_url: str,
    job_id: int,
    out: Path,
    expected: pa.Table | None,
    *,
    mark: str | None = None,
    succeeded: bool = True,
    expect_events: Iterable[str] = (),
    sort_by: str = "id",
) -> Report:
    """Assert every invariant of the module docstring; returns what was seen."""
    if mark is not None:
        wait_no_processes(mark)
    store = open_store(db_url)
    try:
        job = store.get_job(job_id)
        chunks = store.list_chunks(job_id)
        events = store.list_events(job_id)
        owners = store.lease_owners()
    finally:
        store.close()
    assert (job.state == JobState.SUCCEEDED) == succeeded, f"job is {job.state}: {job.error}"
    seqs = [c.seq for c in chunks]
    assert seqs == sorted(set(seqs)), "chunk seqs are not unique"
    unfinished = [(c.seq, c.state) for c in chunks if c.state not in CHUNK_TERMINAL]
    assert not unfinished, f"chunks not in a terminal state: {unfinished}"
    assert not [c.seq for c in chunks if c.lease_owner is not None], "a lease was left"
    assert not owners, f"running chunks left with owners {owners}"
    ids = {c.id for c in chunks}
    commits = Counter(e.chunk_id for e in events if e.kind == "chunk_succeeded")
    for c in chunks:
        want = 1 if c.state == ChunkState.SUCCEEDED else 0
        assert commits.get(c.id, 0) == want, f"chunk {c.seq} committed {commits.get(c.id, 0)}x"
    executions = sum(1 for e in events if e.kind == "chunk_leased" and e.chunk_id in ids)
    report = Report(job.state, len(chunks), executions, events)
    missing = set(expect_events) - set(report.kinds())
    assert not missing, f"events missing from the log: {sorted(missing)}"

    manifest_path = out / MANIFEST_NAME
    assert manifest_path.exists() == (job.state == JobState.SUCCEEDED), "_SUCCESS iff succeeded"
    if job.state != JobState.SUCCEEDED:
        if out.exists():
            assert not [p.name for p in out.iterdir()], "output of an unfinished job is visible"
        return report
    manifest = json.loads(manifest_path.read_text())
    assert manifest["job_id"] == job_id
    parts = manifest["parts"]
    succeeded_seqs = sorted(c.seq for c in chunks if c.state == ChunkState.SUCCEEDED)
    assert sorted(part["seq"] for part in parts) == succeeded_seqs, "one part per chunk"
    on_disk = sorted(p.name for p in out.iterdir())
    assert on_disk == sorted([MANIFEST_NAME, *(part["file"] for part in parts)]), on_disk
    assert verify_output(out) == [], "a part does not match its checksum"
    tables = []
    for part in parts:
        table = pq.read_table(out / part["file"])  # readable: not partial
        assert table.num_rows == part["rows"]
        tables.append(table)
    leftovers = [p for p in staging_root(str(out)).rglob("*") if p.is_file()]
    assert not leftovers, f"files left in staging: {leftovers}"
    if expected is not None:
        got = pa.concat_tables(tables).sort_by(sort_by) if tables else expected.slice(0, 0)
        assert got.num_rows == expected.num_rows, (got.num_rows, expected.num_rows)
        assert got.equals(expected.sort_by(sort_by)), "output differs from a clean run's"
    return report
