"""Connected components over hash partitions of the edges, one step per phase.

The alternating large-star / small-star algorithm (Kiveris, Lattanzi,
Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce and
Beyond", SoCC 2014). Why this one: it works on the edge list alone (no label
table to join each round, so a step is one read and one shuffle), the edge
count never grows from step to step, and it converges in O(log² n) steps
(a handful on identity graphs, ~2 log2 n on a chain). Each node ends linked
to the smallest id of its component, which is the entity id the one-worker
path (``clusters.py``) gives: both paths publish the same output.

The graph is held as directed rows ``(u, v)``, both directions of every
undirected edge, each row in partition ``partition_of(u)``: a partition holds
every neighbour of its nodes. A step reads one partition and emits undirected
edges, which :func:`route` turns into the next step's rows per partition.

- large star, per node ``u``: ``m`` = the smallest of ``u`` and its
  neighbours; every neighbour ``v > u`` is linked to ``m`` instead.
- small star, per node ``u``: ``m`` = the smallest of ``u`` and its smaller
  neighbours; ``u`` and each smaller neighbour are linked to ``m``.

Converged (:func:`violations` is 0 on a step's input, then that step changes
nothing): every component is a star whose centre is its smallest id, each
other node having that centre as its one neighbour. Pure numpy over int64
ids; memory is a few copies of one partition's rows (16 bytes each).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: 2^64 / golden ratio: the splitmix64 increment (a partition hash, not a secret)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

Rows = tuple[np.ndarray, np.ndarray]


def partition_of(nodes: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each node id: splitmix64 of the id, mod ``partitions``
    (the same in every process and numpy version; ids in a run of consecutive
    values spread evenly)."""
    x = np.asarray(nodes, np.int64).view(np.uint64) + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(partitions)).astype(np.int64)


def unique_rows(u: np.ndarray, v: np.ndarray) -> Rows:
    """Distinct ``(u, v)`` rows without self loops, sorted by ``u`` then ``v``."""
    u, v = np.asarray(u, np.int64), np.asarray(v, np.int64)
    keep = u != v
    u, v = u[keep], v[keep]
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    if len(u) > 1:
        first = np.ones(len(u), bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v = u[first], v[first]
    return u, v


def route(a: np.ndarray, b: np.ndarray, partitions: int) -> list[Rows]:
    """Undirected edges ``a - b`` as the rows of each partition (both
    directions, each row in the partition of its first node), sorted, distinct."""
    u = np.concatenate([a, b]).astype(np.int64, copy=False)
    v = np.concatenate([b, a]).astype(np.int64, copy=False)
    u, v = unique_rows(u, v)
    where = partition_of(u, partitions)
    order = np.argsort(where, kind="stable")  # stable: rows stay sorted within a partition
    counts = np.bincount(where, minlength=partitions)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    u, v = u[order], v[order]
    return [(u[bounds[p] : bounds[p + 1]], v[bounds[p] : bounds[p + 1]]) for p in range(partitions)]


def _groups(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal ``u`` (rows sorted by ``u``)."""
    if not len(u):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], u[1:] != u[:-1]]))
    return starts, np.diff(np.concatenate([starts, [len(u)]]))


def violations(u: np.ndarray, v: np.ndarray) -> int:
    """Nodes of these rows (sorted by ``u``, every row of a node present) that
    are neither a star's centre (every neighbour larger) nor a leaf (one
    neighbour, smaller). Zero in every partition: the graph is converged."""
    starts, counts = _groups(u)
    if not len(starts):
        return 0
    low = np.minimum.reduceat(v, starts)
    node = u[starts]
    ok = (low > node) | ((counts == 1) & (low < node))
    return int((~ok).sum())


def large_star(u: np.ndarray, v: np.ndarray) -> Rows:
    """One partition's large-star step: undirected edges ``(neighbour, m)``."""
    starts, counts = _groups(u)
    if not len(starts):
        return u[:0], v[:0]
    m = np.minimum(np.minimum.reduceat(v, starts), u[starts])
    m_row = np.repeat(m, counts)
    up = v > u
    return v[up], m_row[up]


def small_star(u: np.ndarray, v: np.ndarray) -> Rows:
    """One partition's small-star step: undirected edges ``(x, m)`` for ``u``
    and each smaller neighbour ``x`` (``m``: the smallest of them)."""
    down = v < u
    du, dv = u[down], v[down]
    starts, counts = _groups(du)
    if not len(starts):
        return u[:0], v[:0]
    m = np.minimum.reduceat(dv, starts)  # dv < du: the smallest neighbour is the minimum
    m_row = np.repeat(m, counts)
    keep = dv != m_row
    return np.concatenate([dv[keep], du[starts]]), np.concatenate([m_row[keep], m])


def star_step(u: np.ndarray, v: np.ndarray, step: int) -> tuple[Rows, int]:
    """Step number ``step`` (even: large star, odd: small star) over one
    partition's rows: the undirected edges it emits and the input's violations."""
    out = large_star(u, v) if step % 2 == 0 else small_star(u, v)
    return out, violations(u, v)


def star_labels(u: np.ndarray, v: np.ndarray) -> Rows:
    """``(node, centre)`` of converged rows: each leaf's one smaller neighbour,
    and each centre itself (rows of several partitions may be concatenated)."""
    leaf = v < u
    centres = np.unique(u[~leaf])
    return np.concatenate([u[leaf], centres]), np.concatenate([v[leaf], centres])


def partitioned_components(
    left: np.ndarray, right: np.ndarray, partitions: int, max_steps: int = 400
) -> tuple[Rows, int]:
    """``(node, smallest node of its component)`` of every node with an edge,
    sorted by node, by the steps a job's phases run, in one process (the
    reference the tests hold against a union-find); and the steps it took."""
    rows = route(np.asarray(left), np.asarray(right), partitions)
    for step in range(max_steps):
        outs = [star_step(u, v, step) for u, v in rows]
        if sum(bad for _, bad in outs) == 0:
            return _sorted_labels(rows), step
        a = np.concatenate([o[0][0] for o in outs])
        b = np.concatenate([o[0][1] for o in outs])
        rows = route(a, b, partitions)
    raise RuntimeError(f"no convergence in {max_steps} steps")


def _sorted_labels(rows: Sequence[Rows]) -> Rows:
    u = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
    v = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.int64)
    nodes, centres = star_labels(u, v)
    order = np.argsort(nodes, kind="stable")
    return nodes[order], centres[order]
