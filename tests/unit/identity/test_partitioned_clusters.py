"""The partitioned clustering (large/small-star steps over hash partitions) and
bridge splitting, against a plain union-find and brute force."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.matching.bridges import bridges
from orchestrator.matching.stars import partition_of, partitioned_components, route, violations
from orchestrator.processors.identity.bridges import split_weak_bridges
from orchestrator.processors.identity.cluster import components


def union_find(left: list[int], right: list[int]) -> dict[int, int]:
    """The smallest id of each linked node's component (self loops link nothing)."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(left, right, strict=True):
        if a == b:
            continue
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in parent}


def star_result(left: list[int], right: list[int], partitions: int) -> dict[int, int]:
    (nodes, labels), _ = partitioned_components(
        np.array(left, np.int64), np.array(right, np.int64), partitions
    )
    assert list(nodes) == sorted(nodes)
    return dict(zip(nodes.tolist(), labels.tolist(), strict=True))


ids = st.integers(min_value=-(2**62), max_value=2**62)


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=150),
    partitions=st.integers(1, 7),
    spread=st.sampled_from([1, 7, 1_000_003]),
)
def test_partitioned_components_equal_a_union_find(
    edges: list[tuple[int, int]], partitions: int, spread: int
) -> None:
    left = [a * spread - 50 for a, _ in edges]
    right = [b * spread - 50 for _, b in edges]
    assert star_result(left, right, partitions) == union_find(left, right)


@settings(max_examples=50, deadline=None)
@given(edges=st.lists(st.tuples(ids, ids), max_size=40), partitions=st.integers(1, 5))
def test_any_int64_ids(edges: list[tuple[int, int]], partitions: int) -> None:
    left, right = [a for a, _ in edges], [b for _, b in edges]
    assert star_result(left, right, partitions) == union_find(left, right)


@settings(max_examples=20, deadline=None)
@given(length=st.integers(2, 3000), seed=st.integers(0, 2**32 - 1), partitions=st.integers(1, 6))
def test_long_chains_in_any_order_converge_to_their_smallest_id(
    length: int, seed: int, partitions: int
) -> None:
    order = np.random.default_rng(seed).permutation(length) + 10
    (nodes, labels), steps = partitioned_components(order[:-1], order[1:], partitions)
    assert nodes.tolist() == list(range(10, 10 + length))
    assert (labels == 10).all()
    assert steps <= 4 * int(np.log2(length)) + 4


def test_the_same_ids_as_the_one_worker_path_on_a_random_graph() -> None:
    rng = np.random.default_rng(5)
    left, right = rng.integers(0, 20_000, 15_000), rng.integers(0, 20_000, 15_000)
    keep = left != right
    one = components(pa.array(left[keep]), pa.array(right[keep]))
    (nodes, labels), _ = partitioned_components(left, right, 5)
    assert nodes.tolist() == one["id"].to_pylist()
    assert labels.tolist() == one["entity_id"].to_pylist()


def test_routing_puts_both_directions_in_the_first_node_s_partition() -> None:
    rows = route(np.array([1, 2, 2]), np.array([2, 3, 3]), 3)
    got = {(int(a), int(b)) for u, v in rows for a, b in zip(u, v, strict=True)}
    assert got == {(1, 2), (2, 1), (2, 3), (3, 2)}
    for q, (u, _) in enumerate(rows):
        assert (partition_of(u, 3) == q).all()
    star = np.array([1, 1, 2, 3]), np.array([2, 3, 1, 1])
    assert violations(*star) == 0
    assert violations(np.array([1, 2, 2, 3]), np.array([2, 1, 3, 2])) == 1  # 2: a middle


def brute_bridges(n: int, left: list[int], right: list[int]) -> list[bool]:
    def parts(edges: list[tuple[int, int]]) -> int:
        linked = union_find([a for a, _ in edges], [b for _, b in edges])
        return len(set(linked.values())) + n - len(linked)

    pairs = list(zip(left, right, strict=True))
    whole = parts(pairs)
    return [parts(pairs[:i] + pairs[i + 1 :]) > whole for i in range(len(pairs))]


@settings(max_examples=200, deadline=None)
@given(edges=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=30))
def test_bridges_equal_brute_force(edges: list[tuple[int, int]]) -> None:
    edges = [(a, b) for a, b in edges if a != b]
    left, right = [a for a, _ in edges], [b for _, b in edges]
    assert bridges(13, np.array(left, np.int64), np.array(right, np.int64)).tolist() == (
        brute_bridges(13, left, right)
    )


def test_a_long_chain_is_all_bridges_without_recursion() -> None:
    n = 200_000
    assert bridges(n, np.arange(n - 1), np.arange(1, n)).all()


def clusters_of(left: list[int], right: list[int]) -> pa.Table:
    return components(pa.array(left, pa.int64()), pa.array(right, pa.int64()))


def edges_table(left: list[int], right: list[int], weights: list[float]) -> pa.Table:
    return pa.table(
        {
            "id_l": pa.array(left, pa.int64()),
            "id_r": pa.array(right, pa.int64()),
            "match_weight": pa.array(weights, pa.float64()),
        }
    )


# two triangles (1,2,3) and (4,5,6) joined by 3-4; a pair 7-8; a triangle 9,10,11
# with a pendant 12 hanging by a weak edge
LEFT = [1, 2, 1, 4, 5, 4, 3, 7, 9, 10, 9, 11]
RIGHT = [2, 3, 3, 5, 6, 6, 4, 8, 10, 11, 11, 12]


def test_two_triangles_joined_by_one_weak_edge_are_two_entities() -> None:
    weights = [20.0] * 6 + [5.0] + [5.0] + [20.0] * 3 + [5.0]
    split, cut = split_weak_bridges(
        clusters_of(LEFT, RIGHT), lambda: iter([edges_table(LEFT, RIGHT, weights)]), 8.0
    )
    got = dict(zip(split["id"].to_pylist(), split["entity_id"].to_pylist(), strict=True))
    sizes = dict(zip(split["id"].to_pylist(), split["cluster_size"].to_pylist(), strict=True))
    assert cut == 2
    assert got == {1: 1, 2: 1, 3: 1, 4: 4, 5: 4, 6: 4, 7: 7, 8: 7, 9: 9, 10: 9, 11: 9}
    assert sizes == {1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}
    assert split["id"].to_pylist() == sorted(split["id"].to_pylist())  # 12: unlinked again


def test_a_strong_bridge_and_weak_edges_on_cycles_are_kept() -> None:
    weights = [5.0] * 6 + [20.0] + [5.0] + [5.0] * 3 + [20.0]  # only the bridges are strong
    before = clusters_of(LEFT, RIGHT)
    split, cut = split_weak_bridges(before, lambda: iter([edges_table(LEFT, RIGHT, weights)]), 8.0)
    assert cut == 0
    assert split.equals(before)


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.booleans()), max_size=30)
)
def test_weak_bridges_after_contracting_strong_edges_equal_brute_force(
    edges: list[tuple[int, int, bool]],
) -> None:
    from orchestrator.processors.identity.bridges import weak_bridges

    edges = [e for e in edges if e[0] != e[1]]
    left, right = [a for a, _, _ in edges], [b for _, b, _ in edges]
    weak = np.array([w for _, _, w in edges], bool)
    expected = np.array(brute_bridges(13, left, right), bool) & weak
    got = weak_bridges(13, np.array(left, np.int64), np.array(right, np.int64), weak)
    assert got.tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(
    edges=st.lists(
        st.tuples(st.integers(0, 25), st.integers(0, 25), st.booleans()), min_size=1, max_size=45
    )
)
def test_joining_weak_edges_to_strong_groups_cuts_what_the_one_worker_path_cuts(
    edges: list[tuple[int, int, bool]],
) -> None:
    """The partitioned path clusters the strong edges, then joins the weak ones
    (join_weak_edges); the one-worker path cuts in the whole clusters."""
    from orchestrator.processors.identity.bridges import join_weak_edges

    edges = [e for e in edges if e[0] != e[1]]
    if not edges:
        return
    left = [a for a, _, _ in edges]
    right = [b for _, b, _ in edges]
    weights = [5.0 if weak else 20.0 for _, _, weak in edges]
    whole, cut = split_weak_bridges(
        clusters_of(left, right), lambda: iter([edges_table(left, right, weights)]), 8.0
    )
    strong = [(a, b) for a, b, weak in edges if not weak]
    weak = np.array([w for _, _, w in edges], bool)
    groups = clusters_of([a for a, _ in strong], [b for _, b in strong])
    joined, cut_too = join_weak_edges(
        groups, np.array(left)[weak], np.array(right)[weak], pa.int64()
    )
    assert cut_too == cut
    assert joined.equals(whole), (joined.to_pydict(), whole.to_pydict())


def test_joining_weak_edges_with_text_keys() -> None:
    from orchestrator.processors.identity.bridges import join_weak_edges

    def key(i: int) -> str:
        return f"crm/{i:02d}"

    weak = np.array([w < 8.0 for w in [20.0] * 6 + [5.0] + [5.0] + [20.0] * 3 + [5.0]])
    left = [key(i) for i in LEFT]
    right = [key(i) for i in RIGHT]
    table = pa.table(
        {
            "id_l": pa.array(left),
            "id_r": pa.array(right),
            "match_weight": pa.array(np.where(weak, 5.0, 20.0)),
        }
    )
    whole, cut = split_weak_bridges(
        components(table["id_l"].combine_chunks(), table["id_r"].combine_chunks()),
        lambda: iter([table]),
        8.0,
    )
    strong = table.filter(pa.array(~weak))
    groups = components(strong["id_l"].combine_chunks(), strong["id_r"].combine_chunks())
    joined, cut_too = join_weak_edges(
        groups, np.array(left, object)[weak], np.array(right, object)[weak], pa.string()
    )
    assert cut == cut_too == 2
    assert joined.equals(whole)
    assert whole["entity_id"].to_pylist()[:3] == [key(1)] * 3
