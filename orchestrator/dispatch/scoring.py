"""Which slot gets the next chunk: hard filters, then a weighted score of the host figures.

A pure function of what the hosts last reported, like ``retry.py``: no I/O,
no clock, so it is tested with plain values; ``placement.py`` decides when to
call it (figures cached, the queue length first, the score breaking ties).
Hard filters first — pool, required labels, host state, free memory for the
chunk — then::

    score = (1-cpu)*0.3 + (1-mem)*0.3 + (1-load)*0.25
            + capability_match*0.1 + recent_success_rate*0.05

cpu, mem and load are fractions in 0..1 from the workers' heartbeats.
``capability_match`` is the share of the job's preferred labels the host has
(1 when it prefers none). A figure not reported yet counts as half (a host
that never sent a heartbeat is neither favoured nor shunned); a host with no
history yet has a success rate of 1, so new hosts get tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: the weights of decision 7 (they sum to 1, so a score is in 0..1)
WEIGHTS: dict[str, float] = {
    "cpu": 0.3,
    "mem": 0.3,
    "load": 0.25,
    "capability": 0.1,
    "success": 0.05,
}
#: a figure a host has not reported yet
UNKNOWN_FIGURE = 0.5
#: host states in which a slot may take new chunks
USABLE_STATES: frozenset[str] = frozenset({"online"})


@dataclass(frozen=True)
class Candidate:
    """A slot (or host) as the scorer sees it."""

    name: str
    pool: str = "default"
    labels: frozenset[str] = frozenset()
    state: str = "online"
    cpu: float | None = None
    mem: float | None = None
    load: float | None = None
    free_memory: int | None = None  # bytes; None = not reported
    success_rate: float | None = None


@dataclass(frozen=True)
class Requirements:
    """What a chunk needs (hard) and prefers (scored)."""

    pool: str | None = None  # None: any pool
    labels: frozenset[str] = frozenset()  # every one required
    preferred_labels: frozenset[str] = frozenset()
    memory: int | None = None  # bytes the chunk needs


def rejection(candidate: Candidate, needs: Requirements) -> str | None:
    """Why a candidate cannot take the chunk (a hard filter), or None."""
    if needs.pool is not None and candidate.pool != needs.pool:
        return f"pool {candidate.pool}, not {needs.pool}"
    missing = needs.labels - candidate.labels
    if missing:
        return f"lacks label(s) {', '.join(sorted(missing))}"
    if candidate.state not in USABLE_STATES:
        return f"host is {candidate.state}"
    free, wanted = candidate.free_memory, needs.memory
    if wanted is not None and free is not None and free < wanted:
        return f"{free} bytes free, the chunk needs {wanted}"
    return None


def _fraction(value: float | None) -> float:
    if value is None:
        return UNKNOWN_FIGURE
    return min(1.0, max(0.0, value))


def score(candidate: Candidate, needs: Requirements = Requirements()) -> float:
    """The decision-7 score, in 0..1 (higher is better); filters are not applied."""
    if needs.preferred_labels:
        matched = len(needs.preferred_labels & candidate.labels)
        capability = matched / len(needs.preferred_labels)
    else:
        capability = 1.0
    success = 1.0 if candidate.success_rate is None else _fraction(candidate.success_rate)
    return (
        (1 - _fraction(candidate.cpu)) * WEIGHTS["cpu"]
        + (1 - _fraction(candidate.mem)) * WEIGHTS["mem"]
        + (1 - _fraction(candidate.load)) * WEIGHTS["load"]
        + capability * WEIGHTS["capability"]
        + success * WEIGHTS["success"]
    )


def rank(
    candidates: Iterable[Candidate], needs: Requirements = Requirements()
) -> list[tuple[Candidate, float]]:
    """Candidates that pass the filters, best first (ties by name, so stable)."""
    scored = [(c, score(c, needs)) for c in candidates if rejection(c, needs) is None]
    scored.sort(key=lambda item: (-item[1], item[0].name))
    return scored


def choose(
    candidates: Sequence[Candidate], needs: Requirements = Requirements()
) -> Candidate | None:
    """The best candidate, or None when every one is filtered out."""
    ranked = rank(candidates, needs)
    return ranked[0][0] if ranked else None
