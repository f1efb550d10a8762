"""``jobctl gc``: the staging areas of jobs that ended failed or cancelled.

A failed or cancelled job publishes nothing, but its committed parts stay in
its staging directory (``out/.name.jobctl-staging/job-N``) so that
``jobctl resume`` can go on without redoing them. Nothing removes them by
itself, since a resume may still come; ``jobctl gc`` does, when the user
says so. A job whose staging was removed cannot be resumed (its finished
chunks' files are gone; ``resume`` says so and names what to do); run the
spec again with a new run key instead.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.dispatch.staging import staging_dir, staging_root
from orchestrator.errors import JobctlError
from orchestrator.states import ChunkState, JobState
from orchestrator.store.base import JobRecord, Store

#: how many ended jobs one gc looks at, newest first
GC_SCAN = 100_000
ENDED_UNPUBLISHED = (JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Removed:
    job_id: int
    name: str
    state: str
    staging: str
    bytes: int


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def collect_staging(store: Store, dry_run: bool = False) -> list[Removed]:
    """Remove the staging directory of every failed or cancelled job that has
    one (``dry_run``: only list them); each removal is a ``job_staging_removed``
    event. An emptied staging root is removed too."""
    removed: list[Removed] = []
    for job in store.list_jobs(list(ENDED_UNPUBLISHED), limit=GC_SCAN):
        if not job.output_path:
            continue
        path = staging_dir(job.output_path, job.id)
        if not path.is_dir():
            continue
        size = _size(path)
        if not dry_run:
            shutil.rmtree(path)
            store.record_event(
                "job_staging_removed", job_id=job.id, detail={"path": str(path), "bytes": size}
            )
            with contextlib.suppress(OSError):  # only when no other job uses it
                staging_root(job.output_path).rmdir()
        removed.append(Removed(job.id, job.name, job.state.value, str(path), size))
    return removed


def refuse_resume_without_staging(store: Store, record: JobRecord) -> None:
    """A failed or cancelled job whose staging ``gc`` removed cannot go on: its
    succeeded chunks' parts are gone (they are never run again)."""
    if record.state not in ENDED_UNPUBLISHED or not record.output_path:
        return
    if staging_dir(record.output_path, record.id).is_dir():
        return
    if store.job_progress(record.id).chunks.get(ChunkState.SUCCEEDED, 0) == 0:
        return
    raise JobctlError(
        f"job {record.id} {record.name} cannot be resumed: its staging directory was "
        "removed (jobctl gc), so the parts of its finished chunks are gone; run the spec "
        "again with a new run key"
    )
