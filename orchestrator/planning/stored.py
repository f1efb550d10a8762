"""The spec as a job stores it: the user's spec plus what planning found out.

Planned facts (the CSV schema inferred once for every chunk) travel with the
job under ``planned``; they are not part of the spec hash. Kept apart from
``plan.py`` so that submitting a job that is planned later (it has upstream
jobs) does not import pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.planning.plan import Plan
    from orchestrator.spec.model import JobSpec

#: ``planned`` key of a job whose planning waits for its upstream jobs
DEFERRED = "deferred"


def stored_spec(job: JobSpec, plan: Plan) -> dict[str, Any]:
    """The spec to store for a planned job."""
    stored = job.to_dict()
    planned: dict[str, Any] = {}
    if plan.csv_schema is not None:
        from orchestrator.planning.schema import encode_schema

        planned["csv_schema"] = encode_schema(plan.csv_schema)
    if job.strategy != "parallel_chunks":  # facts fixed once (the partition count)
        from orchestrator.strategies import phase_labels, strategy_for
        from orchestrator.strategies.map_reduce import estimate_arrow_bytes

        est = estimate_arrow_bytes([(f.format, f.size) for f in plan.inputs])
        strategy = strategy_for(job.strategy_spec())
        planned["strategy"] = strategy.planned_facts(est)
        planned["phase_labels"] = phase_labels(strategy, planned["strategy"])
    if planned:
        stored["planned"] = planned
    return stored


def deferred_spec(job: JobSpec) -> dict[str, Any]:
    """The spec to store for a job planned only when it starts."""
    stored = job.to_dict()
    stored["planned"] = {DEFERRED: True}
    return stored


def is_deferred(spec: dict[str, Any]) -> bool:
    """Whether a stored spec belongs to a job not planned yet."""
    return bool((spec.get("planned") or {}).get(DEFERRED))
