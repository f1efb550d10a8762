"""Identity metrics: handmade cases with known answers and brute-force pair enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from orchestrator.evaluation.identity import EvaluationError, Scores, score_clusters


def test_handmade_case_worked_by_hand() -> None:
    # predicted {0,1} {2,3} {4}; true {0,1,2} {3,4}
    got = score_clusters([1, 1, 2, 2, 3], [7, 7, 7, 8, 8])
    assert (got.predicted_pairs, got.true_pairs, got.true_positive_pairs) == (2, 4, 1)
    assert got.pairwise == Scores(0.5, 0.25, pytest.approx(1 / 3))
    assert got.cluster == Scores(0.0, 0.0, 0.0)
    assert got.bcubed.precision == pytest.approx(4 / 5)
    assert got.bcubed.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 5)


def test_perfect_all_merged_and_all_split() -> None:
    truth = ["a", "a", "b", "c", "c", "c"]
    perfect = score_clusters([10, 10, 11, 12, 12, 12], truth)
    assert perfect.pairwise == perfect.cluster == perfect.bcubed == Scores(1.0, 1.0, 1.0)
    merged = score_clusters([0] * 6, truth)
    assert merged.pairwise.recall == 1.0 and merged.pairwise.precision == pytest.approx(4 / 15)
    assert merged.cluster == Scores(0.0, 0.0, 0.0)
    assert merged.bcubed.recall == 1.0
    split = score_clusters(list(range(6)), truth)
    assert split.pairwise.precision == 1.0 and split.pairwise.recall == 0.0
    assert split.pairwise.f1 == 0.0
    assert split.cluster == Scores(1 / 6, 1 / 3, pytest.approx(2 / 9))  # only {b} matches
    assert split.bcubed.precision == 1.0


def test_null_predictions_are_singletons_and_inputs_of_any_kind() -> None:
    arrow = score_clusters(pa.chunked_array([["x", "x"], [None, None]]), np.array([1, 1, 2, 2]))
    listed = score_clusters(["x", "x", "s1", "s2"], [1, 1, 2, 2])
    assert arrow == listed
    dictionary = pa.array(["x", "x", "y", "y"]).dictionary_encode()
    assert score_clusters(dictionary, [1, 1, 2, 2]).cluster == Scores(1.0, 1.0, 1.0)
    empty = score_clusters([], [])
    assert empty.records == 0 and empty.pairwise.f1 == 1.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(EvaluationError, match="3 predicted ids but 2 true ids"):
        score_clusters([1, 2, 3], [1, 2])
    with pytest.raises(EvaluationError, match="row 2"):
        score_clusters([1, 2], [1, None])


def brute_force(
    pred: list[int], true: list[int]
) -> tuple[float, float, float, float, float, float]:
    n = len(pred)
    pairs = list(itertools.combinations(range(n), 2))
    predicted = {p for p in pairs if pred[p[0]] == pred[p[1]]}
    actual = {p for p in pairs if true[p[0]] == true[p[1]]}
    pp = len(predicted & actual) / len(predicted) if predicted else 1.0
    pr = len(predicted & actual) / len(actual) if actual else 1.0
    # B-cubed per record: the share of its predicted (or true) cluster that is correct
    both = [sum(1 for j in range(n) if pred[j] == pred[i] and true[j] == true[i]) for i in range(n)]
    bp = sum(both[i] / pred.count(pred[i]) for i in range(n)) / n
    br = sum(both[i] / true.count(true[i]) for i in range(n)) / n
    clusters_p = {frozenset(i for i in range(n) if pred[i] == c) for c in set(pred)}
    clusters_t = {frozenset(i for i in range(n) if true[i] == c) for c in set(true)}
    exact = len(clusters_p & clusters_t)
    return pp, pr, bp, br, exact / len(clusters_p), exact / len(clusters_t)


@pytest.mark.parametrize("seed", range(25))
def test_random_cases_equal_brute_force_pair_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    true = rng.integers(0, max(1, n // 3), n).tolist()
    # predictions near the truth: some records moved to other or new clusters
    pred = [t if rng.random() < 0.7 else int(rng.integers(0, n)) + 100 for t in true]
    got = score_clusters(pred, true)
    pp, pr, bp, br, cp, cr = brute_force(pred, true)
    assert got.pairwise.precision == pytest.approx(pp)
    assert got.pairwise.recall == pytest.approx(pr)
    assert got.bcubed.precision == pytest.approx(bp)
    assert got.bcubed.recall == pytest.approx(br)
    assert got.cluster.precision == pytest.approx(cp)
    assert got.cluster.recall == pytest.approx(cr)
