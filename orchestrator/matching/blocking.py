"""Candidate pairs from blocking keys, vectorized: all pairs within each key's block.

A blocking rule gives each record a key (null: the record is not blocked by
that rule). Pairs are generated inside each block without a Python loop, and a
pair a later rule finds again is dropped when an earlier rule's keys already
agree on it ("keep a pair under the first rule that generates it"), so no pair
is scored twice and no global pair dedup is needed. Blocks above ``max_block``
records are not expanded but reported, for the caller to split on a sub-key or
sample with a warning: never a silent quadratic blow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class BlockedPairs:
    """Record index pairs (left < right) and the blocks that were too large to expand."""

    left: np.ndarray
    right: np.ndarray
    oversized: dict[object, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.left)


def _codes(keys: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = keys.dictionary_encode() if not pa.types.is_dictionary(keys.type) else keys
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary


def block_pairs(keys: pa.Array | pa.ChunkedArray, max_block: int | None = None) -> BlockedPairs:
    """Every pair of records whose key is equal and not null, each once (i < j)."""
    codes, dictionary = _codes(keys)
    valid = np.flatnonzero(codes >= 0)
    order = valid[np.argsort(codes[valid], kind="stable")]
    sorted_codes = codes[order]
    if len(order) == 0:
        return BlockedPairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    oversized: dict[object, int] = {}
    if max_block is not None:
        too_big = sizes > max_block
        for start, size in zip(starts[too_big], sizes[too_big], strict=True):
            oversized[dictionary[int(sorted_codes[start])].as_py()] = int(size)
        sizes = np.where(too_big, 0, sizes)
    # Position k within its block pairs with the s-1-k positions after it.
    group_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    offset = np.arange(len(order)) - starts[group_of]
    partners = np.maximum(sizes[group_of] - 1 - offset, 0)
    total = int(partners.sum())
    first = np.repeat(np.arange(len(order)), partners)
    run_start = np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + (np.arange(total) - run_start)
    a, b = order[first], order[second]
    return BlockedPairs(np.minimum(a, b), np.maximum(a, b), oversized)


def drop_found_earlier(
    pairs: BlockedPairs, earlier_keys: Sequence[pa.Array | pa.ChunkedArray]
) -> BlockedPairs:
    """Remove pairs on which any earlier rule's key already agrees (not null)."""
    keep = np.ones(len(pairs), dtype=bool)
    for keys in earlier_keys:
        codes, _ = _codes(keys)
        left, right = codes[pairs.left], codes[pairs.right]
        keep &= ~((left == right) & (left >= 0))
    return BlockedPairs(pairs.left[keep], pairs.right[keep], pairs.oversized)


def blocked_pairs(
    rules: Sequence[pa.Array | pa.ChunkedArray], max_block: int | None = None
) -> list[BlockedPairs]:
    """Pairs per rule, in order, each pair kept under the first rule that finds it."""
    out = []
    for index, keys in enumerate(rules):
        out.append(drop_found_earlier(block_pairs(keys, max_block), rules[:index]))
    return out
