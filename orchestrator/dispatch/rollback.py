"""Roll back a job: remove the output it published, mark it ``rolled_back``.

Only what the job's own ``_SUCCESS`` manifest lists is removed, so files that
someone else put next to the output, or the output of a later run that
overwrote it, are never touched. The manifest is first renamed to a hidden
``.rollback-<job>`` name: from that instant readers no longer see a complete
output, and a rollback interrupted half-way still knows, when run again,
which parts to remove. The manifest goes last, then the directory if empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.dispatch.finalize import MANIFEST_NAME
from orchestrator.dispatch.staging import output_dir, staging_dir, staging_root
from orchestrator.errors import JobActive
from orchestrator.states import JOB_ACTIVE, JobState
from orchestrator.store.base import Store


@dataclass(frozen=True)
class RollbackResult:
    job_id: int
    name: str
    output: str | None
    removed: list[str] = field(default_factory=list)
    changed: bool = True  # False: it was rolled back already
    note: str | None = None


def rollback_job(store: Store, job_id: int) -> RollbackResult:
    """Remove ``job_id``'s published output and staging area; mark it rolled back.

    Refuses (:class:`JobActive`) a pending or running job. Idempotent."""
    record = store.get_job(job_id)
    if record.state in JOB_ACTIVE:
        raise JobActive(
            f"job {job_id} ({record.name}) is {record.state.value}; cancel it "
            f"(`jobctl cancel {job_id}`) or let it end before rolling it back"
        )
    if record.state == JobState.ROLLED_BACK:
        return RollbackResult(job_id, record.name, record.output_path, changed=False)
    removed: list[str] = []
    note = None
    if record.output_path is not None:
        removed, note = _remove_published(output_dir(record.output_path), job_id)
        shutil.rmtree(staging_dir(record.output_path, job_id), ignore_errors=True)
        with contextlib.suppress(OSError):
            staging_root(record.output_path).rmdir()
    detail: dict[str, Any] = {"output": record.output_path, "removed_files": len(removed)}
    if note:
        detail["note"] = note
    store.set_job_state(job_id, JobState.ROLLED_BACK, detail=detail)
    return RollbackResult(job_id, record.name, record.output_path, removed, True, note)


def _remove_published(out: Path, job_id: int) -> tuple[list[str], str | None]:
    manifest = out / MANIFEST_NAME
    aside = out / f".{MANIFEST_NAME}.rollback-{job_id}"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if data.get("job_id") != job_id:
            return [], f"{out} holds the output of job {data.get('job_id')}; left untouched"
        os.replace(manifest, aside)
    elif aside.exists():
        data = json.loads(aside.read_text())  # an earlier rollback stopped half-way
    else:
        return [], "nothing was published"
    removed = []
    for part in data.get("parts", []):
        path = out / str(part["file"])
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(str(path))
    aside.unlink()
    removed.append(str(manifest))
    with contextlib.suppress(OSError):
        out.rmdir()  # only when empty
    return removed, None
