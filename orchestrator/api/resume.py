"""Resuming a job: check that its inputs and spec still match its plan, or plan it again."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.api.submit import SubmitResult
from orchestrator.errors import PlanningError, ResumeRefused
from orchestrator.planning.stored import is_deferred
from orchestrator.states import JobState
from orchestrator.store.base import JobRecord, Store

if TYPE_CHECKING:
    from orchestrator.spec.model import JobSpec, SpecFile


@dataclass(frozen=True)
class ResumeCheck:
    """What resuming a job found: what changed since it was planned, and
    whether it was planned again (``--replan``)."""

    job_id: int
    changes: list[str] = field(default_factory=list)
    replanned: bool = False
    chunks_dropped: int = 0


def input_changes(store: Store, record: JobRecord) -> list[str]:
    """Why the job's inputs no longer match its plan, one line per file: changed
    or missing since planning, or newly named by ``input.path``."""
    from orchestrator.planning.discover import discover_inputs
    from orchestrator.planning.plan import refingerprint
    from orchestrator.spec.model import JobSpec

    old = store.job_inputs(record.id)
    lines = [
        f"input {path} changed since the job was planned (size, modification time or content)"
        for path in refingerprint(old)
    ]
    spec = JobSpec.from_dict(record.spec)
    if spec.input.sequence is None and spec.input.path:
        try:
            now = [path for path, _fmt in discover_inputs(spec.input)]
        except PlanningError:
            now = []  # nothing matches any more: each file is reported above
        known = {item.path for item in old}
        lines += [
            f"input {path} appeared since the job was planned" for path in now if path not in known
        ]
    return lines


def prepare_resume(
    store: Store, record: JobRecord, spec: JobSpec | None = None, replan: bool = False
) -> ResumeCheck:
    """Check that ``record`` can be resumed as planned; with ``replan``, plan it
    again instead of refusing.

    ``spec``: the spec the user runs now (``run FILE --run-key K``); None for
    ``resume JOB``. A changed input file or spec raises :class:`ResumeRefused`
    naming the file, since chunk ranges are only valid against the files they
    were cut from. ``replan`` replaces the job's whole plan: every chunk,
    succeeded ones too, runs again (nothing is published before a job
    succeeds, so nothing published is lost); it is refused while another
    coordinator runs the job. Jobs that ended successfully are left alone.
    """
    if record.state not in (
        JobState.PENDING,
        JobState.RUNNING,
        JobState.FAILED,
        JobState.CANCELLED,
    ):
        return ResumeCheck(record.id)
    if not replan:  # gc removed its staging: its finished parts are gone
        from orchestrator.dispatch.cleanup import refuse_resume_without_staging

        refuse_resume_without_staging(store, record)
    if is_deferred(record.spec):
        return ResumeCheck(record.id)  # not planned yet: it is planned when it starts
    changes = []
    if spec is not None and spec.spec_hash() != record.spec_hash:
        where = record.source_file or "the spec file"
        changes.append(
            f"the spec of job {record.name!r} in {where} changed since run key "
            f"{record.run_key!r} was submitted (spec hash {record.spec_hash} -> {spec.spec_hash()})"
        )
    changes += input_changes(store, record)
    if not changes:
        return ResumeCheck(record.id)
    if not replan:
        lines = "\n".join(f"  {line}" for line in changes)
        raise ResumeRefused(
            f"job {record.id} ({record.name}) cannot be resumed as planned:\n{lines}\n"
            "Its chunks would read other data than they were cut from. Use --replan to plan "
            "it again from the current files and spec (chunks already done run again), or "
            "start a new run with another --run-key."
        )
    from orchestrator.dispatch.recovery import reclaim_orphans
    from orchestrator.dispatch.staging import staging_dir
    from orchestrator.planning.plan import plan_job
    from orchestrator.planning.stored import stored_spec
    from orchestrator.spec.model import JobSpec

    target = spec or JobSpec.from_dict(record.spec)
    reclaim_orphans(store, "jobctl-replan")  # chunks of dead coordinators are no obstacle
    store.reap_expired()

    plan = plan_job(target)
    dropped = store.replan_job(
        record.id, stored_spec(target, plan), target.spec_hash(), plan.inputs, plan.chunks
    )
    if record.output_path is not None:
        shutil.rmtree(staging_dir(record.output_path, record.id), ignore_errors=True)
    return ResumeCheck(record.id, changes, True, dropped)


def resume_existing(
    store: Store,
    spec_file: SpecFile,
    results: Sequence[SubmitResult],
    replan: bool = False,
) -> list[ResumeCheck]:
    """``run FILE --run-key K`` found jobs of that key: check (or replan) each."""
    return [
        prepare_resume(store, store.get_job(result.job_id), spec_file.job(result.name), replan)
        for result in results
        if not result.created
    ]
