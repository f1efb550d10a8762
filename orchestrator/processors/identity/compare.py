"""Phase ``compare`` (reduce, one chunk per shuffle partition range): pairs and patterns.

Rules run in their declared order. Within a rule, every pair of records that
share its key is generated (``matching/blocking.py``); a pair on which an
earlier rule's key already agrees is dropped, because that rule produced it
(in whichever partition its block went), so across all partitions no pair is
compared twice. A block larger than ``max_block`` records is not expanded
whole: it is split on a sub-key, and what is still too large sampled, with a
warning naming the block (``oversized.py``: never a silent quadratic blow-up). In link mode
only pairs of records from different datasets are kept (the random pairs
too), and the records are counted per dataset: all possible pairs are then
the cross-dataset ones.

The chunk's part is the candidate pairs (``id_l``, ``id_r``, ``rule``,
``pattern``, and for term-frequency fields the agreed value), plus sampled
random pairs of this partition's records (``rule`` = -1) for estimating
``u``. Its small statistics (pattern counts, pairs per rule, largest blocks,
records, term-frequency value counts) go to ``identity/compare-<seq>.json``
and ``tf-<seq>.arrow`` for the train phase.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.matching.blocking import BlockedPairs, block_pairs, drop_found_earlier
from orchestrator.matching.blocking_recall import rule_masks
from orchestrator.matching.comparisons import compare_pairs
from orchestrator.matching.config import MatchConfig
from orchestrator.matching.patterns import count_patterns, pack
from orchestrator.matching.term_frequency import value_counts
from orchestrator.processors.identity.files import (
    BLOCK,
    DATASET_INDEX,
    PRIMARY,
    RANDOM,
    RULE,
    compare_stats_path,
    key_column,
    tf_counts_path,
    write_arrow,
    write_json,
)
from orchestrator.processors.identity.oversized import limit_blocks

#: random pairs sampled per record of the partition (for u), at least MIN_RANDOM
RANDOM_PER_RECORD = 2
MIN_RANDOM = 2000
LARGEST_BLOCKS = 5


def radices(config: MatchConfig) -> list[int]:
    return [f.comparison.level_count for f in config.fields]


def candidate_pairs(
    table: pa.Table, config: MatchConfig, log: logging.Logger
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Row pairs of ``table`` (left, right, rule), each pair once, and blocking statistics."""
    rules = table[RULE].to_numpy()
    origin = table[DATASET_INDEX].to_numpy() if config.linking else None
    lefts, rights, which = [], [], []
    per_rule, largest, sampled, split = [], [], 0, 0
    for index in range(len(config.rules)):
        rows = np.flatnonzero(rules == index)
        sub = table.take(pa.array(rows))
        keys = sub[BLOCK].combine_chunks()
        counts = pc.value_counts(keys)
        if len(counts):
            top = np.argsort(-counts.field("counts").to_numpy())[:LARGEST_BLOCKS]
            largest += [(int(counts.field("counts")[int(t)].as_py()), index) for t in top]
        in_rule = {t.field for t in config.rules[index]}
        subs = [
            (f.name, sub[f.name].combine_chunks()) for f in config.fields if f.name not in in_rule
        ]
        limited = limit_blocks(keys, subs, config.max_block, log, config.rule_label(index))
        sampled += limited.sampled_records
        split += limited.split_blocks
        pairs = block_pairs(limited.keys)
        earlier = [sub[key_column(j)] for j in range(index)]
        pairs = drop_found_earlier(BlockedPairs(pairs.left, pairs.right), earlier)
        if origin is not None:  # link: records of one dataset are never paired
            sub_origin = origin[rows]
            cross = sub_origin[pairs.left] != sub_origin[pairs.right]
            pairs = BlockedPairs(pairs.left[cross], pairs.right[cross])
        per_rule.append(len(pairs))
        lefts.append(rows[pairs.left])
        rights.append(rows[pairs.right])
        which.append(np.full(len(pairs), index, np.int8))
    stats = {
        "pairs_by_rule": per_rule,
        "largest_blocks": sorted(largest, reverse=True)[:LARGEST_BLOCKS],
        "records_not_paired_in_oversized_blocks": sampled,
        "oversized_blocks_split": split,
    }
    return np.concatenate(lefts), np.concatenate(rights), np.concatenate(which), stats


def _random_pairs(primary: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if len(primary) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(primary), count)
    j = (i + rng.integers(1, len(primary), count)) % len(primary)
    return primary[i], primary[j]


def _pattern_rules(
    table: pa.Table, config: MatchConfig, codes: np.ndarray, left: np.ndarray, right: np.ndarray
) -> list[list[int]]:
    """Compared pairs counted by (pattern, mask of the rules whose key agrees on
    them): what the train phase estimates the blocking's recall from."""
    keys = []
    for rule in range(len(config.rules)):
        column = table[key_column(rule)].combine_chunks().dictionary_encode()
        keys.append(pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False))
    masks = rule_masks(keys, left, right)
    if not len(codes):
        return []
    shift = len(config.rules)  # one number per (pattern, mask): a 1-D unique is 10x a 2-D one
    grouped, counts = np.unique((codes.astype(np.int64) << shift) | masks, return_counts=True)
    low = (1 << shift) - 1
    return [[int(g >> shift), int(g & low), int(c)] for g, c in zip(grouped, counts, strict=True)]


def compare(
    table: pa.Table, config: MatchConfig, staging: str, seq: int, seed: int, log: logging.Logger
) -> pa.Table:
    """This partition's pairs part; writes its statistics (see the module docstring)."""
    left, right, rule, stats = candidate_pairs(table, config, log)
    ids = table[config.id].combine_chunks()
    same = pc.equal(ids.take(pa.array(left)), ids.take(pa.array(right))).to_numpy(
        zero_copy_only=False
    )
    if same.any():  # one record blocked twice (a repeated id): nothing to compare
        left, right, rule = left[~same], right[~same], rule[~same]
    primary = np.flatnonzero(table[PRIMARY].to_numpy(zero_copy_only=False))
    count = min(max(RANDOM_PER_RECORD * len(primary), MIN_RANDOM), config.random_pairs)
    ri, rj = _random_pairs(primary, count, seed)
    keep = (
        pc.not_equal(ids.take(pa.array(ri)), ids.take(pa.array(rj))).to_numpy(zero_copy_only=False)
        if len(ri)
        else np.zeros(0, bool)
    )
    by_dataset: list[int] = []
    if config.linking:
        origin = table[DATASET_INDEX].to_numpy()
        keep &= origin[ri] != origin[rj]
        by_dataset = np.bincount(origin[primary], minlength=len(config.datasets)).tolist()
    ri, rj = ri[keep], rj[keep]
    all_left = np.concatenate([left, ri]).astype(np.int64)
    all_right = np.concatenate([right, rj]).astype(np.int64)
    all_rule = np.concatenate([rule, np.full(len(ri), RANDOM, np.int8)])
    li, lj = pa.array(all_left), pa.array(all_right)
    columns = [table[f.name].combine_chunks() for f in config.fields]
    comparisons = [f.comparison for f in config.fields]
    levels = compare_pairs(comparisons, columns, all_left, all_right)
    codes = pack(levels, radices(config)) if len(levels) else np.zeros(0, np.int64)
    a, b = ids.take(li), ids.take(lj)
    swap = pc.fill_null(pc.greater(a, b), False)
    out: dict[str, Any] = {
        "id_l": pc.if_else(swap, b, a),
        "id_r": pc.if_else(swap, a, b),
        "rule": pa.array(all_rule, pa.int8()),
        "pattern": pa.array(codes, pa.int64()),
    }
    primary_rows = pa.array(primary)
    tf_tables = []
    for index, f in enumerate(config.fields):
        if not f.term_frequency:
            continue
        exact = levels[:, index] == f.comparison.level_count - 1
        value = pc.cast(columns[index].take(li), pa.string())
        out[f"tf_{f.name}"] = pc.if_else(pa.array(exact), value, pa.scalar(None, pa.string()))
        counted = value_counts(columns[index].take(primary_rows))
        tf_tables.append(counted.append_column("field", pa.array([f.name] * len(counted))))
    blocked = all_rule >= 0
    patterns, pattern_counts = count_patterns(codes[blocked])
    rpatterns, rcounts = count_patterns(codes[~blocked])
    stats.update(
        {
            "seq": seq,
            "records": len(primary),
            "records_by_dataset": [int(n) for n in by_dataset],
            "patterns": [[int(p), int(c)] for p, c in zip(patterns, pattern_counts, strict=True)],
            "random_patterns": [[int(p), int(c)] for p, c in zip(rpatterns, rcounts, strict=True)],
            "pattern_rules": _pattern_rules(table, config, codes[blocked], left, right),
        }
    )
    if tf_tables:
        write_arrow(tf_counts_path(staging, seq), pa.concat_tables(tf_tables))
    write_json(compare_stats_path(staging, seq), stats)
    return pa.table(out)
