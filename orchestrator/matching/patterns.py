"""Agreement patterns: a pair's per-field levels packed into one integer.

Mixed radix (field ``f`` has ``radices[f]`` levels), so packing and unpacking
are exact and a blocked set of hundreds of millions of pairs reduces to a few
hundred distinct patterns with counts: what EM runs on and what partitions sum
before training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def strides(radices: Sequence[int]) -> np.ndarray:
    """Weight of each field's level in the code (first field least significant)."""
    out = np.ones(len(radices), dtype=np.int64)
    for index in range(1, len(radices)):
        out[index] = out[index - 1] * int(radices[index - 1])
    if len(radices) and int(out[-1]) * int(radices[-1]) >= 2**62:
        raise ValueError("too many comparison levels to pack into one 64-bit pattern")
    return out


def pack(levels: np.ndarray, radices: Sequence[int]) -> np.ndarray:
    """Pattern code (int64) of each row of ``levels`` (pairs × fields)."""
    levels = np.asarray(levels)
    if levels.ndim != 2 or levels.shape[1] != len(radices):
        raise ValueError(f"levels must be (pairs, {len(radices)}), got {levels.shape}")
    if levels.size and (levels.max(axis=0) >= np.asarray(radices)).any():
        raise ValueError("a level is not below its field's radix")
    return levels.astype(np.int64) @ strides(radices)


def unpack(codes: np.ndarray, radices: Sequence[int]) -> np.ndarray:
    """Levels (pairs × fields, int64) of each pattern code."""
    codes = np.asarray(codes, dtype=np.int64)
    return (codes[:, None] // strides(radices)[None, :]) % np.asarray(radices, dtype=np.int64)


def count_patterns(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pattern codes and how many pairs have each."""
    patterns, counts = np.unique(np.asarray(codes, dtype=np.int64), return_counts=True)
    return patterns, counts.astype(np.int64)


def merge_counts(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum (patterns, counts) from several partitions into one table."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes = np.concatenate([p for p, _ in parts])
    counts = np.concatenate([c for _, c in parts])
    patterns, where = np.unique(codes, return_inverse=True)
    return patterns, np.bincount(where.ravel(), weights=counts, minlength=len(patterns)).astype(
        np.int64
    )
