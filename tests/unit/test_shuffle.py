"""The shuffle: stable key hash, fenced map outputs, reduce ranges, bounded reads,
and map_reduce results equal to single-process ones (property tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.planning.parquet_chunker import plan_parquet_chunks
from orchestrator.shuffle.keys import key_table, partition_ids, row_hashes
from orchestrator.shuffle.manifest import (
    Manifest,
    PartitionTooLarge,
    ReduceRange,
    build_manifest,
    choose_partitions,
    plan_reduce_ranges,
    read_partition,
)
from orchestrator.shuffle.reduce_ops import aggregate, dedupe
from orchestrator.shuffle.spill import (
    DATA_FILE,
    INDEX_FILE,
    MapOutput,
    partition_table,
    read_index,
    write_map_output,
)
from orchestrator.spec.model import ChunkingSpec, JobSpec
from orchestrator.spec.strategy import StrategySpec
from tests.phase_runner import run_phases, slabs_of_size

REPO = Path(__file__).resolve().parents[2]


def people(n: int) -> pa.Table:
    emails = [
        f" User{i % 37}@Example.org " if i % 3 else f"user{i % 37}@example.org" for i in range(n)
    ]
    return pa.table({"email": emails, "n": list(range(n))})


def test_partitioning_keeps_every_row_once_in_input_order_and_keys_together() -> None:
    table = people(1000)
    ordered, runs = partition_table(table, ["email"], ["lower", "trim"], 8)
    assert ordered.num_rows == 1000
    assert sorted(ordered.column("n").to_pylist()) == list(range(1000))
    seen: dict[str, int] = {}
    for partition, offset, length in runs:
        piece = ordered.slice(offset, length)
        ns = piece.column("n").to_pylist()
        assert ns == sorted(ns)  # input order within a partition
        for email in piece.column("email").to_pylist():
            key = email.strip().lower()
            assert seen.setdefault(key, partition) == partition


def test_hash_ignores_integer_width_and_is_the_same_in_another_process() -> None:
    narrow = pa.table({"k": pa.array([1, 2, 3, None], pa.int32())})
    wide = pa.table({"k": pa.array([1, 2, 3, None], pa.int64())})
    assert row_hashes(narrow).equals(row_hashes(wide))
    here = row_hashes(pa.table({"k": ["a", "b", None]})).to_pylist()
    code = (
        "import pyarrow as pa; from orchestrator.shuffle.keys import row_hashes;"
        "print(row_hashes(pa.table({'k': ['a', 'b', None]})).to_pylist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(here)


def test_map_output_is_one_committed_directory_per_attempt(tmp_path: Path) -> None:
    table = people(500)
    out = write_map_output(table, str(tmp_path), "part-00003.attempt-2", ["email"], 4, ["lower"])
    assert out.directory == str(tmp_path / "shuffle" / "part-00003.attempt-2")
    assert sorted(os.listdir(out.directory)) == [DATA_FILE, INDEX_FILE]
    assert os.listdir(tmp_path / "shuffle") == ["part-00003.attempt-2"]  # no temp left
    assert read_index(out.directory) == out
    assert sum(p.rows for p in out.pieces) == 500
    with pytest.raises(OSError):  # a committed attempt is never overwritten
        write_map_output(table, str(tmp_path), "part-00003.attempt-2", ["email"], 4)
    assert os.listdir(tmp_path / "shuffle") == ["part-00003.attempt-2"]
    assert read_index(out.directory) == out


def test_missing_key_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"key column.*emial.*not in the rows"):
        write_map_output(people(5), str(tmp_path), "part-00000.attempt-1", ["emial"], 2)


def _manifest(sizes: list[tuple[int, int]]) -> Manifest:
    from orchestrator.shuffle.spill import Piece

    pieces = tuple(Piece(p, p, p + 1, r, b) for p, (r, b) in enumerate(sizes) if r)
    return Manifest(("k",), (), len(sizes), (MapOutput("/x", len(sizes), "h", 0, 0, pieces),))


def test_reduce_ranges_coalesce_small_partitions_and_split_big_ones() -> None:
    manifest = _manifest([(10, 30), (10, 30), (0, 0), (10, 30), (100, 500), (10, 50)])
    ranges = plan_reduce_ranges(manifest, target_bytes=100, max_bytes=200)
    assert ranges == [
        ReduceRange(0, 4, 30, 90),
        ReduceRange(4, 5, 20, 100, 0, 5),
        ReduceRange(4, 5, 20, 100, 1, 5),
        ReduceRange(4, 5, 20, 100, 2, 5),
        ReduceRange(4, 5, 20, 100, 3, 5),
        ReduceRange(4, 5, 20, 100, 4, 5),
        ReduceRange(5, 6, 10, 50),
    ]
    assert choose_partitions(0) == 1
    assert choose_partitions(10 * 128 * 1024 * 1024) == 40


@given(
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=40),
    target=st.integers(20, 200),
)
def test_reduce_ranges_are_cut_even_and_cover_every_partition_once(
    sizes: list[int], target: int
) -> None:
    manifest = _manifest([(s, s) for s in sizes])
    ranges = plan_reduce_ranges(manifest, target_bytes=target, max_bytes=4 * target)
    covered = [p for r in ranges for p in range(r.first, r.stop) if sizes[p]]
    assert covered == [p for p, s in enumerate(sizes) if s]  # each once, in order
    total = sum(sizes)
    if total:
        assert len(ranges) <= -(-total // target)  # the fewest of about target bytes
        assert max(r.nbytes for r in ranges) <= min(4 * target, total / len(ranges) + max(sizes))


def test_reduce_ranges_split_work_evenly_not_first_fit() -> None:
    manifest = _manifest([(22, 22)] * 9)
    ranges = plan_reduce_ranges(manifest, target_bytes=134, max_bytes=256)
    # filling up to the target made 6 + 3 partitions: one worker idle a third of the phase
    assert [(r.first, r.stop) for r in ranges] == [(0, 4), (4, 9)]


def _map_all(table: pa.Table, tmp_path: Path, chunk_rows: int, partitions: int) -> Manifest:
    outputs = [
        write_map_output(
            table.slice(start, chunk_rows),
            str(tmp_path),
            f"part-{i:05d}.attempt-1",
            ["email"],
            partitions,
            ["lower", "trim"],
        )
        for i, start in enumerate(range(0, table.num_rows, chunk_rows))
    ]
    return build_manifest(["email"], ["lower", "trim"], partitions, outputs)


def test_sub_partitions_split_a_partition_without_splitting_a_key(tmp_path: Path) -> None:
    manifest = _map_all(people(2000), tmp_path, 300, 3)
    whole = read_partition(manifest, ReduceRange(1, 2, 0, 0))
    subs = [read_partition(manifest, ReduceRange(1, 2, 0, 0, s, 4)) for s in range(4)]
    assert sorted(pa.concat_tables(subs).column("n").to_pylist()) == sorted(
        whole.column("n").to_pylist()
    )
    keys = [set(key_table(t, ["email"], ["lower", "trim"]).column(0).to_pylist()) for t in subs]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not keys[i] & keys[j]
    ns = whole.column("n").to_pylist()
    assert ns == sorted(ns)  # map chunk order, then row order: input order
    by_email = read_partition(manifest, ReduceRange(1, 2, 0, 0), sort_by=["email", "n"])
    assert by_email.column("email").to_pylist() == sorted(by_email.column("email").to_pylist())


def test_a_hot_key_is_refused_with_its_name_not_read_past_the_limit(tmp_path: Path) -> None:
    n = 20_000
    emails = ["hot@example.org" if i % 10 < 3 else f"u{i}@example.org" for i in range(n)]
    table = pa.table({"email": emails, "pad": ["x" * 50] * n})
    manifest = _map_all(table, tmp_path, 1000, 4)
    ranges = plan_reduce_ranges(manifest, target_bytes=100_000, max_bytes=200_000)
    hot = int(partition_ids(row_hashes(pa.table({"email": ["hot@example.org"]})), 4)[0].as_py())
    hot_ranges = [r for r in ranges if r.first == hot]
    assert len(hot_ranges) > 1  # the planner split the big partition
    errors = []
    for rng in hot_ranges:
        try:
            read_partition(manifest, rng, max_bytes=200_000)
        except PartitionTooLarge as exc:
            errors.append(str(exc))
    assert len(errors) == 1  # only the sub-partition holding the hot key
    assert "email='hot@example.org'" in errors[0]
    assert "cannot be split" in errors[0]


def _parquet(table: pa.Table, path: Path, chunk_rows: int) -> list:
    pq.write_table(table, path, row_group_size=max(1, chunk_rows))
    return plan_parquet_chunks(str(path), ChunkingSpec(rows=chunk_rows))


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 30),  # key
        st.one_of(st.none(), st.integers(-1000, 1000)),  # value
        st.sampled_from(["a", "b", "c", "d", None]),  # tag
    ),
    min_size=0,
    max_size=300,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=rows_strategy, partitions=st.integers(1, 9), chunk_rows=st.integers(1, 120))
def test_map_reduce_group_by_equals_pyarrow_group_by(
    tmp_path_factory: pytest.TempPathFactory, rows: list, partitions: int, chunk_rows: int
) -> None:
    tmp = tmp_path_factory.mktemp("groupby")
    table = pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.int32()),
            "v": pa.array([r[1] for r in rows], pa.int64()),
            "tag": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    aggs = [["v", "sum"], ["v", "count"], ["tag", "count_distinct"], [[], "count_all"]]
    job = JobSpec(
        name="g",
        python="tests.procs:group_by_reduce",
        params={"keys": ["k"], "aggregations": aggs},
    )
    strategy = StrategySpec(type="map_reduce", partition_by=("k",), partitions=partitions)
    chunks = _parquet(table, tmp / "in.parquet", chunk_rows) if rows else []
    run = run_phases(job, strategy, chunks, str(tmp / "staging"))
    assert [p.name for p in run.phases] == ["map", "reduce"]
    got = run.output()
    want = table.group_by(["k"]).aggregate([(c, f) for c, f in aggs])
    if not rows:
        assert got.num_rows == 0
        return
    order = [("k", "ascending")]
    assert got.sort_by(order).equals(want.sort_by(order))


def single_process_dedupe(table: pa.Table) -> set[tuple]:
    """The reference: first row of each lower(trim(email)) in input order; null keys kept."""
    seen: set[str] = set()
    keep = []
    for row in table.to_pylist():
        email = row["email"]
        if email is None:
            keep.append(tuple(row.values()))
            continue
        key = email.strip().lower()
        if key not in seen:
            seen.add(key)
            keep.append(tuple(row.values()))
    return set(keep)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    emails=st.lists(
        st.one_of(
            st.none(), st.sampled_from(["a@x.org", " A@x.org", "b@y.org ", "B@Y.ORG", "c@z"])
        ),
        max_size=200,
    ),
    partitions=st.integers(1, 6),
    chunk_rows=st.integers(1, 50),
    slab_bytes=st.sampled_from([1, 200, 1 << 30]),  # a partition per slab ... one slab
)
def test_map_reduce_dedupe_equals_the_single_process_result(
    tmp_path_factory: pytest.TempPathFactory,
    emails: list,
    partitions: int,
    chunk_rows: int,
    slab_bytes: int,
) -> None:
    tmp = tmp_path_factory.mktemp("dedupe")
    table = pa.table({"email": pa.array(emails, pa.string()), "n": list(range(len(emails)))})
    params = {"key": ["email"], "normalize": ["lower", "trim"], "keep": "first"}
    job = JobSpec(name="d", python="orchestrator.processors.dedupe:dedupe", params=params)
    strategy = StrategySpec(
        type="map_reduce",
        partition_by=("email",),
        normalize=("lower", "trim"),
        partitions=partitions,
    )
    chunks = _parquet(table, tmp / "in.parquet", chunk_rows) if emails else []
    with slabs_of_size(slab_bytes):  # dedupe is partition-wise: called once per slab
        run = run_phases(job, strategy, chunks, str(tmp / "staging"))
    got = run.output()
    assert {tuple(r.values()) for r in got.to_pylist()} == single_process_dedupe(table)
    assert got.num_rows == len(single_process_dedupe(table))


def test_reduce_helpers_match_pyarrow() -> None:
    table = pa.table({"e": [" A@x", "a@x", None, None, "b"], "v": [1, 2, 3, 4, 5]})
    assert dedupe(table, ["e"], ["lower", "trim"]).column("v").to_pylist() == [1, 3, 4, 5]
    assert dedupe(table, ["e"], ["lower", "trim"], "last", "dedupe").column("v").to_pylist() == [
        2,
        4,
        5,
    ]
    aggs = [("v", "sum"), ("v", "min"), ("v", "max"), ("v", "mean"), ([], "count_all")]
    keys = pa.table({"k": pc.utf8_lower(table.column("e")), "v": table.column("v")})
    assert aggregate(keys, ["k"], aggs).equals(
        keys.group_by(["k"], use_threads=False).aggregate(aggs)
    )


def test_planning_a_reduce_does_not_import_polars_and_the_hash_id_names_its_version() -> None:
    """The coordinator plans reduce phases from shuffle/manifest.py; polars
    (0.3 s to import) is the workers' hash only."""
    code = (
        "import sys, orchestrator.strategies.map_reduce as m, orchestrator.shuffle.keys as k\n"
        "assert 'polars' not in sys.modules, 'polars imported'\n"
        "import polars\n"
        "assert k.HASH_ID == f'polars-{polars.__version__}-hash_rows-{k.HASH_SEED}', k.HASH_ID\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
