"""The label-free estimate of blocking recall (matching/blocking_recall.py):
exact on independent rules, None where it cannot be made, and masks that say
which rules' keys agree on a pair."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.matching.blocking_recall import estimate_recall, rule_masks


def test_independent_rules_give_their_recalls_and_the_share_caught() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    caught_a = rng.random(n) < 0.8
    caught_b = rng.random(n) < 0.5
    caught_c = rng.random(n) < 0.3
    masks = caught_a.astype(np.int64) | caught_b << 1 | caught_c << 2
    compared = masks != 0  # a match no rule catches is never compared
    masks = masks[compared]
    # non-matches compared too, with probability 0: they count for nothing
    masks = np.r_[masks, np.full(5000, 1)]
    probabilities = np.r_[np.ones(compared.sum()), np.zeros(5000)]
    got = estimate_recall(probabilities, masks, np.ones(len(masks)), ["a", "b", "c"])
    assert got["by_rule"] == pytest.approx({"a": 0.8, "b": 0.5, "c": 0.3}, abs=0.01)
    assert got["estimated"] == pytest.approx(1 - 0.2 * 0.5 * 0.7, abs=0.01)
    assert got["estimated"] == pytest.approx(compared.mean(), abs=0.01)


def test_one_rule_alone_cannot_be_estimated() -> None:
    got = estimate_recall(np.ones(3), np.ones(3, np.int64), np.ones(3), ["email"])
    assert got["estimated"] is None and got["by_rule"] == {"email": None}


def test_masks_have_a_bit_per_rule_whose_key_agrees_and_none_for_null_keys() -> None:
    email = np.array([0, 0, 1, -1, -1])
    phone = np.array([5, 6, 6, -1, 7])
    left, right = np.array([0, 1, 3]), np.array([1, 2, 4])
    assert rule_masks([email, phone], left, right).tolist() == [0b01, 0b10, 0b00]
