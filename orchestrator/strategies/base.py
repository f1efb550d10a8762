"""The planner interface every strategy implements, and the data it sees.

A strategy is pure planning: given the job's spec, the index of the phase
that just succeeded entirely and that phase's committed outcomes, it returns
the next phase's chunks, or None when the job is finished. It never touches
the store; the coordinator that holds the job's settlement claim calls it
with what the store returns and appends the chunks (``Store.add_chunks``)
in the same transaction that records the phase change. Planning may write
files into the job's staging area (the shuffle manifest), always the same
bytes for the same outcomes, so a planner that crashed and runs again is
harmless.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.errors import PlanningError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import JobSpec
from orchestrator.spec.strategy import ProcessorRef, StrategySpec

#: Format of parts that a later phase reads and nobody publishes.
INTERMEDIATE_FORMAT = ("arrow", "lz4")


@dataclass(frozen=True)
class CommittedChunk:
    """A committed chunk, as the next phase's planner sees it.

    ``parts``: the committed part file(s), or a map attempt's shuffle
    directory. ``result``: the small per-chunk result the worker reported
    (``shuffle``: the map output index; ``state``: a sequential chunk's
    carried state; ``value``: what a processor set with ``ctx.result``).
    """

    seq: int
    phase: int
    parts: tuple[str, ...]
    rows_out: int
    result: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseSpec:
    """What the coordinator and workers need to run one phase's chunks.

    Static: derived from the spec and the planned facts alone, so after a
    crash the coordinator knows how to run phase k without re-planning it.
    """

    index: int
    name: str  # for status: "phase 2/2 reduce"
    #: None: the job's own processor
    processor: ProcessorRef | None = None
    #: one chunk at a time in seq order, each given its predecessor's state
    serial: bool = False
    #: map side: hash-partition the output by these keys instead of writing a part
    shuffle: Mapping[str, Any] | None = None
    #: read only the input columns of these names (case-insensitive; None: all)
    columns: tuple[str, ...] | None = None
    #: reduce side: sort each partition by these columns
    sort_by: tuple[str, ...] = ()
    #: reduce side: the most Arrow bytes a reduce chunk may hold (None: default)
    max_bytes: int | None = None
    #: parts read by a later phase only: Arrow IPC lz4 in staging, never published
    intermediate: bool = False
    #: phases of the job when known in advance (None: a custom planner decides)
    of: int | None = None

    def payload(self) -> dict[str, Any]:
        """Keys this phase adds to (or replaces in) the job payload sent to workers."""
        extra: dict[str, Any] = {"phase": self.index}
        if self.processor is not None:
            extra.update(self.processor.payload())
        if self.shuffle is not None:
            extra["shuffle_write"] = dict(self.shuffle)
        if self.columns is not None:
            extra["read_columns"] = list(self.columns)
        read: dict[str, Any] = {}
        if self.sort_by:
            read["sort_by"] = list(self.sort_by)
        if self.max_bytes is not None:
            read["max_bytes"] = self.max_bytes
        if read:
            extra["shuffle_read"] = read
        if self.intermediate:
            extra["output"] = {
                "format": INTERMEDIATE_FORMAT[0],
                "compression": INTERMEDIATE_FORMAT[1],
            }
        return extra

    def label(self) -> str:
        total = f"/{self.of}" if self.of else ""
        return f"phase {self.index + 1}{total} {self.name}"


@dataclass(frozen=True)
class PlanContext:
    """Everything a planner may read besides the outcomes."""

    job: JobSpec
    strategy: StrategySpec
    staging_dir: str
    #: the first unused chunk seq (parts are named by seq: unique in the job)
    next_seq: int
    #: facts fixed at submit (:meth:`Strategy.planned_facts`), stored with the job
    planned: Mapping[str, Any] = field(default_factory=dict)
    #: phase 0's chunks (the job's input), for planners that re-read the input
    input_chunks: Sequence[ChunkDescriptor] = ()
    #: folders a user planner is imported from (the spec's folder)
    python_path: Sequence[str] = ()


class Strategy(ABC):
    """One way of cutting a job into phases (see the package docstring)."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec

    def planned_facts(self, est_input_bytes: int) -> dict[str, Any]:
        """Facts decided once at submit and stored under ``planned.strategy``
        (the map_reduce partition count): a resumed job must not re-derive
        them from files that may have been re-fingerprinted."""
        return {}

    @abstractmethod
    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        """How phase ``index`` runs; None when the strategy has no such phase."""

    @abstractmethod
    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        """The chunks of phase ``done + 1`` from phase ``done``'s outcomes (all
        succeeded), numbered from ``ctx.next_seq``; None: the job is finished
        and phase ``done``'s parts are the output. An empty list is a phase
        with nothing to do (the coordinator plans the one after it at once)."""


def chunks_from_parts(
    outcomes: Sequence[CommittedChunk], next_seq: int, phase: int
) -> list[ChunkDescriptor]:
    """One chunk per committed part (Arrow or Parquet), in seq order: how a
    phase reads the previous phase's output. Reads only the parts' footers."""
    chunks: list[ChunkDescriptor] = []
    for outcome in sorted(outcomes, key=lambda o: o.seq):
        for path in outcome.parts:
            chunk = _part_chunk(path, next_seq + len(chunks), phase, outcome.rows_out)
            if chunk is not None:
                chunks.append(chunk)
    return chunks


def _part_chunk(path: str, seq: int, phase: int, rows: int) -> ChunkDescriptor | None:
    """A chunk over a whole Arrow or Parquet part (None: it has no rows)."""
    if path.endswith(".parquet"):
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows == 0:
            return None
        groups = tuple(range(meta.num_row_groups))
        return ChunkDescriptor(
            seq, "parquet", path, 0, meta.num_rows, meta.num_rows, groups, phase=phase
        )
    if path.endswith(".arrow"):
        with pa.OSFile(path, "rb") as f:
            batches = pa.ipc.open_file(f).num_record_batches
        if batches == 0:
            return None
        return ChunkDescriptor(seq, "arrow", path, 0, batches, rows, phase=phase)
    raise PlanningError(f"{path}: a later phase reads only Arrow or Parquet parts")


def renumber(chunks: Sequence[ChunkDescriptor], next_seq: int, phase: int) -> list[ChunkDescriptor]:
    """``chunks`` with seqs from ``next_seq`` and ``phase`` set (user planners)."""
    return [
        ChunkDescriptor.from_dict({**c.to_dict(), "seq": next_seq + i, "phase": phase})
        for i, c in enumerate(chunks)
    ]
