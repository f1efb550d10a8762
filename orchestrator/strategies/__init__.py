"""Strategies: how a job's plan is cut into phases (one module per strategy).

Where do I add a job type that needs two phases? Here, as a strategy, and
nowhere in the dispatcher.

The model
    A job's plan is a sequence of phases 0..n-1. Every chunk carries its
    ``phase`` (``ChunkDescriptor.phase``, column ``chunks.phase``). Phase 0 is
    planned at submit, as every job always was (``planning/plan.py``). Phase
    k+1 is planned only when every chunk of phase k succeeded, from phase k's
    committed outcomes, by the coordinator that holds the job's settlement
    claim, which appends the chunks with ``Store.add_chunks`` in the same
    transaction that records the new phase: so with several coordinators it is
    planned once, and a crash before that commit just plans it again (planners
    are deterministic and any file they write is rewritten with the same
    bytes). Leases hand out only chunks of the lowest unfinished phase. Only
    the last phase's parts are published; intermediate outputs (shuffle
    directories, Arrow parts of earlier phases) live in the job's staging area
    and go with it at publish or rollback.

The interface (:class:`~orchestrator.strategies.base.Strategy`)
    ``planned_facts(est_input_bytes)`` — decided once at submit, stored with
    the job (``planned.strategy``); ``phase(k, planned)`` — a static
    :class:`~orchestrator.strategies.base.PhaseSpec`: processor, serial or
    not, shuffle write/read, intermediate or published, so phase k can run
    after a crash without re-planning; ``next_chunks(ctx, k, outcomes)`` —
    phase k+1's chunks from phase k's
    :class:`~orchestrator.strategies.base.CommittedChunk` list, or None when
    the job is finished. All pure planning: no store access.

The strategies
    ``parallel_chunks`` (one phase), ``sequential`` (one serial phase that
    carries ``ctx.state`` from chunk to chunk), ``map_reduce`` (map with a
    shuffle by key, then reduce per partition; ``orchestrator/shuffle/``),
    ``hybrid`` (a declared list of the three), ``custom`` (a user planner).

A new two-phase job type (say ``household``) is usually not a new strategy:
it is a reduce processor in ``processors/`` (every row of a key arrives in
one call) plus, if it needs one, a map processor, with the spec implying
``map_reduce`` and its ``partition_by`` from the type's params (see how
``spec/strategy.py`` does it for ``dedupe``). A new strategy is a subclass of
``Strategy`` in a module here, registered in :data:`STRATEGY_CLASSES`, with
tests that drive its phases in-process (``tests/unit/test_strategies.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

from orchestrator.errors import PlanningError
from orchestrator.spec.strategy import StrategySpec
from orchestrator.strategies.base import Strategy

#: strategy name -> (module, class); imported when a job uses it, so a run of
#: parallel_chunks jobs never loads the shuffle (polars, Arrow compute)
STRATEGY_CLASSES: dict[str, tuple[str, str]] = {
    "parallel_chunks": ("orchestrator.strategies.parallel", "ParallelChunks"),
    "sequential": ("orchestrator.strategies.sequential", "Sequential"),
    "map_reduce": ("orchestrator.strategies.map_reduce", "MapReduce"),
    "hybrid": ("orchestrator.strategies.hybrid", "Hybrid"),
    "custom": ("orchestrator.strategies.custom", "Custom"),
    # implied by ``type: identity_match`` (never written in a spec)
    "identity_match": ("orchestrator.strategies.identity_match", "IdentityMatch"),
}


#: Phase labels stored at submit (a custom planner may go on: "phase 31")
MAX_LABELLED_PHASES = 20


def phase_labels(strategy: Strategy, planned: dict[str, Any]) -> list[str]:
    """``phase 2/2 reduce``, ... of the phases known in advance: stored with
    the job at submit, so ``status`` names phases without loading planners."""
    labels: list[str] = []
    for index in range(MAX_LABELLED_PHASES):
        spec = strategy.phase(index, planned)
        if spec is None:
            break
        labels.append(spec.label())
    return labels


def strategy_for(spec: StrategySpec) -> Strategy:
    """The planner of a job's strategy; PlanningError for one this build cannot run."""
    where = STRATEGY_CLASSES.get(spec.type)
    if where is None:
        raise PlanningError(f"strategy {spec.type!r} cannot run in this build")
    cls: type[Strategy] = getattr(importlib.import_module(where[0]), where[1])
    return cls(spec)
