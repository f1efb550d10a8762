"""``hybrid``: a declared list of phases, each with its own strategy and processor.

Phase indexes are global: a ``map_reduce`` entry takes two (map, reduce), a
``parallel_chunks`` or ``sequential`` entry one. The first entry reads the
job's input; every later entry reads the previous entry's committed parts
(one ``arrow`` chunk per part, :func:`~orchestrator.strategies.base.chunks_from_parts`).
Every phase but the last writes intermediate parts (Arrow IPC, lz4) that are
never published; the last writes the job's output format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.errors import PlanningError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.strategy import StrategySpec
from orchestrator.strategies.base import (
    CommittedChunk,
    PhaseSpec,
    PlanContext,
    Strategy,
    chunks_from_parts,
    renumber,
)
from orchestrator.strategies.map_reduce import MapReduce
from orchestrator.strategies.parallel import ParallelChunks
from orchestrator.strategies.sequential import Sequential

#: Phases each entry type contributes.
_PHASES = {"parallel_chunks": 1, "sequential": 1, "map_reduce": 2}


class Hybrid(Strategy):
    def __init__(self, spec: StrategySpec) -> None:
        super().__init__(spec)
        if not spec.phases:
            raise PlanningError("hybrid needs phases")
        self.entries: list[tuple[StrategySpec, Strategy, int]] = []  # (entry, strategy, first)
        first = 0
        for entry in spec.phases:
            if entry.type not in _PHASES:
                raise PlanningError(
                    f"hybrid phase {entry.name!r}: strategy {entry.type} cannot be a phase"
                )
            inner: Strategy
            if entry.type == "map_reduce":
                inner = MapReduce(entry, reduce=entry.processor)
            elif entry.type == "sequential":
                inner = Sequential(entry)
            else:
                inner = ParallelChunks(entry)
            self.entries.append((entry, inner, first))
            first += _PHASES[entry.type]
        self.total = first

    def _locate(self, index: int) -> tuple[int, int]:
        for i, (entry, _inner, first) in enumerate(self.entries):
            if first <= index < first + _PHASES[entry.type]:
                return i, index - first
        raise IndexError(index)

    def planned_facts(self, est_input_bytes: int) -> dict[str, Any]:
        """Each entry's facts (estimated from the job's input size: later entries
        read what earlier ones made, which is not known at submit)."""
        return {"phases": [inner.planned_facts(est_input_bytes) for _, inner, _ in self.entries]}

    def _planned(self, planned: Mapping[str, Any], i: int) -> Mapping[str, Any]:
        phases = planned.get("phases") or []
        return {**planned, **(phases[i] if i < len(phases) else {})}

    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        if not 0 <= index < self.total:
            return None
        i, local = self._locate(index)
        entry, inner, _ = self.entries[i]
        spec = inner.phase(local, self._planned(planned, i))
        assert spec is not None
        return dataclasses.replace(
            spec,
            index=index,
            name=f"{entry.name} {spec.name}" if _PHASES[entry.type] > 1 else str(entry.name),
            processor=spec.processor if entry.type == "map_reduce" else entry.processor,
            intermediate=index < self.total - 1 and spec.shuffle is None,
            of=self.total,
        )

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        i, local = self._locate(done)
        _entry, inner, _ = self.entries[i]
        inner_ctx = dataclasses.replace(ctx, planned=self._planned(ctx.planned, i))
        chunks = inner.next_chunks(inner_ctx, local, outcomes)
        if chunks is not None:
            return renumber(chunks, ctx.next_seq, done + 1)
        if i + 1 == len(self.entries):
            return None
        return chunks_from_parts(outcomes, ctx.next_seq, done + 1)
