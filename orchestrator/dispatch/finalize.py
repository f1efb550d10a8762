"""Publish a finished job: committed parts to their final names, then ``_SUCCESS``.

Nothing is visible under the output path before publish. The committed part
of every chunk (the file its succeeded transaction recorded) is renamed into a
``publish`` directory inside the job's staging area, ``_SUCCESS`` is written
there last, and the directory is renamed onto the output path in one step
(under ``mode: overwrite``, swapped with the old output, atomically where the
kernel can). Files of stale or failed attempts are never looked at, and are
deleted with the staging area. Publish is idempotent: a coordinator that dies
half-way is followed by one that finishes the same renames, or, finding the
output already published, only tidies up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.dispatch.hooks import installed
from orchestrator.dispatch.output_layout import write_layout
from orchestrator.dispatch.phases import phase_rows
from orchestrator.dispatch.reconcile import (
    check_csv_rows,
    check_schema,
    describe_schema,
    part_schema,
)
from orchestrator.dispatch.staging import (
    final_part_name,
    is_nonempty_dir,
    output_dir,
    staging_dir,
    staging_root,
)
from orchestrator.errors import JobctlError, OutputExists
from orchestrator.io.parts import fsync_dir, rejects_path, write_bytes_atomic
from orchestrator.io.renames import exchange
from orchestrator.io.sidecars import publish_sidecars
from orchestrator.spec.model import JobSpec
from orchestrator.states import ChunkState
from orchestrator.store.base import ChunkRecord, JobRecord, Store

MANIFEST_NAME = "_SUCCESS"
#: Where the output keeps the CSV rows rejected under ``input.csv.bad_rows: reject``
REJECTS_DIR = "_rejects"


class PublishError(JobctlError):
    """A committed part is missing or damaged; the job cannot be published."""


def publish(store: Store, job_id: int) -> dict[str, Any] | None:
    """Move every committed part into the output and write the manifest.

    Returns the manifest, or None for a job without output.
    """
    record = store.get_job(job_id)
    if record.output_path is None:
        return None
    spec = JobSpec.from_dict(record.spec)
    assert spec.output is not None
    out = output_dir(record.output_path)
    staging = staging_dir(record.output_path, job_id)
    ready = staging / "publish"
    manifest_path = out / MANIFEST_NAME
    if manifest_path.exists():
        existing = json.loads(manifest_path.read_text())
        if _identity(existing) == _identity(_job_identity(record)):
            # published by an earlier attempt that may have died before tidying up
            _remove_leftovers(record.output_path, job_id)
            return dict(existing)
    chunks = store.list_chunks(job_id, [ChunkState.SUCCEEDED])
    inputs = store.job_inputs(job_id)
    # the input's records were read by phase 0 (a later phase may read them again)
    check_csv_rows([c for c in chunks if c.phase == 0], inputs, spec.input.csv)
    validation = None
    if spec.type == "validate":  # per-rule counts; fails past max_reject_rate
        from orchestrator.processors.validate_report import validation_summary

        validation = validation_summary(spec.params, [(c.phase, c.part_file) for c in chunks])
    # only the last phase is the output (earlier ones are intermediate, in staging);
    # its parts are numbered from 0, as a one-phase job's are
    last = max((chunk.phase for chunk in chunks), default=0)
    phases = phase_rows(chunks) if last > 0 else None
    earlier = [chunk for chunk in chunks if chunk.phase != last]
    chunks = [chunk for chunk in chunks if chunk.phase == last]
    ready.mkdir(parents=True, exist_ok=True)
    parts: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    rows_total = 0
    schema = None
    first_seq = min((chunk.seq for chunk in chunks), default=0)
    if spec.output.laid_out:  # merge / partition_by: the parts read into a new layout
        parts, rejects, rows_total, schema = _laid_out_parts(chunks, staging, ready, spec)
        chunks = []
    for chunk in chunks:
        final_name = final_part_name(chunk.seq - first_seq, spec.output.format)
        target = ready / final_name
        if chunk.part_file is None:
            continue  # the processor produced no output for this chunk
        source = Path(chunk.part_file)
        if not target.exists():
            if not source.exists():
                raise PublishError(f"committed part of chunk {chunk.seq} is missing: {source}")
            schema = check_schema(schema, part_schema(source, spec.output.format), final_name)
            os.replace(source, target)
        else:
            schema = check_schema(schema, part_schema(target, spec.output.format), final_name)
        for name in publish_sidecars(chunk.part_file, str(ready)):
            if name in files:
                raise PublishError(f"two chunks wrote the file {name} beside their parts")
            files[name] = _file_entry(ready / name, chunk.seq)
        if chunk.rows_rejected and _publish_rejects(source, ready, chunk.seq):
            rejects.append({"file": f"{REJECTS_DIR}/{chunk.seq:05d}.csv", "seq": chunk.seq})
        parts.append(
            {
                "file": final_name,
                "seq": chunk.seq,
                "rows": chunk.rows_out or 0,
                "bytes": chunk.bytes_out or 0,
                "checksum": chunk.checksum,
            }
        )
        rows_total += chunk.rows_out or 0
    for chunk in earlier:  # rows an earlier phase rejected (a validate job's map phase)
        published = chunk.rows_rejected and chunk.part_file
        if published and _publish_rejects(Path(str(chunk.part_file)), ready, chunk.seq):
            rejects.append({"file": f"{REJECTS_DIR}/{chunk.seq:05d}.csv", "seq": chunk.seq})
    side, summary = _publish_side_outputs(staging, ready)
    manifest = {
        **_job_identity(record),
        "spec_hash": record.spec_hash,
        "format": spec.output.format,
        "compression": spec.output.compression,
        "inputs": [item.to_dict() for item in inputs],
        "parts": parts,
        "rows": rows_total,
        **({"phases": phases} if phases else {}),
        "schema": describe_schema(schema),
        "rejects": rejects,
        **({"files": [files[name] for name in sorted(files)]} if files else {}),
        **({"side_outputs": side} if side else {}),
        **({"summary": summary} if summary else {}),
        "published_at": datetime.now(UTC).isoformat(),
        **({"validation": validation} if validation is not None else {}),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True)
    if hold := installed().hold_publish:  # tests: a kill with the files ready, no _SUCCESS
        time.sleep(hold)
    _remove_temp_files(ready)
    write_bytes_atomic(str(ready), MANIFEST_NAME, text.encode())
    _swap_into_place(ready, out, spec.output.mode, job_id)
    _remove_leftovers(record.output_path, job_id)
    return manifest


def _file_entry(path: Path, seq: int) -> dict[str, Any]:
    """A published sidecar file (``io/sidecars.py``) as the manifest lists it."""
    data = path.read_bytes()
    return {"file": path.name, "seq": seq, "bytes": len(data), "checksum": _sha256(data)}


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _publish_side_outputs(staging: Path, ready: Path) -> tuple[list[str], dict[str, Any]]:
    """Files a job's strategy left in ``<staging>/side/`` and named in
    ``<staging>/side.json`` (identity_match: ``edges/``, ``model.json``) move
    into the output folder with the parts, so they are published exactly once
    with it; the list's ``summary`` goes into ``_SUCCESS``. Idempotent."""
    listing = staging / "side.json"
    if not listing.exists():
        return [], {}
    doc = json.loads(listing.read_text())
    names = [str(name) for name in doc.get("outputs") or ()]
    for name in names:
        source, target = staging / "side" / name, ready / name
        if not target.exists():
            if not source.exists():
                raise PublishError(f"side output {name} of the job is missing: {source}")
            os.replace(source, target)
    return names, dict(doc.get("summary") or {})


def _laid_out_parts(
    chunks: list[ChunkRecord], staging: Path, ready: Path, spec: JobSpec
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, Any]:
    """The last phase's committed parts rewritten under ``ready`` as
    ``output.merge`` / ``output.partition_by`` ask (:mod:`.output_layout`):
    (manifest parts, rejects, rows, schema)."""
    assert spec.output is not None
    sources: list[Path] = []
    schema = None
    rejects = []
    rows = 0
    for chunk in sorted(chunks, key=lambda c: c.seq):
        if chunk.part_file is None:
            continue  # the processor produced no output for this chunk
        source = Path(chunk.part_file)
        if chunk.rows_rejected and _publish_rejects(source, ready, chunk.seq):
            rejects.append({"file": f"{REJECTS_DIR}/{chunk.seq:05d}.csv", "seq": chunk.seq})
        if not source.exists():
            raise PublishError(f"committed part of chunk {chunk.seq} is missing: {source}")
        schema = check_schema(schema, part_schema(source, spec.output.format), source.name)
        sources.append(source)
        rows += chunk.rows_out or 0
    try:
        parts = write_layout(sources, staging / "layout", ready, spec.output, rows)
    except ValueError as exc:
        raise PublishError(f"output layout: {exc}") from exc
    return parts, rejects, rows, schema


def _publish_rejects(part_file: Path, ready: Path, seq: int) -> bool:
    """Move the CSV rows a committed attempt rejected (io/parts.py) into the
    output's :data:`REJECTS_DIR`; False if that attempt left none."""
    source = Path(rejects_path(str(part_file)))
    target = ready / REJECTS_DIR / f"{seq:05d}.csv"
    if target.exists():
        return True
    if not source.exists():
        return False
    target.parent.mkdir(exist_ok=True)
    os.replace(source, target)
    return True


def _job_identity(record: JobRecord) -> dict[str, Any]:
    """What names this job in a manifest. The id alone is not enough: another
    store (a fresh SQLite file, say) numbers its jobs from 1 again, and its job 1
    must not take an older output for its own."""
    return {
        "job_id": record.id,
        "job": record.name,
        "run_key": record.run_key,
        "job_created_at": record.created_at.isoformat(),
    }


def _identity(manifest: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(manifest.get(key) for key in ("job_id", "job", "run_key", "job_created_at"))


def _swap_into_place(ready: Path, out: Path, mode: str, job_id: int) -> None:
    """Put the complete ``ready`` directory at ``out``.

    Overwrite swaps the two directories in one step where the kernel can
    (:func:`~orchestrator.io.renames.exchange`): ``ready`` then holds the old
    output, which goes with the staging area. Elsewhere the old output is
    renamed aside first, leaving a moment with no output at all.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not is_nonempty_dir(out):
        out.rmdir()
    if not out.exists():
        os.replace(ready, out)
    elif mode != "overwrite":
        raise OutputExists(f"output {out} appeared while the job ran; nothing published")
    elif not exchange(ready, out):
        trash = _replaced_dir(out, job_id)
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(out, trash)
        os.replace(ready, out)
    fsync_dir(str(out.parent))


def _replaced_dir(out: Path, job_id: int) -> Path:
    """Where the plain-rename fallback puts the output it replaces."""
    return out.parent / f".{out.name}.jobctl-replaced-{job_id}"


def _remove_leftovers(output_path: str, job_id: int) -> None:
    """After publish: the job's staging area (and in it, after an exchange, the
    replaced output) and the fallback's replaced output. Also run when a
    publish finds itself already done, so a coordinator that died between the
    swap and this step leaves nothing behind for good."""
    shutil.rmtree(staging_dir(output_path, job_id), ignore_errors=True)
    shutil.rmtree(_replaced_dir(output_dir(output_path), job_id), ignore_errors=True)
    _remove_if_empty(staging_root(output_path))


def _remove_temp_files(ready: Path) -> None:
    """Hidden temp files a killed publish left half-written in ``ready`` (a
    ``._SUCCESS.tmp-<pid>-<hex>`` of ``write_bytes_atomic``): the publish that
    finishes the job must not swap them into the output with its files."""
    for leftover in ready.rglob(".*.tmp-*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def verify_output(out: Path) -> list[str]:
    """Problems found checking a published output against its manifest (empty = ok)."""
    from orchestrator.io.parts import verify_part

    problems = []
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    for part in manifest["parts"]:
        path = out / part["file"]
        if not path.exists():
            problems.append(f"missing {part['file']}")
        elif part["checksum"] and not verify_part(str(path), part["checksum"]):
            problems.append(f"checksum mismatch {part['file']}")
    return problems
