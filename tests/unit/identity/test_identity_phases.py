"""The identity_match phases in one process, over real shuffle partitions.

prepare per input chunk → the shuffle's own partitioning by ``_block`` →
compare per partition: every pair that some blocking rule's key agrees on is
compared exactly once (in whichever partition it lands), the same set one
process finds by brute force; oversized blocks are split on a sub-key, and
sampled when that is not enough, with a warning;
clusters of edges from many partitions equal a plain union-find.
"""

from __future__ import annotations

import json
import logging
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from orchestrator.datagen.people import generate
from orchestrator.errors import ProcessorError
from orchestrator.matching.comparisons import Comparison
from orchestrator.matching.config import parse_config
from orchestrator.processors.identity.cluster import components
from orchestrator.processors.identity.compare import compare
from orchestrator.processors.identity.prepare import prepare, rule_keys, standardized
from orchestrator.shuffle.spill import partition_table

PARAMS = {
    "id": "person_id",
    "fields": {
        "first_name": {"standardize": ["given_name"], "compare": "jaro_winkler"},
        "last_name": {"standardize": ["name"], "compare": "jaro_winkler", "term_frequency": True},
        "dob": {"standardize": ["date"], "compare": "date"},
        "email": {"standardize": ["email"], "compare": "exact"},
    },
    "blocking": [
        ["last_name_soundex", "dob_year"],
        ["email"],
        ["first_name", {"last_name": "swapped"}],
    ],
}
LOG = logging.getLogger("test.identity")


def partitions_of(table: pa.Table, config, chunks: int, partitions: int) -> list[pa.Table]:
    """prepare over ``chunks`` input chunks, rows routed as the shuffle routes them."""
    step = -(-table.num_rows // chunks)
    routed: dict[int, list[pa.Table]] = {}
    for start in range(0, table.num_rows, step):
        rows = prepare(table.slice(start, step), config)
        ordered, runs = partition_table(rows, ["_block"], [], partitions)
        for partition, offset, length in runs:
            routed.setdefault(partition, []).append(ordered.slice(offset, length))
    return [pa.concat_tables(routed[p]) for p in sorted(routed)]


def brute_force_pairs(table: pa.Table, config) -> set[tuple[int, int]]:
    keys = [k.to_pylist() for k in rule_keys(config.rules, standardized(table, config))]
    ids = table["person_id"].to_pylist()
    found = set()
    for i, j in combinations(range(table.num_rows), 2):
        if any(k[i] is not None and k[i] == k[j] for k in keys):
            found.add((min(ids[i], ids[j]), max(ids[i], ids[j])))
    return found


def test_every_blocked_pair_is_compared_once_across_partitions(tmp_path: Path) -> None:
    config = parse_config(PARAMS)
    table = pa.concat_tables(generate(600, 2, block_rows=600))
    parts = partitions_of(table, config, chunks=3, partitions=5)
    assert len(parts) > 1
    pairs = pa.concat_tables(
        [compare(p, config, str(tmp_path), seq, seq, LOG) for seq, p in enumerate(parts)]
    )
    blocked = pairs.filter(pa.compute.greater_equal(pairs["rule"], 0))
    got = list(zip(blocked["id_l"].to_pylist(), blocked["id_r"].to_pylist(), strict=True))
    assert len(got) == len(set(got)), "a pair was compared twice"
    assert set(got) == brute_force_pairs(table, config)
    # a pair is kept under the first rule whose key agrees on it
    rules = dict(zip(got, blocked["rule"].to_pylist(), strict=True))
    keys = [k.to_pylist() for k in rule_keys(config.rules, standardized(table, config))]
    row = {pid: i for i, pid in enumerate(table["person_id"].to_pylist())}
    for (a, b), rule in rules.items():
        first = next(
            k for k, v in enumerate(keys) if v[row[a]] is not None and v[row[a]] == v[row[b]]
        )
        assert rule == first


def _one_email_block(
    names: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> tuple[pa.Table, pa.Table]:
    """40 records sharing one email (first names cycling through ``names``),
    compared with ``max_block`` 10: the input and its blocked pairs."""
    config = parse_config({**PARAMS, "max_block": 10, "blocking": [["email"]]})
    n = 40
    table = pa.table(
        {
            "person_id": pa.array(range(n), pa.int64()),
            "first_name": [names[i % len(names)] for i in range(n)],
            "last_name": ["lee"] * n,
            "dob": ["1990-01-01"] * n,
            "email": ["shared@example.com"] * n,
        }
    )
    with caplog.at_level(logging.WARNING, logger="test.identity"):
        pairs = compare(prepare(table, config), config, str(tmp_path), 0, 0, LOG)
    return table, pairs.filter(pa.compute.greater_equal(pairs["rule"], 0))


def test_an_oversized_block_no_sub_key_splits_is_sampled_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, blocked = _one_email_block(["ann"], tmp_path, caplog)
    assert blocked.num_rows == 10 * 9 // 2
    assert "has 40 records; split on the first 3 characters of first_name" in caplog.text
    assert "pieces of up to 40 records still sampled to 10" in caplog.text


def test_an_oversized_block_is_split_on_the_next_field_and_nothing_sampled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table, blocked = _one_email_block(["ann", "bob", "cat", "dan"], tmp_path, caplog)
    # four pieces of ten records, each paired whole: only pairs that share a first name
    assert blocked.num_rows == 4 * (10 * 9 // 2)
    first = dict(zip(table["person_id"].to_pylist(), table["first_name"].to_pylist(), strict=True))
    assert all(
        first[a] == first[b]
        for a, b in zip(blocked["id_l"].to_pylist(), blocked["id_r"].to_pylist(), strict=True)
    )
    assert "has 40 records; split on the first 3 characters of first_name" in caplog.text
    assert "sampled" not in caplog.text
    stats = json.loads((tmp_path / "identity" / "compare-00000.json").read_text())
    assert stats["oversized_blocks_split"] == 1
    assert stats["records_not_paired_in_oversized_blocks"] == 0


def test_components_equal_a_plain_union_find() -> None:
    rng = np.random.default_rng(5)
    ids = rng.choice(10_000, 400, replace=False)
    left, right = rng.choice(ids, 300), rng.choice(ids, 300)
    keep = left != right
    left, right = left[keep], right[keep]
    got = components(pa.array(left), pa.array(right)).to_pydict()
    parent = {int(i): int(i) for i in np.r_[left, right]}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    expected = {i: root(i) for i in parent}
    assert dict(zip(got["id"], got["entity_id"], strict=True)) == expected
    sizes = {}
    for r in expected.values():
        sizes[r] = sizes.get(r, 0) + 1
    assert got["cluster_size"] == [sizes[expected[i]] for i in got["id"]]


@pytest.mark.parametrize(
    "comparison",
    [
        Comparison("jaro_winkler"),
        Comparison("token_set"),
        Comparison("exact"),
        Comparison("levenshtein"),
        Comparison("damerau_levenshtein", (3.0, 1.0)),
        Comparison("numeric", (5.0, 1.0)),
    ],
    ids=lambda c: c.kind,
)
def test_levels_by_row_pairs_equal_levels_of_taken_values(comparison: Comparison) -> None:
    """The compare phase's indexed path gives the levels the value path gives."""
    rng = np.random.default_rng(1)
    if comparison.kind == "numeric":
        values = pa.array(
            [None if rng.random() < 0.1 else float(rng.integers(0, 20)) for _ in range(300)]
        )
    else:
        letters = list("abcde ")
        values = pa.array(
            [
                None if rng.random() < 0.1 else "".join(rng.choice(letters, rng.integers(1, 7)))
                for _ in range(300)
            ]
        )
    left, right = rng.integers(0, 300, 4000), rng.integers(0, 300, 4000)
    expected = comparison.levels(values.take(pa.array(left)), values.take(pa.array(right)))
    assert (comparison.levels_of_pairs(values, left, right) == expected).all()


def test_a_repeated_id_fails_the_chunk_naming_its_rows() -> None:
    config = parse_config(PARAMS)
    table = pa.table(
        {
            "person_id": pa.array([1, 2, 1], pa.int64()),
            "first_name": ["ann", "bob", "ann"],
            "last_name": ["lee", "ray", "lee"],
            "dob": ["1990-01-01", "1980-02-02", "1990-01-01"],
            "email": ["a@x.com", "b@x.com", "a@x.com"],
        }
    )
    with pytest.raises(ProcessorError, match="id 1 of column 'person_id' is in rows 1 and 3"):
        prepare(table, config)
