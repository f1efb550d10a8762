"""Fellegi-Sunter core: levels, pattern packing, EM recovering known m/u, weights, prior."""

from __future__ import annotations

import datetime as dt
import math

import jellyfish
import numpy as np
import pyarrow as pa
import pytest

from orchestrator.matching.comparisons import Comparison, ComparisonError, compare_fields
from orchestrator.matching.model import (
    Model,
    expectation_maximisation,
    initial_m,
    level_distribution,
    prior_over_all_pairs,
    probability,
    random_pairs,
    total_pairs,
)
from orchestrator.matching.patterns import count_patterns, merge_counts, pack, unpack


def levels(kind: str, left: list[object], right: list[object], *thresholds: float) -> list[int]:
    return Comparison(kind, tuple(thresholds)).levels(pa.array(left), pa.array(right)).tolist()


def test_string_levels_against_per_pair_reference() -> None:
    left = ["martha", "dwayne", "dixon", "smith", None, "ann", "kelly"]
    right = ["marhta", "duane", "dicksonx", "smith", "x", None, "kelyl"]
    got = levels("jaro_winkler", left, right, 0.88, 0.94)
    expected = []
    for a, b in zip(left, right, strict=True):
        if a is None or b is None:
            expected.append(0)
        elif a == b:
            expected.append(4)
        else:
            score = jellyfish.jaro_winkler_similarity(a, b)
            expected.append(3 if score >= 0.94 else 2 if score >= 0.88 else 1)
    assert got == expected
    assert levels("damerau_levenshtein", ["kelly", "kelly", "abc"], ["kelyl", "kaly", "xyz"]) == [
        3,
        2,
        1,
    ]
    assert levels("levenshtein", ["kelly"], ["kelyl"]) == [2]  # a transposition costs 2
    # the same words in another order: token_set 100, one below exact equality
    addresses = ["12 main street unit 4", "1 elm road", "5 oak lane"]
    others = ["main street 12 unit 4", "9 oak lane", "5 oak lane"]
    assert levels("token_set", addresses, others) == [3, 1, 4]


def test_exact_date_and_numeric_levels() -> None:
    assert levels("exact", ["a", "a", None, "b"], ["a", "b", "a", None]) == [2, 1, 0, 0]
    d = dt.date
    left = [d(1980, 5, 17), d(1980, 5, 17), d(1980, 5, 17), d(1980, 5, 17), d(1980, 5, 17), None]
    right = [
        d(1980, 5, 17),
        d(1980, 5, 18),
        d(1980, 6, 10),
        d(1981, 1, 1),
        d(1990, 1, 1),
        d(1, 1, 1),
    ]
    assert levels("date", left, right) == [5, 4, 3, 2, 1, 0]
    assert levels("numeric", [10.0, 10.0, 10.0], [10.5, 15.0, 30.0]) == [3, 2, 1]


def test_comparison_errors() -> None:
    with pytest.raises(ComparisonError, match="unknown comparison 'jw'"):
        Comparison("jw")
    with pytest.raises(ComparisonError, match="loosest"):
        Comparison("jaro_winkler", (0.95, 0.9))
    with pytest.raises(ComparisonError, match="no thresholds"):
        Comparison("exact", (1.0,))
    assert Comparison("exact").level_names() == ["null", "else", "exact"]


def test_pack_unpack_round_trip_and_counts() -> None:
    radices = [3, 5, 4, 6]
    rng = np.random.default_rng(0)
    lv = np.stack([rng.integers(0, r, 1000) for r in radices], axis=1)
    codes = pack(lv, radices)
    assert (unpack(codes, radices) == lv).all()
    assert len(set(codes.tolist())) == len({tuple(row) for row in lv.tolist()})
    patterns, counts = count_patterns(codes)
    assert counts.sum() == 1000
    half = merge_counts(count_patterns(codes[:400]), count_patterns(codes[400:]))
    assert (half[0] == patterns).all() and (half[1] == counts).all()
    with pytest.raises(ValueError, match="below its field's radix"):
        pack(np.array([[3, 0, 0, 0]]), radices)


def test_compare_fields_builds_pairs_by_fields() -> None:
    comparisons = [Comparison("exact"), Comparison("jaro_winkler")]
    got = compare_fields(
        comparisons,
        [pa.array(["a", "b"]), pa.array(["ann", "bob"])],
        [pa.array(["a", "c"]), pa.array(["anne", None])],
    )
    assert got.tolist() == [[2, 3], [1, 0]]


RADICES = [3, 4, 5, 4, 3]
M_TRUE = [
    [0, 0.05, 0.95],
    [0, 0.05, 0.15, 0.80],
    [0, 0.02, 0.08, 0.20, 0.70],
    [0, 0.10, 0.20, 0.70],
    [0, 0.15, 0.85],
]
U_TRUE = [
    [0, 0.97, 0.03],
    [0, 0.80, 0.15, 0.05],
    [0, 0.70, 0.20, 0.07, 0.03],
    [0, 0.90, 0.07, 0.03],
    [0, 0.60, 0.40],
]
NULL_RATE = [0.05, 0.0, 0.1, 0.02, 0.2]


def simulated_counts(pairs: int, lam: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pattern counts of pairs drawn from the model itself (conditional independence)."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(pairs) < lam
    columns = []
    for f in range(len(RADICES)):
        cdf_m, cdf_u = np.cumsum(M_TRUE[f]), np.cumsum(U_TRUE[f])
        r = rng.random(pairs)
        level = np.where(
            is_match,
            np.searchsorted(cdf_m, r, side="right"),
            np.searchsorted(cdf_u, r, side="right"),
        )
        level = np.minimum(level, RADICES[f] - 1)
        level[rng.random(pairs) < NULL_RATE[f]] = 0
        columns.append(level)
    return count_patterns(pack(np.stack(columns, axis=1), RADICES))


def test_em_recovers_known_m_u_and_lambda_from_pattern_counts() -> None:
    patterns, counts = simulated_counts(400_000, lam=0.15, seed=1)
    assert len(patterns) < 4 * 5 * 6 * 5 * 4  # hundreds of patterns, not pairs
    start_u = [np.r_[0.0, np.geomspace(8.0, 1.0, r - 1)] for r in RADICES]
    got = expectation_maximisation(patterns, counts, RADICES, initial_m(RADICES), start_u, 0.5)
    assert got.converged
    assert got.lambda_ == pytest.approx(0.15, abs=0.005)
    for f in range(len(RADICES)):
        np.testing.assert_allclose(got.m[f], M_TRUE[f], atol=0.01)
        np.testing.assert_allclose(got.u[f], U_TRUE[f], atol=0.01)


def test_em_with_u_fixed_from_random_pairs_recovers_m() -> None:
    patterns, counts = simulated_counts(300_000, lam=0.3, seed=2)
    # "Random pairs": pairs drawn with lambda ~ 0 estimate u through their levels.
    u_patterns, u_counts = simulated_counts(200_000, lam=0.0, seed=3)
    u_levels = np.repeat(unpack(u_patterns, RADICES), u_counts, axis=0)
    u = level_distribution(u_levels, RADICES)
    for f in range(len(RADICES)):
        np.testing.assert_allclose(u[f], U_TRUE[f], atol=0.01)
    got = expectation_maximisation(
        patterns, counts, RADICES, initial_m(RADICES), u, 0.1, fix_u=True
    )
    assert got.converged
    for fixed, given in zip(got.u, u, strict=True):
        np.testing.assert_array_equal(fixed, given)
    assert got.lambda_ == pytest.approx(0.3, abs=0.01)
    for f in range(len(RADICES)):
        np.testing.assert_allclose(got.m[f], M_TRUE[f], atol=0.015)


def test_weights_probability_and_model_file_round_trip() -> None:
    model = Model(
        fields=("first", "dob"),
        radices=(3, 3),
        m=[np.array([0, 0.1, 0.9]), np.array([0, 0.2, 0.8])],
        u=[np.array([0, 0.99, 0.01]), np.array([0, 0.9, 0.1])],
        prior=0.001,
    )
    weights = model.field_weights()
    assert weights[0].tolist() == pytest.approx([0.0, math.log2(0.1 / 0.99), math.log2(90)])
    code = pack(np.array([[2, 1], [0, 2]]), model.radices)
    got = model.pattern_weights(code)
    prior = math.log2(0.001 / 0.999)
    assert got.tolist() == pytest.approx(
        [prior + math.log2(90) + math.log2(0.2 / 0.9), prior + 3.0]
    )
    assert probability(np.array([0.0, 10.0])).tolist() == pytest.approx([0.5, 1024 / 1025])
    again = Model.from_dict(model.to_dict())
    assert again.pattern_weights(code).tolist() == pytest.approx(got.tolist())


def test_prior_correction_and_random_pairs() -> None:
    # 1,000 records, 5,000 blocked pairs of which 20% match -> 1,000 matches over 499,500 pairs
    assert total_pairs(1000) == 499_500 and total_pairs(30, 40) == 1200
    assert prior_over_all_pairs(0.2, 5000, total_pairs(1000)) == pytest.approx(1000 / 499_500)
    assert prior_over_all_pairs(0.2, 5000, total_pairs(1000), blocking_recall=0.8) == pytest.approx(
        1250 / 499_500
    )
    i, j = random_pairs(50, 10_000, seed=4)
    assert (i != j).all() and i.min() >= 0 and j.max() < 50
    a, b = random_pairs(5, 100, seed=4, n_right=7)
    assert a.max() < 5 and b.max() < 7


@pytest.mark.parametrize(
    "kind", ["jaro_winkler", "jaro", "levenshtein", "damerau_levenshtein", "token_set"]
)
def test_levels_of_repeated_value_pairs_equal_scoring_each_pair(kind: str) -> None:
    from rapidfuzz import distance, fuzz

    scorer = {
        "jaro_winkler": distance.JaroWinkler.normalized_similarity,
        "jaro": distance.Jaro.normalized_similarity,
        "levenshtein": distance.Levenshtein.distance,
        "damerau_levenshtein": distance.DamerauLevenshtein.distance,
        "token_set": fuzz.token_set_ratio,
    }[kind]
    rng = np.random.default_rng(7)
    pool = ["ann", "anne", "anna", "bob", "rob", "robert", "roberta", "main st", "st main", None]
    left = [pool[k] for k in rng.integers(0, len(pool), 500)]
    right = [pool[k] for k in rng.integers(0, len(pool), 500)]
    comparison = Comparison(kind)
    expected = []
    for a, b in zip(left, right, strict=True):
        if a is None or b is None:
            expected.append(0)
        elif a == b:
            expected.append(comparison.level_count - 1)
        else:
            score = scorer(a, b)
            level = 1
            for index, t in enumerate(comparison.thresholds):
                if (score <= t) if comparison.measures_distance else (score >= t):
                    level = 2 + index
            expected.append(level)
    assert comparison.levels(pa.array(left), pa.array(right)).tolist() == expected


def test_auto_threshold_is_near_the_best_cut_the_truth_would_choose() -> None:
    from orchestrator.matching.threshold import expected_f1_threshold

    rng = np.random.default_rng(11)
    pairs, lam = 200_000, 0.1
    is_match = rng.random(pairs) < lam
    columns = []
    for f in range(len(RADICES)):
        r = rng.random(pairs)
        columns.append(
            np.where(
                is_match,
                np.searchsorted(np.cumsum(M_TRUE[f]), r, side="right"),
                np.searchsorted(np.cumsum(U_TRUE[f]), r, side="right"),
            ).clip(1, RADICES[f] - 1)
        )
    codes = pack(np.stack(columns, axis=1), RADICES)
    model = Model(
        tuple("abcde"),
        tuple(RADICES),
        [np.array(m) for m in M_TRUE],
        [np.array(u) for u in U_TRUE],
        lam,
    )
    patterns, counts = count_patterns(codes)
    auto = expected_f1_threshold(model.pattern_weights(patterns), counts)
    pair_weights = model.pattern_weights(codes)

    def realized_f1(cut: float) -> float:
        predicted = pair_weights >= cut
        tp = (predicted & is_match).sum()
        return 2 * tp / (predicted.sum() + is_match.sum())

    best = max(realized_f1(w) for w in np.unique(pair_weights))
    assert realized_f1(auto.weight) >= best - 0.01
    assert auto.expected_f1 == pytest.approx(realized_f1(auto.weight), abs=0.01)
