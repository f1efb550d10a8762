"""``split_bridges: true``: clusters held together only by a weak edge become two.

In every cluster of at least :data:`MIN_SIZE` records, an edge is dropped
when it is a bridge (removing it disconnects the cluster:
``matching/bridges.py``) and it is weak: its match weight is below the
model's threshold weight plus :data:`MARGIN_BITS` (log2 of 10: the pair's
odds of a match are less than ten times the threshold's odds; with a
threshold of p = 0.9 that is p < 0.989). Each side then is an entity of its
own, named by its smallest id, as any cluster is; a side of one record is
unlinked again (``entity_id`` its own id, ``cluster_size`` 1). A strong
bridge, and any edge on a cycle, stays. A pair (cluster of 2) is never split:
its one edge passed the threshold and chains nothing.

Memory: the one-worker path makes two passes over its edges, holding the
edges of the clusters that have a weak edge. The partitioned path clusters
the strong edges only, in partitions, and its finish joins the weak edges
(a few percent of them) to the strong groups it found
(:func:`join_weak_edges`): the same cut, so both publish the same entities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from orchestrator.matching.bridges import bridges
from orchestrator.matching.clusters import connected_components

#: weak: a match weight below the threshold weight + this many bits (x10 odds)
MARGIN_BITS = math.log2(10)
#: clusters smaller than this are never split
MIN_SIZE = 3

Edges = Callable[[], Iterator[pa.Table]]


def bridge_level(staging: str) -> float:
    """The match weight below which an edge is weak: threshold + margin."""
    from orchestrator.processors.identity.files import model_path, read_json

    return float(read_json(model_path(staging))["threshold"]["weight"]) + MARGIN_BITS


def _entity_of(clusters: pa.Table, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entity id and cluster size of each id (clusters sorted by id, ids all in it)."""
    known = clusters["id"].to_numpy()
    where = np.searchsorted(known, ids)
    return (
        clusters["entity_id"].to_numpy()[where],
        clusters["cluster_size"].to_numpy()[where],
    )


def weak_bridges(n: int, left: np.ndarray, right: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Which edges are weak bridges. Only a weak edge can be cut, so the strong
    edges are contracted first (vectorized connected components): a weak edge
    inside a strong component is on a cycle; one between two is a bridge of
    the graph exactly when it is one of the (much smaller) contracted graph,
    which is all the Python depth-first search sees (1M generated people: 71k
    weak edges, against 2.5M edges in the clusters that have one)."""
    strong = connected_components(n, left[~weak], right[~weak])
    at = np.flatnonzero(weak)
    sl, sr = strong[left[at]], strong[right[at]]
    between = sl != sr
    at, sl, sr = at[between], sl[between], sr[between]
    groups = np.unique(np.concatenate([sl, sr]))
    found = bridges(len(groups), np.searchsorted(groups, sl), np.searchsorted(groups, sr))
    cut = np.zeros(len(left), bool)
    cut[at[found]] = True
    return cut


def split_weak_bridges(clusters: pa.Table, edges: Edges, level: float) -> tuple[pa.Table, int]:
    """``clusters`` (``id``, ``entity_id``, ``cluster_size``, sorted by id) with
    the weak bridges below match weight ``level`` cut; and how many were cut.
    ``edges()`` yields the edge tables (``id_l``, ``id_r``, ``match_weight``)."""
    if not clusters.num_rows:
        return clusters, 0
    suspects: list[np.ndarray] = []
    for table in edges():  # pass 1: the clusters that have a weak edge
        weak = table["match_weight"].to_numpy() < level
        entity, size = _entity_of(clusters, table["id_l"].to_numpy()[weak])
        suspects.append(entity[size >= MIN_SIZE])
    candidates = np.unique(np.concatenate(suspects)) if suspects else np.zeros(0, np.int64)
    if not len(candidates):
        return clusters, 0
    left, right, weight = [], [], []
    for table in edges():  # pass 2: every edge of those clusters
        id_l = table["id_l"].to_numpy()
        entity, _ = _entity_of(clusters, id_l)
        keep = np.isin(entity, candidates)
        left.append(id_l[keep])
        right.append(table["id_r"].to_numpy()[keep])
        weight.append(table["match_weight"].to_numpy()[keep])
    a, b, w = np.concatenate(left), np.concatenate(right), np.concatenate(weight)
    nodes = np.unique(np.concatenate([a, b]))
    ca, cb = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    cut = weak_bridges(len(nodes), ca, cb, w < level)
    labels = connected_components(len(nodes), ca[~cut], cb[~cut])
    sizes = np.bincount(labels, minlength=len(nodes))
    known = clusters["id"].to_numpy()
    entity_id = clusters["entity_id"].to_numpy().copy()
    cluster_size = clusters["cluster_size"].to_numpy().copy()
    where = np.searchsorted(known, nodes)
    entity_id[where] = nodes[labels]
    cluster_size[where] = sizes[labels]
    linked = cluster_size > 1
    result = pa.table(
        {
            "id": clusters["id"].filter(pa.array(linked)),
            "entity_id": pa.array(entity_id[linked], clusters["entity_id"].type),
            "cluster_size": pa.array(cluster_size[linked], pa.int64()),
        }
    )
    return result, int(cut.sum())


def join_weak_edges(
    strong: pa.Table, left: np.ndarray, right: np.ndarray, kind: pa.DataType
) -> tuple[pa.Table, int]:
    """The clusters of every edge from ``strong`` (the clusters of the strong
    edges, sorted by id) and the weak edges ``left - right``, their weak
    bridges cut; and how many were cut. Each strong group is one node of the
    weak edges' graph (a weak edge inside one is on a cycle: never cut), so
    this holds the linked records and the weak edges, never the strong ones.
    ``kind``: the ids' Arrow type."""
    ids = strong["id"].to_numpy(zero_copy_only=False)
    strong_entity = strong["entity_id"].to_numpy(zero_copy_only=False)
    strong_size = strong["cluster_size"].to_numpy()

    def group(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Strong group (its smallest id) and size of each id; itself and 1 if none."""
        where = np.minimum(np.searchsorted(ids, x), max(len(ids) - 1, 0))
        found = (ids[where] == x) if len(ids) else np.zeros(len(x), bool)
        return (
            np.where(found, strong_entity[where] if len(ids) else x, x),
            np.where(found, strong_size[where] if len(ids) else 1, 1),
        )

    ga, _ = group(left)
    gb, _ = group(right)
    between = ga != gb
    ga, gb = ga[between], gb[between]
    nodes = np.unique(np.concatenate([ga, gb]))
    _, node_size = group(nodes)  # a group's id is its smallest: in ids unless it is alone
    ca, cb = np.searchsorted(nodes, ga), np.searchsorted(nodes, gb)
    whole = connected_components(len(nodes), ca, cb)
    whole_size = np.bincount(whole, weights=node_size, minlength=len(nodes))
    cut = bridges(len(nodes), ca, cb) & (whole_size[whole[ca]] >= MIN_SIZE)
    final = connected_components(len(nodes), ca[~cut], cb[~cut])
    final_size = np.bincount(final, weights=node_size, minlength=len(nodes)).astype(np.int64)
    every = np.unique(np.concatenate([ids, nodes]))  # nodes: strong groups or lone ids
    g, size = group(every)
    at = np.minimum(np.searchsorted(nodes, g), max(len(nodes) - 1, 0))
    joined = (nodes[at] == g) if len(nodes) else np.zeros(len(g), bool)
    entity = np.where(joined, nodes[final[at]] if len(nodes) else g, g)
    size = np.where(joined, final_size[final[at]] if len(nodes) else size, size)
    linked = size > 1
    return (
        pa.table(
            {
                "id": pa.array(every[linked], kind),
                "entity_id": pa.array(entity[linked], kind),
                "cluster_size": pa.array(size[linked], pa.int64()),
            }
        ),
        int(cut.sum()),
    )
