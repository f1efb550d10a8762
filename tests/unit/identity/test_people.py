"""The synthetic people generator: deterministic, with the truth and damage it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.datagen.people import SCHEMA, Corruption, generate, write_people
from orchestrator.standardize import apply_step

REPO = Path(__file__).resolve().parents[3]


def people(rows: int, seed: int = 5, block_rows: int = 4000) -> pa.Table:
    return pa.concat_tables(generate(rows, seed, block_rows=block_rows))


def test_same_seed_same_bytes_other_seed_other_people(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    assert write_people(a, 3000, seed=11) == 3000
    write_people(b, 3000, seed=11)
    write_people(c, 3000, seed=12)
    assert a.read_bytes() == b.read_bytes()
    assert not pq.read_table(a).equals(pq.read_table(c))


def test_a_larger_run_extends_a_smaller_one_block_by_block() -> None:
    small = people(1000, block_rows=500)
    large = people(1700, block_rows=500)
    assert large.slice(0, 1000).equals(small)
    assert large.num_rows == 1700


def test_ids_truth_and_zipf_duplicates() -> None:
    table = people(12_000)
    assert table.schema == SCHEMA
    assert sorted(table["person_id"].to_pylist()) == list(range(12_000))
    clusters = table["cluster_id"].to_numpy()
    _, sizes = np.unique(clusters, return_counts=True)
    assert 3000 < sizes.size < 9000  # duplicates exist, singletons dominate
    histogram = np.bincount(sizes)
    assert histogram[1] > histogram[2] > histogram[3] > 0  # Zipf-like decay
    assert sizes.max() >= 8


def test_duplicates_carry_the_promised_damage() -> None:
    table = people(12_000).sort_by("cluster_id")
    rows = table.to_pylist()
    given = apply_step("given_name", table["first_name"]).to_pylist()
    clean_first = apply_step("name", table["first_name"]).to_pylist()
    clean_last = apply_step("name", table["last_name"]).to_pylist()
    phones = apply_step("phone", table["phone"]).to_pylist()
    seen = {"nickname": 0, "typo": 0, "swap": 0, "moved": 0, "phone": 0, "case": 0}
    for i in range(1, len(rows)):
        prev, cur = rows[i - 1], rows[i]
        if prev["cluster_id"] != cur["cluster_id"]:
            continue
        if clean_first[i] != clean_first[i - 1] and given[i] == given[i - 1]:
            seen["nickname"] += 1
        if clean_last[i] and clean_last[i - 1] and clean_last[i] != clean_last[i - 1]:
            seen["typo"] += 1
        if clean_first[i] == clean_last[i - 1] and clean_last[i] == clean_first[i - 1]:
            seen["swap"] += 1
        if cur["postcode"] != prev["postcode"]:
            seen["moved"] += 1
        if phones[i] and phones[i - 1] and phones[i] != phones[i - 1]:
            seen["phone"] += 1
        if cur["last_name"] != prev["last_name"] and clean_last[i] == clean_last[i - 1]:
            seen["case"] += 1
    assert all(count > 5 for count in seen.values()), seen
    for column in ("first_name", "dob", "email", "phone", "street"):
        assert table[column].null_count > 0, column


def test_households_share_an_address_with_different_surnames() -> None:
    table = people(12_000)
    key = pc.binary_join_element_wise(table["street"], table["postcode"], "|")
    grouped = (
        pa.table({"key": key, "cluster": table["cluster_id"], "last": table["last_name"]})
        .drop_null()
        .group_by("key")
        .aggregate([("cluster", "count_distinct"), ("last", "count_distinct")])
    )
    shared = grouped.filter(pc.greater(grouped["cluster_count_distinct"], 1))
    assert shared.num_rows > 100
    assert pc.sum(pc.greater(shared["last_count_distinct"], 1)).as_py() > 20


def test_values_standardize_cleanly() -> None:
    table = people(5000)
    for column, step in (("phone", "phone"), ("dob", "date"), ("email", "email")):
        # every non-missing generated value is a valid phone / date / email
        assert apply_step(step, table[column]).null_count == table[column].null_count, column


def test_make_people_script(tmp_path: Path) -> None:
    out = tmp_path / "people.parquet"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts/make_people.py"), "--rows", "2k", "--seed", "3",
         "--out", str(out), "--truth-column", "truth"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.startswith("2000 rows in ")
    assert pq.read_schema(out).names[-1] == "truth"
    write_people(tmp_path / "none.parquet", 10, seed=1, truth_column=None)
    assert "cluster_id" not in pq.read_schema(tmp_path / "none.parquet").names


def test_copies_per_person_follow_the_zipf_law_it_draws_from() -> None:
    """P(k copies) = k^-s / zeta(s) for s = Corruption.dup_exponent (2.2), below the cap."""
    exponent = Corruption().dup_exponent
    _, sizes = np.unique(people(60_000, block_rows=20_000)["cluster_id"], return_counts=True)
    k = np.arange(1, 2_000_001, dtype=np.float64)
    zeta = (k**-exponent).sum() + 2_000_000 ** (1 - exponent) / (exponent - 1)
    for copies in (1, 2, 3, 4):
        expected = copies**-exponent / zeta
        share = float((sizes == copies).mean())
        assert abs(share - expected) < 0.02, (copies, share, expected)
    assert sizes.max() <= Corruption().max_copies


def test_transpositions_and_phonetic_spellings_when_asked_for() -> None:
    """With only those two kinds of damage on, copies of one person's surname
    differ from the person's first row by two adjacent letters swapped, or by a
    sound-alike substitution (anything else counts as the latter: both copies
    may be damaged). Both kinds must show up."""
    only = Corruption(
        typo=0, transpose=0.5, phonetic=0.5, nickname=0, swap_names=0, missing=0, moved=0,
        new_phone=0, new_email=0, dob_typo=0,
    )  # fmt: skip
    table = pa.concat_tables(generate(6000, 9, only, block_rows=3000)).sort_by("person_id")
    last = apply_step("name", table["last_name"]).to_pylist()
    first_of: dict[int, str] = {}
    swapped = sounded = 0
    for cluster, name in zip(table["cluster_id"].to_pylist(), last, strict=True):
        original = first_of.setdefault(cluster, name)
        if name == original or len(name) != len(original):
            sounded += name != original  # a substitution that changed the length
            continue
        diff = [i for i, (a, b) in enumerate(zip(name, original, strict=True)) if a != b]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and name[diff[0]] == original[diff[1]]:
            swapped += 1
        else:
            sounded += 1
    assert swapped > 50 and sounded > 50, (swapped, sounded)
