"""Drive a job's phases in this process, as the coordinator will once phases are wired.

Every chunk goes through the real :class:`orchestrator.worker.Worker` (reads,
processor, part or shuffle write); between phases the strategy plans the next
one from the outcomes, exactly as the coordinator holding the settlement
claim will. No store: the outcomes are kept in a list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.shuffle import runtime
from orchestrator.spec.model import JobSpec
from orchestrator.spec.strategy import StrategySpec
from orchestrator.strategies import strategy_for
from orchestrator.strategies.base import CommittedChunk, PhaseSpec, PlanContext
from orchestrator.strategies.sequential import state_for
from orchestrator.worker import Worker


@dataclass
class Run:
    phases: list[PhaseSpec] = field(default_factory=list)
    outcomes: list[list[CommittedChunk]] = field(default_factory=list)
    chunks: list[list[ChunkDescriptor]] = field(default_factory=list)

    def output(self) -> pa.Table:
        """The last phase's parts, concatenated in seq order."""
        tables = []
        for o in sorted(self.outcomes[-1], key=lambda o: o.seq):
            for path in o.parts:
                with pa.OSFile(path, "rb") as f:
                    tables.append(pa.ipc.open_file(f).read_all())
        return pa.concat_tables(tables) if tables else pa.table({})


def run_phases(
    job: JobSpec,
    strategy: StrategySpec,
    input_chunks: list[ChunkDescriptor],
    staging: str,
    *,
    est_input_bytes: int = 0,
    max_phases: int = 20,
) -> Run:
    strat = strategy_for(strategy)
    planned: dict[str, Any] = strat.planned_facts(est_input_bytes)
    worker = Worker()
    run = Run()
    chunks, index, next_seq = list(input_chunks), 0, len(input_chunks)
    while index < max_phases:
        phase = strat.phase(index, planned)
        assert phase is not None, f"strategy has no phase {index}"
        payload: dict[str, Any] = {
            "key": f"{job.name}-phase-{index}",
            "name": job.name,
            "type": job.type,
            "python": job.python,
            "command": list(job.command) if job.command else None,
            "params": job.params,
            "output": {"format": "arrow", "compression": "lz4"},
            "staging_dir": staging,
        }
        payload.update(phase.payload())
        outcomes = []
        for chunk in sorted(chunks, key=lambda c: c.seq):
            assert chunk.phase == index
            msg = {
                "task": f"t{chunk.seq}",
                "job": payload,
                "chunk": chunk.to_dict(),
                "token": 1,
                "attempt": 1,
                "part_name": f"part-{chunk.seq:05d}.attempt-1",
            }
            if phase.serial:  # what the coordinator adds to a serial phase's run message
                msg["state"] = state_for(chunk.seq, outcomes)
            result = worker.run(msg)
            assert result["ok"], result.get("traceback") or result
            parts = (result["part_file"],) if result.get("part_file") else ()
            small = {k: result[k] for k in ("shuffle", "state", "value") if k in result}
            outcomes.append(CommittedChunk(chunk.seq, index, parts, result["rows_out"], small))
        run.phases.append(phase)
        run.chunks.append(chunks)
        run.outcomes.append(outcomes)
        ctx = PlanContext(
            job=job,
            strategy=strategy,
            staging_dir=staging,
            next_seq=next_seq,
            planned=planned,
            input_chunks=input_chunks,
        )
        following = strat.next_chunks(ctx, index, outcomes)
        if following is None:
            return run
        chunks, index, next_seq = following, index + 1, next_seq + len(following)
    raise AssertionError(f"no end after {max_phases} phases")


@contextlib.contextmanager
def slabs_of_size(nbytes: int) -> Iterator[None]:
    """Partition-wise reduce processors called on slabs of ``nbytes`` (the
    in-process worker reads the module constant)."""
    saved = runtime.SLAB_BYTES
    runtime.SLAB_BYTES = nbytes
    try:
        yield
    finally:
        runtime.SLAB_BYTES = saved
