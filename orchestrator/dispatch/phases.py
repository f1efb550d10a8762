"""Moving a job of several phases on: plan phase k+1 when phase k has all succeeded.

Called by :func:`~orchestrator.dispatch.lifecycle.settle_job` under the
job's settlement claim, so with several coordinators one of them plans; the
store appends the new phase's chunks and its ``phase_started`` event in one
transaction that does nothing when that phase already exists
(:meth:`Store.start_phase`), so a coordinator killed after planning and
another one (or a resume) planning again add nothing twice. Planning itself
is the strategy's (``strategies/``): pure, deterministic, and any file it
writes (the shuffle manifest) is rewritten with the same bytes.
"""

from __future__ import annotations

import time

from orchestrator.dispatch.active import ActiveJob
from orchestrator.dispatch.hooks import installed
from orchestrator.errors import PlanningError
from orchestrator.states import ChunkState
from orchestrator.store.base import ChunkRecord, Store
from orchestrator.strategies.base import CommittedChunk, PlanContext

#: Phases planned in one settlement at most (empty phases are planned at once).
MAX_EMPTY_PHASES = 100


def current_phase(chunks: list[ChunkRecord]) -> int:
    """The phase that runs now: the highest one planned."""
    return max((c.phase for c in chunks), default=0)


def phase_rows(chunks: list[ChunkRecord]) -> list[dict[str, int]]:
    """Rows in, out and rejected per phase of the succeeded ``chunks`` (the
    ``_SUCCESS`` manifest's reconciliation: each phase after the first reads
    what the one before it wrote)."""
    phases: dict[int, dict[str, int]] = {}
    for c in chunks:
        row = phases.setdefault(
            c.phase,
            {"phase": c.phase, "chunks": 0, "rows_in": 0, "rows_out": 0, "rows_rejected": 0},
        )
        row["chunks"] += 1
        row["rows_in"] += c.rows_in or 0
        row["rows_out"] += c.rows_out or 0
        row["rows_rejected"] += c.rows_rejected or 0
    return [phases[p] for p in sorted(phases)]


def advance(store: Store, job: ActiveJob) -> bool:
    """Plan and add the job's next phase if its strategy has one (True: the
    job goes on); False: the current phase is the last, publish it. Raises
    PlanningError (the job fails with it)."""
    if job.spec.strategy == "parallel_chunks" or job.strategy is None:
        return False
    if job.staging is None:
        raise PlanningError(f"strategy {job.spec.strategy} needs an output (its staging area)")
    if hold := installed().hold_phase_plan:  # tests: a kill between two phases
        time.sleep(hold)
    for _ in range(MAX_EMPTY_PHASES):
        chunks = store.list_chunks(job.record.id)
        last = current_phase(chunks)
        job.phase = last
        outcomes = [
            CommittedChunk(
                c.seq,
                c.phase,
                (c.part_file,) if c.part_file else (),
                c.rows_out or 0,
                dict(c.result or {}),
            )
            for c in chunks
            if c.phase == last and c.state == ChunkState.SUCCEEDED
        ]
        ctx = PlanContext(
            job=job.spec,
            strategy=job.spec.strategy_spec(),
            staging_dir=str(job.staging),
            next_seq=max((c.seq for c in chunks), default=-1) + 1,
            planned=job.planned,
            input_chunks=[c.descriptor for c in chunks if c.phase == 0],
            python_path=tuple(job.payload.get("python_path") or ()),
        )
        following = job.strategy.next_chunks(ctx, last, outcomes)
        if following is None:
            return False
        spec = job.phase_spec(last + 1)
        label = spec.label() if spec is not None else f"phase {last + 2}"
        added = store.start_phase(job.record.id, last + 1, following, label)
        job.phase = last + 1
        job.phase_first = len(chunks)
        job.load_progress(store.job_progress(job.record.id))
        if following and (hold := installed().hold_phase_start):  # tests: a kill in the phase
            time.sleep(hold)
        if following or not added:  # not added: another planner did it first
            return True
    raise PlanningError(f"more than {MAX_EMPTY_PHASES} empty phases in a row")
