"""How many true matches the blocking rules let through, estimated without labels.

A pair is compared only when some rule's key agrees on it, so a match that no
rule catches is never seen, and neither EM nor the threshold can count it.
The estimate treats the rules as independent captures of the matches
(capture-recapture, as Lincoln-Petersen counts animals from two catches): the
recall of rule *r* is the share, among the expected matches that some *other*
rule caught, of those *r* catches too; the share no rule catches is then the
product of ``1 - recall`` over the rules. The matches are what the trained
model links: each compared pair counts with the weight the caller gives it
(train.py: 1 when its match weight clears the threshold). Rules that catch
the same kind of pair together (two rules on the same field) are not
independent, which makes the estimate optimistic; one rule alone cannot be
estimated this way (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: expected matches another rule must have caught for a rule's recall to be estimated
MIN_EXPECTED = 1.0


def rule_masks(codes: Sequence[np.ndarray], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each pair (``left[i]``, ``right[i]``), the bit mask of the rules whose
    key agrees on it (``codes[r]``: each record's key code under rule r, -1 null)."""
    mask = np.zeros(len(left), np.int64)
    for rule, key in enumerate(codes):
        a, b = key[left], key[right]
        mask |= ((a == b) & (a >= 0)).astype(np.int64) << rule
    return mask


def estimate_recall(
    probabilities: np.ndarray, masks: np.ndarray, counts: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """The estimate (see the module docstring) from compared pairs grouped by
    (match probability, rule mask) with their ``counts``."""
    expected = probabilities * counts
    by_rule: dict[str, float | None] = {}
    for rule, label in enumerate(labels):
        bit = np.int64(1) << rule
        others = (masks & ~bit) != 0
        caught = float(expected[others].sum())
        by_rule[label] = (
            float(expected[others & ((masks & bit) != 0)].sum() / caught)
            if caught >= MIN_EXPECTED
            else None
        )
    known = [r for r in by_rule.values() if r is not None]
    estimated = None
    if len(labels) > 1 and len(known) == len(labels):
        estimated = float(1.0 - np.prod([1.0 - r for r in known]))
    return {
        "estimated": estimated,
        "by_rule": by_rule,
        "expected_matches_compared": float(expected.sum()),
        "method": "capture-recapture across rules taken as independent (optimistic when "
        "rules overlap)",
    }
