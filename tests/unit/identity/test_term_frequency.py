"""Term-frequency adjustments: rare agreement weighs more, counts add up across chunks."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from orchestrator.matching.model import random_pairs
from orchestrator.matching.term_frequency import (
    merge_value_counts,
    tf_adjustments,
    u_exact_from_counts,
    value_counts,
)


def test_counts_merge_across_chunks_like_counting_the_whole() -> None:
    values = ["smith"] * 50 + ["lee"] * 30 + ["zelwick"] * 2 + [None] * 5
    whole = value_counts(pa.array(values))
    parts = merge_value_counts(
        [value_counts(pa.array(values[:40])), value_counts(pa.array(values[40:]))]
    )
    assert dict(zip(*parts.to_pydict().values(), strict=True)) == {
        "smith": 50,
        "lee": 30,
        "zelwick": 2,
    }
    assert parts.sort_by("value").equals(whole.sort_by("value"))
    assert merge_value_counts([]).num_rows == 0


def test_adjustment_is_log_of_u_over_tf() -> None:
    counts = value_counts(pa.array(["smith"] * 50 + ["lee"] * 30 + ["zelwick"] * 20))
    u = u_exact_from_counts(counts)
    assert u == pytest.approx(0.5**2 + 0.3**2 + 0.2**2)
    got = tf_adjustments(
        pa.array(["smith", "zelwick", "lee", "unseen", "smith"]),
        counts,
        u,
        np.array([True, True, True, True, False]),
    )
    expected = [
        math.log2(u / 0.5),
        math.log2(u / 0.2),
        math.log2(u / 0.3),
        math.log2(u / 0.01),
        0.0,
    ]
    assert got.tolist() == pytest.approx(expected)
    assert got[0] < 0 < got[1]  # common value: weaker than average; rare: stronger


def test_u_exact_equals_the_agreement_rate_of_random_pairs() -> None:
    rng = np.random.default_rng(3)
    values = rng.choice(["a", "b", "c", "d"], 20_000, p=[0.4, 0.3, 0.2, 0.1])
    i, j = random_pairs(len(values), 200_000, seed=5)
    observed = float((values[i] == values[j]).mean())
    assert u_exact_from_counts(value_counts(pa.array(values))) == pytest.approx(observed, abs=0.005)
