"""``parallel_chunks``: one phase of independent chunks (the behaviour of every job so far)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.strategies.base import CommittedChunk, PhaseSpec, PlanContext, Strategy


class ParallelChunks(Strategy):
    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        return PhaseSpec(index=0, name="chunks", of=1) if index == 0 else None

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        return None
