"""Parquet and Arrow IPC chunks: row-group (batch) aligned, nothing lost, nothing twice."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import PlanningError
from orchestrator.io import readers
from orchestrator.io.readers import iter_chunk_batches, read_chunk
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.planning.parquet_chunker import (
    SPLIT_FACTOR,
    plan_arrow_chunks,
    plan_parquet_chunks,
    plan_row_group_ranges,
)
from orchestrator.spec.model import ChunkingSpec

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def make_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": pa.array([f"n{i}" for i in range(rows)]),
        }
    )


def write_parquet(path: Path, group_sizes: list[int]) -> pa.Table:
    """One row group per entry of ``group_sizes`` (zero-sized entries write nothing)."""
    table = make_table(sum(group_sizes))
    with pq.ParquetWriter(path, table.schema) as writer:
        offset = 0
        for n in group_sizes:
            if n:
                writer.write_table(table.slice(offset, n), row_group_size=n)
            offset += n
    return table


def assert_covers(chunks: list[ChunkDescriptor], total: int) -> None:
    """Ranges are contiguous, non-empty, in order, numbered 0..n-1 and cover [0, total)."""
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    position = 0
    for chunk in chunks:
        assert chunk.start == position < chunk.stop
        assert chunk.est_rows == chunk.stop - chunk.start
        position = chunk.stop
    assert position == total


@PROPERTY
@given(
    group_sizes=st.lists(st.integers(1, 60), max_size=10),
    target=st.integers(1, 70),
    data=st.data(),
)
def test_parquet_chunks_concatenate_to_the_whole_file(
    tmp_path: Path, group_sizes: list[int], target: int, data: st.DataObject
) -> None:
    path = tmp_path / "t.parquet"
    table = write_parquet(path, group_sizes)
    assert pq.ParquetFile(path).metadata.num_row_groups == len(group_sizes)

    chunks = plan_parquet_chunks(str(path), ChunkingSpec(rows=target))
    assert_covers(chunks, table.num_rows)

    starts = [sum(group_sizes[:i]) for i in range(len(group_sizes))]
    for chunk in chunks:
        groups = list(chunk.row_groups)
        assert groups == list(range(groups[0], groups[-1] + 1))
        first, last = groups[0], groups[-1]
        covered = (starts[first], starts[last] + group_sizes[last])
        if (chunk.start, chunk.stop) != covered:  # a part of one split group
            assert len(groups) == 1
            assert group_sizes[first] > SPLIT_FACTOR * target
            assert chunk.stop - chunk.start <= target
        elif len(groups) > 1:  # merged small groups stay within the target
            assert chunk.stop - chunk.start <= target

    columns = data.draw(st.sampled_from([None, ["name"]]))
    got = [read_chunk(c, columns=columns) for c in chunks]
    expected = table if columns is None else table.select(columns)
    assert pa.concat_tables([expected.slice(0, 0), *got]).equals(expected)

    streamed = [b for c in chunks for b in iter_chunk_batches(c, batch_size=7)]
    assert pa.Table.from_batches(streamed, schema=table.schema).equals(table)


@given(group_sizes=st.lists(st.integers(0, 10_000), max_size=40), target=st.integers(1, 3000))
@settings(max_examples=100, deadline=None)
def test_row_group_ranges_merge_keep_or_split(group_sizes: list[int], target: int) -> None:
    ranges = plan_row_group_ranges(group_sizes, target)
    position = 0
    for groups, start, stop in ranges:
        assert start == position < stop
        assert all(group_sizes[g] > 0 for g in groups)
        position = stop
    assert position == sum(group_sizes)
    for index, rows in enumerate(group_sizes):
        pieces = [r for r in ranges if index in r[0]]
        if rows == 0:
            assert pieces == []
        elif rows > SPLIT_FACTOR * target:
            assert len(pieces) == -(-rows // target)  # split into ceil(rows / target) ranges
        else:
            assert len(pieces) == 1  # kept whole


def test_a_big_group_is_kept_whole_up_to_the_split_factor(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet(path, [3, 3, 40, 100, 2])
    chunks = plan_parquet_chunks(str(path), ChunkingSpec(rows=10))
    assert [(c.row_groups, c.start, c.stop) for c in chunks[:2]] == [((0, 1), 0, 6), ((2,), 6, 46)]
    splits = [c for c in chunks if c.row_groups == (3,)]
    assert [(c.start, c.stop) for c in splits] == [(46 + 10 * k, 56 + 10 * k) for k in range(10)]
    assert chunks[-1].row_groups == (4,)
    assert read_chunk(splits[3]).column("id").to_pylist() == list(range(76, 86))


def test_pyarrow_default_row_groups_stay_whole_at_the_usual_target() -> None:
    # pyarrow writes 1Mi-row groups; cutting one into 250,000-row pieces would
    # decode it 3 times over (see SPLIT_FACTOR).
    groups = [1024 * 1024] * 3 + [562_816]
    ranges = plan_row_group_ranges(groups, 250_000)
    assert [r[0] for r in ranges] == [(0,), (1,), (2,), (3,)]


def test_byte_targets_use_the_mean_row_size_from_the_footer(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet(path, [100] * 10)
    meta = pq.ParquetFile(path).metadata
    row_bytes = sum(meta.row_group(i).total_byte_size for i in range(10)) / 1000
    chunks = plan_parquet_chunks(str(path), ChunkingSpec(rows=None, bytes=round(row_bytes * 300)))
    assert [c.row_groups for c in chunks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]


def test_a_chunk_of_whole_groups_reads_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 64)
    path = tmp_path / "t.parquet"
    table = write_parquet(path, [300, 200])
    (chunk,) = plan_parquet_chunks(str(path), ChunkingSpec(rows=500))
    got = read_chunk(chunk, columns=["name", "id"])
    assert got.column_names == ["name", "id"]
    assert got.equals(table.select(["name", "id"]))
    assert got.column("id").num_chunks > 1  # batches, not one buffer per column and group


def test_an_empty_parquet_file_has_no_chunks(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(make_table(0), path)
    assert plan_parquet_chunks(str(path), ChunkingSpec(rows=5)) == []


def test_a_file_that_is_not_parquet_is_a_planning_error(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"id,name\n1,a\n")
    with pytest.raises(PlanningError, match=r"t\.parquet"):
        plan_parquet_chunks(str(path), ChunkingSpec(rows=5))


def write_arrow(path: Path, batch_sizes: list[int]) -> pa.Table:
    table = make_table(sum(batch_sizes))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        offset = 0
        for n in batch_sizes:
            writer.write_batch(table.slice(offset, n).to_batches()[0] if n else _empty(table))
            offset += n
    return table


def _empty(table: pa.Table) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=table.schema)


@PROPERTY
@given(batch_sizes=st.lists(st.integers(0, 40), max_size=10), target=st.integers(1, 50))
def test_arrow_chunks_are_batch_ranges_covering_the_file(
    tmp_path: Path, batch_sizes: list[int], target: int
) -> None:
    path = tmp_path / "t.arrow"
    table = write_arrow(path, batch_sizes)
    chunks = plan_arrow_chunks(str(path), ChunkingSpec(rows=target))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    position = 0
    for chunk in chunks:
        assert chunk.kind == "arrow"
        assert chunk.start == position < chunk.stop
        rows = sum(batch_sizes[chunk.start : chunk.stop])
        assert chunk.est_rows == rows > 0
        if sum(1 for n in batch_sizes[chunk.start : chunk.stop] if n) > 1:
            assert rows <= target  # merged batches stay within the target
        position = chunk.stop
    assert sum(batch_sizes[position:]) == 0  # only empty batches may be left out

    got = pa.concat_tables([table.slice(0, 0), *(read_chunk(c) for c in chunks)])
    assert got.equals(table)
    if chunks:
        assert read_chunk(chunks[0], columns=["id"]).column_names == ["id"]


def test_sequence_chunks_read_as_empty_tables() -> None:
    chunk = ChunkDescriptor(seq=3, kind="sequence", path=None, start=3, stop=4, est_rows=0)
    assert read_chunk(chunk).num_rows == 0
