"""``map_reduce``: a map phase that shuffles by key, then one reduce chunk per partition range.

Phase 0 (map): one chunk per input chunk, as planned at submit; each runs
the optional ``map`` processor and hash-partitions its rows by
``partition_by`` into ``partitions`` (planned once at submit,
:meth:`MapReduce.planned_facts`) in its fenced attempt directory.

Phase 1 (reduce): planned from the committed map outcomes — one manifest
file naming every committed attempt directory, then one chunk per reduce
range (small partitions coalesced, big ones split by sub-hash;
:func:`~orchestrator.shuffle.manifest.plan_reduce_ranges`). Each runs the
job's processor (``type: dedupe``, ``python: ...``) on every row of its keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.errors import PlanningError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.shuffle.manifest import (
    build_manifest,
    choose_partitions,
    max_partition_bytes,
    plan_reduce_ranges,
    write_manifest,
)
from orchestrator.shuffle.runtime import reduce_descriptor
from orchestrator.shuffle.spill import MapOutput, read_index
from orchestrator.spec.strategy import ProcessorRef, StrategySpec
from orchestrator.strategies.base import CommittedChunk, PhaseSpec, PlanContext, Strategy

#: The map step of a job that names none.
IDENTITY_MAP = ProcessorRef(python="orchestrator.shuffle.runtime:identity")


class MapReduce(Strategy):
    """``reduce`` is the reduce step's processor; None: the job's own."""

    def __init__(self, spec: StrategySpec, reduce: ProcessorRef | None = None) -> None:
        super().__init__(spec)
        self.reduce = reduce
        if not spec.partition_by:
            raise PlanningError("map_reduce needs partition_by")

    def planned_facts(self, est_input_bytes: int) -> dict[str, Any]:
        partitions = self.spec.partitions or choose_partitions(
            est_input_bytes, self.spec.partition_size
        )
        facts: dict[str, Any] = {"partitions": partitions}
        if self.spec.memory_budget:  # the reduce is split to fit it, or refused naming the key
            facts["memory_budget"] = self.spec.memory_budget
        return facts

    def partitions(self, planned: Mapping[str, Any]) -> int:
        value = planned.get("partitions") or self.spec.partitions
        if not value:
            raise PlanningError("map_reduce job has no planned partition count")
        return int(value)

    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        if index == 0:
            shuffle = {
                "keys": list(self.spec.partition_by),
                "normalize": list(self.spec.normalize),
                "partitions": self.partitions(planned),
            }
            return PhaseSpec(
                index=0,
                name="map",
                processor=self.spec.map or IDENTITY_MAP,
                shuffle=shuffle,
                columns=self.spec.map_columns,
                of=2,
            )
        if index == 1:
            budget = planned.get("memory_budget")
            return PhaseSpec(
                index=1,
                name="reduce",
                processor=self.reduce,
                sort_by=self.spec.sort_by,
                max_bytes=max_partition_bytes(int(budget)) if budget else None,
                of=2,
            )
        return None

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        if done != 0:
            return None
        maps: list[MapOutput] = []
        for outcome in sorted(outcomes, key=lambda o: o.seq):
            maps.append(_map_output(outcome))
        try:
            manifest = build_manifest(
                self.spec.partition_by, self.spec.normalize, self.partitions(ctx.planned), maps
            )
        except ValueError as exc:
            raise PlanningError(str(exc)) from None
        path = write_manifest(ctx.staging_dir, ctx.next_seq, manifest)
        ranges = plan_reduce_ranges(
            manifest, self.spec.partition_size, max_partition_bytes(_budget(ctx))
        )
        return [
            reduce_descriptor(ctx.next_seq + i, done + 1, path, rng) for i, rng in enumerate(ranges)
        ]


def _map_output(outcome: CommittedChunk) -> MapOutput:
    """A map chunk's committed shuffle index: from its result if the store kept
    it, else from ``index.json`` in its committed attempt directory."""
    index = outcome.result.get("shuffle")
    if index:
        return MapOutput.from_dict(dict(index))
    if len(outcome.parts) != 1:
        raise PlanningError(f"map chunk {outcome.seq} committed no shuffle output")
    try:
        return read_index(outcome.parts[0])
    except (OSError, ValueError, KeyError) as exc:
        raise PlanningError(
            f"map chunk {outcome.seq}: cannot read its shuffle index in {outcome.parts[0]}: {exc}"
        ) from None


def _budget(ctx: PlanContext) -> int:
    """The worker memory budget the reduce is planned for (planned facts may set it)."""
    from orchestrator.shuffle.manifest import WORKER_MEMORY_BUDGET

    return int(ctx.planned.get("memory_budget") or WORKER_MEMORY_BUDGET)


def estimate_arrow_bytes(sizes_by_format: Sequence[tuple[str, int]]) -> int:
    """Arrow bytes of the input from (format, file size) pairs (planned facts at submit)."""
    from orchestrator.shuffle.manifest import INPUT_EXPANSION

    return sum(math.ceil(size * INPUT_EXPANSION.get(fmt, 1.0)) for fmt, size in sizes_by_format)
