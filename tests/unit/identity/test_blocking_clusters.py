"""Blocking pairs (each pair once, first rule wins) and connected components vs union-find."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from orchestrator.matching.blocking import block_pairs, blocked_pairs
from orchestrator.matching.clusters import connected_components


def brute_pairs(keys: list[object]) -> set[tuple[int, int]]:
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(keys)), 2)
        if keys[i] is not None and keys[i] == keys[j]
    }


@pytest.mark.parametrize("seed", range(10))
def test_block_pairs_equal_brute_force_and_rules_never_repeat_a_pair(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    rules = []
    for cardinality in (4, 9, 3):
        keys = [None if rng.random() < 0.15 else int(k) for k in rng.integers(0, cardinality, n)]
        rules.append(keys)
    found = blocked_pairs([pa.array(k) for k in rules])
    seen: set[tuple[int, int]] = set()
    for index, (keys, pairs) in enumerate(zip(rules, found, strict=True)):
        got = list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        assert len(got) == len(set(got)), "a rule produced a pair twice"
        expected = brute_pairs(keys) - set().union(*(brute_pairs(k) for k in rules[:index]))
        assert set(got) == expected
        assert not seen & set(got), "two rules produced the same pair"
        seen |= set(got)
    assert seen == set().union(*(brute_pairs(k) for k in rules))


def test_oversized_blocks_are_reported_not_expanded() -> None:
    keys = pa.array(["smith"] * 6 + ["lee"] * 2 + [None])
    pairs = block_pairs(keys, max_block=5)
    assert pairs.oversized == {"smith": 6}
    assert list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == [(6, 7)]
    assert len(block_pairs(pa.array([None, None], pa.string()))) == 0


def union_find(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


@pytest.mark.parametrize("seed", range(10))
def test_connected_components_equal_single_process_union_find(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    m = int(rng.integers(0, 2 * n))
    left, right = rng.integers(0, n, m), rng.integers(0, n, m)
    got = connected_components(n, left, right)
    assert got.tolist() == union_find(n, list(zip(left.tolist(), right.tolist(), strict=True)))


def test_long_chain_and_bad_edges() -> None:
    n = 5000
    order = np.random.default_rng(1).permutation(n)
    labels = connected_components(n, order[:-1], order[1:])
    assert (labels == 0).all()
    with pytest.raises(ValueError, match="outside"):
        connected_components(3, np.array([0]), np.array([3]))
