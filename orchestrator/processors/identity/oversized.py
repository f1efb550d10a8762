"""Blocks too large to pair whole: split on a sub-key, then sampled.

A block of ``n`` records makes ``n(n-1)/2`` pairs, so one common key (a
frequent surname with a frequent birth year) can cost more than every other
block together. A block over ``max_block`` records is first split on a
sub-key: its records' key is extended with the first
:data:`SUB_KEY_CHARS` characters of the next declared field the rule does
not already use (``SMITH|1970`` + ``jo``), field after field, until every
piece fits or no field is left. A pair whose records differ on that prefix
is then not compared: the warning names the block and the fields used, so the
loss is never silent. A piece still too large after every field is paired on
a deterministic sample of ``max_block`` of its records, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: characters of a field's standardized value a sub-key takes
SUB_KEY_CHARS = 3
#: blocks a warning names, at most, per rule and chunk
NAMED_BLOCKS = 5
_SEP = "\x1e"


@dataclass
class Limited:
    """Keys with oversized blocks split (and what was still too large sampled)."""

    keys: pa.Array
    split_blocks: int = 0
    sampled_records: int = 0


def _codes(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    codes = pc.fill_null(keys.dictionary_encode().indices, -1).to_numpy(zero_copy_only=False)
    sizes = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0, np.int64)
    return codes.astype(np.int64), sizes


def limit_blocks(
    keys: pa.Array,
    sub_keys: Sequence[tuple[str, pa.Array]],
    max_block: int,
    log: logging.Logger,
    rule: str,
) -> Limited:
    """``keys`` (one per record, null: not blocked) with every block of more
    than ``max_block`` records split on ``sub_keys`` (name, standardized
    values), in order, then sampled (see the module docstring)."""
    codes, sizes = _codes(keys)
    big = np.flatnonzero(sizes > max_block)
    if not len(big):
        return Limited(keys)
    examples = [(keys[int(np.flatnonzero(codes == c)[0])].as_py(), int(sizes[c])) for c in big]
    oversized = np.isin(codes, big)
    used: list[str] = []
    for name, values in sub_keys:
        prefix = pc.fill_null(
            pc.utf8_slice_codeunits(pc.cast(values, pa.string()), 0, SUB_KEY_CHARS), ""
        )
        extended = pc.binary_join_element_wise(keys, prefix, _SEP)
        keys = pc.if_else(pa.array(oversized), extended, keys)
        used.append(name)
        codes, sizes = _codes(keys)
        oversized = np.isin(codes, np.flatnonzero(sizes > max_block))
        if not oversized.any():
            break
    largest = int(sizes[codes[oversized]].max()) if oversized.any() else 0
    for example, size in examples[:NAMED_BLOCKS]:
        log.warning(
            "identity_match: block %r of rule %s has %d records; split on the first %d "
            "characters of %s%s",
            example,
            rule,
            size,
            SUB_KEY_CHARS,
            ", ".join(used) or "no field (the rule uses them all)",
            f"; pieces of up to {largest} records still sampled to {max_block}" if largest else "",
        )
    limited = Limited(keys, split_blocks=len(big))
    if oversized.any():
        limited.keys = _sampled(keys, codes, sizes, max_block)
        limited.sampled_records = int(limited.keys.null_count - keys.null_count)
    return limited


def _sampled(keys: pa.Array, codes: np.ndarray, sizes: np.ndarray, max_block: int) -> pa.Array:
    """``keys`` with the records of each block past its first ``max_block`` set to null."""
    big = np.flatnonzero(sizes > max_block)
    order = np.argsort(codes, kind="stable")
    rank = np.empty(len(codes), np.int64)
    starts = np.searchsorted(codes[order], codes[order], side="left")
    rank[order] = np.arange(len(codes)) - starts
    drop = np.isin(codes, big) & (rank >= max_block)
    return pc.if_else(pa.array(drop), pa.scalar(None, keys.type), keys)
