"""Bridges of a match graph: the edges whose removal disconnects their component.

A cluster held together by one edge between two groups is two entities that
one pair of records chained together; ``split_bridges`` drops such an edge
when it is weak (``processors/identity/bridges.py`` decides which). Finding
them is Tarjan's low-link depth-first search, written iteratively (a chain
of a million records would overflow Python's stack): an edge ``parent - x``
of the DFS tree is a bridge when nothing below ``x`` reaches back above it.
Parallel edges are never bridges (each edge is skipped by its own id, not
by its far end). Linear in nodes + edges, a Python loop: meant for the
edges of the clusters that have a weak edge, not for a whole graph.
"""

from __future__ import annotations

import numpy as np


def bridges(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each edge ``left[i] - right[i]`` over nodes ``0..n-1``: is it a bridge."""
    left = np.asarray(left, np.int64)
    right = np.asarray(right, np.int64)
    m = len(left)
    # adjacency (CSR): for each node, its (neighbour, edge id) pairs
    ends = np.concatenate([left, right])
    others = np.concatenate([right, left])
    ids = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    nbr = others[order].tolist()
    eid = ids[order].tolist()
    start = np.searchsorted(ends[order], np.arange(n + 1)).tolist()
    disc = [-1] * n
    low = [0] * n
    is_bridge = np.zeros(m, bool)
    clock = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = clock
        clock += 1
        # stack of (node, edge id it was reached by, next adjacency position)
        stack = [(root, -1, start[root])]
        while stack:
            node, via, pos = stack[-1]
            if pos < start[node + 1]:
                stack[-1] = (node, via, pos + 1)
                edge, nxt = eid[pos], nbr[pos]
                if edge == via:
                    continue
                if disc[nxt] < 0:
                    disc[nxt] = low[nxt] = clock
                    clock += 1
                    stack.append((nxt, edge, start[nxt]))
                elif disc[nxt] < low[node]:
                    low[node] = disc[nxt]
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
                if low[node] > disc[parent]:
                    is_bridge[via] = True
    return is_bridge
