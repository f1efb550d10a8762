"""Connected components of a match graph, vectorized, in one process.

Min-label propagation with pointer jumping over numpy arrays: each round every
edge pulls both ends to the smaller label, then labels jump to their label's
label until stable. The result labels each record with the smallest record
index in its component, which makes it deterministic (a stable entity id) and
the reference a partitioned clustering phase must reproduce.
"""

from __future__ import annotations

import numpy as np


def connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label of each of ``n`` records: the smallest index in its component."""
    labels = np.arange(n, dtype=np.int64)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    if left.shape != right.shape:
        raise ValueError("left and right must have the same length")
    if left.size and (min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= n):
        raise ValueError(f"an edge names a record outside 0..{n - 1}")
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        while True:  # pointer jumping: follow labels to their roots
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels
