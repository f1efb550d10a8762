"""``threshold: auto``: pick the match-weight cut-off without labels.

The model's own posteriors say how many matches it expects among the pairs at
each weight. Sorting the distinct patterns by weight, cutting at weight w gives
expected true positives Σ count·p over patterns at or above w, expected false
positives Σ count·(1-p) there, and expected false negatives Σ count·p below.
The automatic threshold is the cut that maximizes the expected pairwise F1; it
costs one sort of the (few hundred) patterns. Its quality rests on the model's
calibration, which is why the prior correction matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.matching.model import probability


@dataclass(frozen=True)
class AutoThreshold:
    weight: float
    probability: float
    expected_precision: float
    expected_recall: float
    expected_f1: float


def expected_f1_threshold(weights: np.ndarray, counts: np.ndarray) -> AutoThreshold:
    """The weight cut maximizing expected F1 over patterns (``weights``) with pair ``counts``."""
    weights = np.asarray(weights, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if weights.size == 0:
        raise ValueError("no patterns to choose a threshold from")
    order = np.argsort(-weights, kind="stable")
    w, c = weights[order], counts[order]
    p = probability(w)
    tp = np.cumsum(c * p)
    fp = np.cumsum(c * (1.0 - p))
    fn = tp[-1] - tp
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)
    # equal weights must fall on the same side: only cut after the last of a run
    last_of_run = np.r_[w[1:] != w[:-1], True]
    f1 = np.where(last_of_run, f1, -1.0)
    best = int(np.argmax(f1))
    precision = tp[best] / (tp[best] + fp[best]) if tp[best] + fp[best] else 1.0
    recall = tp[best] / tp[-1] if tp[-1] else 1.0
    return AutoThreshold(
        float(w[best]), float(p[best]), float(precision), float(recall), float(f1[best])
    )
