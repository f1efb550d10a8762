"""The Fellegi-Sunter model: m and u per level, the prior, EM on pattern counts, weights.

``m[f][l]`` is P(field f at level l | the pair is a match) and ``u[f][l]`` the
same for non-matches, both over the non-null levels (the null level carries no
evidence: weight 0). EM runs on (pattern, count) tables, so its cost is the
number of distinct patterns, not pairs (Splink #1363 asks for exactly this).

Why the prior is corrected: EM on the blocked pairs estimates λ_blocked, the
share of matches among the pairs blocking produced. ``u`` estimated from random
pairs describes *all* pairs, and Bayes with an all-pairs ``u`` needs the
all-pairs prior: expected matches (λ_blocked × blocked pairs, divided by the
blocking recall) over N(N-1)/2 (or N_left × N_right when linking). Scoring
blocked pairs with λ_blocked and a random-pair ``u`` counts the blocking
evidence twice and inflates every match probability.

Which ``u`` where (measured on generated people, 200k records, see
tests/unit/identity/test_matching_pipeline.py): run EM on the blocked pairs with
``u`` *free*, then score with the EM's ``m`` and the random-pair ``u`` under the
corrected prior. Fixing ``u`` to the random-pair values inside EM forces the
blocked non-matches (same surname and birth year by construction of the
blocking) into the match class: disagreement weights shrink to about -1 and
pairwise precision fell to 0.80; with ``u`` free it was 0.985 (F1 0.989).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.matching.comparisons import NULL_LEVEL
from orchestrator.matching.patterns import unpack

SMOOTHING = 1e-9
"""Floor on every m and u so no level has zero probability (weights stay finite)."""


@dataclass
class Model:
    """A trained (or initial) model, JSON-serializable for reuse by a later run."""

    fields: tuple[str, ...]
    radices: tuple[int, ...]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float

    def field_weights(self) -> list[np.ndarray]:
        """log2(m/u) per field and level; 0 for the null level."""
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(np.maximum(m, SMOOTHING) / np.maximum(u, SMOOTHING))
            w[NULL_LEVEL] = 0.0
            out.append(w)
        return out

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def pattern_weights(self, patterns: np.ndarray) -> np.ndarray:
        """Match weight of each pattern code: prior weight plus the fields' weights."""
        levels = unpack(patterns, self.radices)
        total = np.full(len(levels), self.prior_weight)
        for index, weights in enumerate(self.field_weights()):
            total += weights[levels[:, index]]
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "radices": list(self.radices),
            "m": [v.tolist() for v in self.m],
            "u": [v.tolist() for v in self.u],
            "prior": self.prior,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Model:
        return Model(
            fields=tuple(data["fields"]),
            radices=tuple(int(r) for r in data["radices"]),
            m=[np.asarray(v, dtype=np.float64) for v in data["m"]],
            u=[np.asarray(v, dtype=np.float64) for v in data["u"]],
            prior=float(data["prior"]),
        )


def probability(weights: np.ndarray) -> np.ndarray:
    """Match probability of a match weight (log2 odds)."""
    return 1.0 / (1.0 + np.exp2(-np.asarray(weights, dtype=np.float64)))


def _normalized(counts: np.ndarray) -> np.ndarray:
    out = counts.astype(np.float64).copy()
    out[NULL_LEVEL] = 0.0
    out = np.maximum(out, SMOOTHING)
    out[NULL_LEVEL] = 0.0
    return out / out.sum()


def level_distribution(
    levels: np.ndarray, radices: Sequence[int], pseudo: float = 1.0
) -> list[np.ndarray]:
    """Per-field level frequencies over non-null levels, with ``pseudo`` counts added.

    Used for ``u`` from random pairs: nearly every random pair is a non-match, so
    its level frequencies estimate ``u``. The pseudo count keeps a level that no
    sampled pair reached (exact agreement on a rare field) from weighing infinity.
    """
    out = []
    for index, radix in enumerate(radices):
        counts = np.bincount(levels[:, index].astype(np.int64), minlength=radix).astype(np.float64)
        counts[1:] += pseudo
        out.append(_normalized(counts))
    return out


def random_pairs(
    n_left: int, count: int, seed: int, n_right: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random record pairs (i, j): i != j within one dataset, or across two."""
    rng = np.random.default_rng(seed)
    if n_right is not None:
        return rng.integers(0, n_left, count), rng.integers(0, n_right, count)
    if n_left < 2:
        raise ValueError("random pairs need at least two records")
    i = rng.integers(0, n_left, count)
    j = (i + rng.integers(1, n_left, count)) % n_left  # never equal to i
    return i, j


def total_pairs(n_left: int, n_right: int | None = None) -> int:
    """Pairs a matcher could compare: N(N-1)/2 when deduplicating, N_l × N_r when linking."""
    return n_left * n_right if n_right is not None else n_left * (n_left - 1) // 2


def prior_over_all_pairs(
    lambda_blocked: float, blocked_pairs: int, all_pairs: int, blocking_recall: float = 1.0
) -> float:
    """The share of matches among all pairs, from the share among blocked pairs."""
    if all_pairs <= 0 or blocked_pairs <= 0:
        raise ValueError("need at least one blocked pair and one possible pair")
    if not 0.0 < blocking_recall <= 1.0:
        raise ValueError("blocking_recall must be in (0, 1]")
    expected_matches = lambda_blocked * blocked_pairs / blocking_recall
    return float(min(max(expected_matches / all_pairs, SMOOTHING), 1.0 - SMOOTHING))


@dataclass(frozen=True)
class EMResult:
    m: list[np.ndarray]
    u: list[np.ndarray]
    lambda_: float
    iterations: int
    converged: bool


def expectation_maximisation(
    patterns: np.ndarray,
    counts: np.ndarray,
    radices: Sequence[int],
    m: Sequence[np.ndarray],
    u: Sequence[np.ndarray],
    lambda_: float,
    *,
    fix_u: bool = False,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> EMResult:
    """EM for the two-class (match / non-match) model on pattern counts.

    ``m``, ``u`` and ``lambda_`` are the starting point (``u`` stays fixed when
    ``fix_u``, e.g. from random pairs). The null level is left out of both
    classes' likelihoods, as it carries no evidence.
    """
    levels = unpack(np.asarray(patterns), radices)
    weight = np.asarray(counts, dtype=np.float64)
    m_cur = [_normalized(np.asarray(v, dtype=np.float64)) for v in m]
    u_cur = [_normalized(np.asarray(v, dtype=np.float64)) for v in u]
    lam = float(lambda_)
    for iteration in range(1, max_iterations + 1):
        log_m = np.full(len(levels), math.log(lam))
        log_u = np.full(len(levels), math.log1p(-lam))
        for index in range(len(radices)):
            lv = levels[:, index]
            present = lv != NULL_LEVEL
            log_m[present] += np.log(m_cur[index][lv[present]])
            log_u[present] += np.log(u_cur[index][lv[present]])
        posterior = 1.0 / (1.0 + np.exp(np.clip(log_u - log_m, -700, 700)))
        w_match, w_non = weight * posterior, weight * (1.0 - posterior)
        m_new = [
            _normalized(np.bincount(levels[:, f], weights=w_match, minlength=r))
            for f, r in enumerate(radices)
        ]
        u_new = (
            u_cur
            if fix_u
            else [
                _normalized(np.bincount(levels[:, f], weights=w_non, minlength=r))
                for f, r in enumerate(radices)
            ]
        )
        lam_new = float(min(max(w_match.sum() / weight.sum(), SMOOTHING), 1.0 - SMOOTHING))
        change = max(
            abs(lam_new - lam),
            max(float(np.abs(a - b).max()) for a, b in zip(m_new, m_cur, strict=True)),
            max(float(np.abs(a - b).max()) for a, b in zip(u_new, u_cur, strict=True)),
        )
        m_cur, u_cur, lam = m_new, u_new, lam_new
        if change < tolerance:
            return EMResult(m_cur, u_cur, lam, iteration, True)
    return EMResult(m_cur, u_cur, lam, max_iterations, False)


def initial_m(radices: Sequence[int]) -> list[np.ndarray]:
    """A neutral start for ``m``: matches mostly agree exactly (top level)."""
    out = []
    for radix in radices:
        values = np.geomspace(1.0, 8.0, radix - 1)
        out.append(_normalized(np.r_[0.0, values]))
    return out
