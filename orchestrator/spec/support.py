"""What the spec language names but this build cannot run yet: one list.

The spec language (:mod:`.model`) names every job type and strategy of the
design, so a spec written for a later build reads the same; this module says
which of them this build refuses, at validate time, with file:line and exit 2
and nothing stored, instead of accepting them and failing at run time. When
a job type, strategy or output location lands, its entry here is removed (and
``jobs.example.yaml``/README gain it) — nothing else needs to change.
"""

from __future__ import annotations

import re

from orchestrator.spec.model import JOB_TYPES
from orchestrator.spec.strategy_names import STRATEGIES

#: Built-in job types that have no processor in this build.
NOT_YET_TYPES: frozenset[str] = frozenset({"household", "migrate", "sync"})
#: Strategies whose phases the coordinator does not run yet.
NOT_YET_STRATEGIES: frozenset[str] = frozenset({"streaming"})
#: ``scheme://`` in ``output.path``: the part writer writes local (or shared) folders only.
OUTPUT_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

RUNNABLE_TYPES: tuple[str, ...] = tuple(t for t in JOB_TYPES if t not in NOT_YET_TYPES)
RUNNABLE_STRATEGIES: tuple[str, ...] = tuple(s for s in STRATEGIES if s not in NOT_YET_STRATEGIES)


def type_refusal(job_type: str) -> str | None:
    """Why a known job type cannot run in this build, or None."""
    return _refusal(
        "job type",
        job_type,
        NOT_YET_TYPES,
        RUNNABLE_TYPES,
        "or run your own code with 'python: package.module:function' or 'command: [...]'",
    )


def strategy_refusal(strategy: str) -> str | None:
    """Why a known strategy cannot run in this build, or None."""
    return _refusal(
        "strategy", strategy, NOT_YET_STRATEGIES, RUNNABLE_STRATEGIES, "leave 'strategy' out for it"
    )


def _refusal(
    what: str, value: str, not_yet: frozenset[str], runnable: tuple[str, ...], hint: str
) -> str | None:
    if value not in not_yet:
        return None
    available = ", ".join(runnable)
    return f"{what} '{value}' is not available in this build (available: {available}; {hint})"


def output_path_refusal(raw: str) -> str | None:
    """Why ``output.path`` cannot be written by this build (a URI), or None."""
    match = OUTPUT_URI.match(raw.strip())
    if match is None:
        return None
    return (
        f"output to {match.group(0)} URIs is not available in this build: "
        "output.path must be a local or shared-storage folder"
    )
