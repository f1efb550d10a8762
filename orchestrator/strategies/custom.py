"""``custom``: user code plans every phase after the first (``planner: pkg.mod:name``).

The protocol. After phase *k* succeeded entirely, the coordinator holding the
job's settlement claim calls the planner once with a :class:`PlannerInput`::

    def plan(inp: PlannerInput) -> list[ChunkDescriptor | dict] | None:
        ...

``inp.phase`` is *k*; ``inp.outcomes`` are phase *k*'s committed chunks (part
paths, ``rows_out``, and ``result["value"]``: whatever the processor set as
``ctx.result``, small JSON); ``inp.input_chunks`` are phase 0's chunks (the
job's input); ``inp.params`` the job's params; ``inp.staging_dir`` the job's
staging area, where the planner may write files the next phase reads (the
processor sees it as ``ctx.staging_dir``). Return the chunks of phase
*k+1* — ``inp.chunks_from_parts()`` makes one per part of phase *k*, and any
descriptor of the input kinds (``parquet``, ``csv``, ``arrow``, ``sequence``)
is fine; seq and phase are renumbered by jobctl — or None to finish: phase
*k*'s parts are then the job's output.

The planner must be deterministic in its input (it may run again after a
coordinator crash before its chunks were stored) and quick (it runs in the
coordinator). Every phase runs the job's processor, which reads
``ctx.chunk.phase`` to know its iteration. A job that has not finished after
``max_phases`` phases fails with a planning error instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from orchestrator.errors import PlanningError, ProcessorError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import JobSpec
from orchestrator.strategies.base import (
    CommittedChunk,
    PhaseSpec,
    PlanContext,
    Strategy,
    chunks_from_parts,
    renumber,
)


@dataclass(frozen=True)
class PlannerInput:
    """What a custom planner sees (see the module docstring)."""

    job: JobSpec
    phase: int
    outcomes: Sequence[CommittedChunk]
    input_chunks: Sequence[ChunkDescriptor]
    params: Mapping[str, Any] = field(default_factory=dict)
    #: the job's staging area: where a planner may leave files its next phase
    #: reads (removed at publish or rollback; the processor sees it as
    #: ``ctx.staging_dir``)
    staging_dir: str = ""

    def parts(self) -> list[str]:
        return [p for o in sorted(self.outcomes, key=lambda o: o.seq) for p in o.parts]

    def values(self) -> list[Any]:
        """Each chunk's ``ctx.result`` value, in seq order."""
        return [o.result.get("value") for o in sorted(self.outcomes, key=lambda o: o.seq)]

    def chunks_from_parts(self) -> list[ChunkDescriptor]:
        return chunks_from_parts(self.outcomes, 0, self.phase + 1)


Planner = Callable[[PlannerInput], "Sequence[ChunkDescriptor | Mapping[str, Any]] | None"]


def load_planner(ref: str, search_path: Sequence[str] = ()) -> Planner:
    """Import the planner ``package.module:function`` (the processors' loader)."""
    from orchestrator.processors.python_callable import load_callable

    try:
        planner: Any = load_callable(ref, search_path)
    except ProcessorError as exc:
        raise PlanningError(f"planner: {exc}") from None
    return cast(Planner, planner)


class Custom(Strategy):
    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        if not 0 <= index < self.spec.max_phases:
            return None
        return PhaseSpec(index=index, name=f"iteration {index + 1}")

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        assert self.spec.planner is not None
        planner = load_planner(self.spec.planner, ctx.python_path)
        inp = PlannerInput(
            ctx.job, done, outcomes, ctx.input_chunks, ctx.job.params, ctx.staging_dir
        )
        try:
            planned = planner(inp)
        except Exception as exc:
            raise PlanningError(
                f"planner {self.spec.planner} failed after phase {done + 1}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if planned is None:
            return None
        if done + 1 >= self.spec.max_phases:
            raise PlanningError(
                f"planner {self.spec.planner} did not finish within max_phases "
                f"{self.spec.max_phases}"
            )
        chunks = [
            c if isinstance(c, ChunkDescriptor) else ChunkDescriptor.from_dict(dict(c))
            for c in planned
        ]
        return renumber(chunks, ctx.next_seq, done + 1)
