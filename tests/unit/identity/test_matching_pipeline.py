"""The building blocks composed in one process on generated people: the F1 they reach.

Standardize → block (four rules) → compare → u from random pairs → EM on pattern
counts → prior over all pairs → weights → connected components → score against
the generator's truth. This is the reference the identity_match job type
distributes over map and reduce phases.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orchestrator.datagen.people import generate
from orchestrator.evaluation.identity import IdentityScores, score_clusters
from orchestrator.matching.blocking import blocked_pairs
from orchestrator.matching.clusters import connected_components
from orchestrator.matching.comparisons import Comparison, compare_fields
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
from orchestrator.matching.patterns import count_patterns, pack
from orchestrator.matching.term_frequency import tf_adjustments, u_exact_from_counts, value_counts
from orchestrator.matching.threshold import expected_f1_threshold
from orchestrator.standardize import apply_step, apply_steps

FIELDS = {
    "first_name": (["given_name"], Comparison("jaro_winkler")),
    "last_name": (["name"], Comparison("jaro_winkler")),
    "dob": (["date"], Comparison("date", (31.0, 1.0))),
    "email": ([{"email": {"plus": True}}], Comparison("exact")),
    "phone": (["phone"], Comparison("exact")),
    "street": (["address"], Comparison("token_set", (90.0,))),
}


def match(
    table: pa.Table, threshold: float | str = 0.5, term_frequency: bool = True
) -> tuple[np.ndarray, Model]:
    clean = {name: apply_steps(table[name], steps) for name, (steps, _) in FIELDS.items()}
    soundex = apply_step("soundex", clean["last_name"])
    year = pc.cast(apply_step("year", clean["dob"]), pa.string())
    rules = [
        pc.binary_join_element_wise(soundex, year, "|"),
        clean["email"],
        clean["phone"],
        pc.binary_join_element_wise(clean["first_name"], clean["last_name"], "|"),
    ]
    pairs = [p for p in blocked_pairs(rules, max_block=2000) if len(p)]
    left = np.concatenate([p.left for p in pairs])
    right = np.concatenate([p.right for p in pairs])
    comparisons = [c for _, c in FIELDS.values()]
    radices = [c.level_count for c in comparisons]
    columns = list(clean.values())

    def levels(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        li, lj = pa.array(i), pa.array(j)
        return compare_fields(
            comparisons, [c.take(li) for c in columns], [c.take(lj) for c in columns]
        )

    ri, rj = random_pairs(table.num_rows, 50_000, seed=9)
    u = level_distribution(levels(ri, rj), radices)
    levels_blocked = levels(left, right)
    codes = pack(levels_blocked, radices)
    patterns, counts = count_patterns(codes)
    # m and lambda from EM on the blocked pairs (u free there: blocked non-matches
    # agree on the blocking fields far more than random pairs do); u for scoring
    # from random pairs, with the prior corrected to all pairs to match it.
    em = expectation_maximisation(patterns, counts, radices, initial_m(radices), u, 0.3)
    prior = prior_over_all_pairs(em.lambda_, len(codes), total_pairs(table.num_rows))
    model = Model(tuple(FIELDS), tuple(radices), em.m, u, prior)
    weights = model.pattern_weights(codes)
    if term_frequency:  # surnames: agreeing on a common one weighs less
        last = columns[1]
        counts = value_counts(last)
        exact = levels_blocked[:, 1] == radices[1] - 1
        weights = weights + tf_adjustments(
            last.take(pa.array(left)), counts, u_exact_from_counts(counts), exact
        )
    if threshold == "auto":
        keep = weights >= expected_f1_threshold(weights, np.ones(len(weights))).weight
    else:
        keep = probability(weights) >= threshold
    return connected_components(table.num_rows, left[keep], right[keep]), model


def scores(rows: int, seed: int, threshold: float | str = 0.5) -> IdentityScores:
    table = pa.concat_tables(generate(rows, seed, block_rows=rows))
    labels, model = match(table, threshold)
    assert 0.0 < model.prior < 0.01
    weights = model.field_weights()
    for field_weights in weights:  # agreeing exactly is evidence for, disagreeing against
        assert field_weights[-1] > 0 > field_weights[1]
    return score_clusters(labels, table["cluster_id"])


@pytest.mark.parametrize("threshold", [0.5, "auto"])
def test_building_blocks_match_generated_people_well(threshold: float | str) -> None:
    got = scores(20_000, seed=3, threshold=threshold)
    assert got.pairwise.f1 > 0.9, got
    assert got.cluster.f1 > 0.85, got
    assert got.bcubed.f1 > 0.9, got
