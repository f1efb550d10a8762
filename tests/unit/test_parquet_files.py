"""The worker's Parquet file cache: one footer parse per file, a changed file re-read."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.io import readers
from orchestrator.io.parquet_files import ParquetFileCache
from orchestrator.planning.parquet_chunker import plan_parquet_chunks
from orchestrator.spec.model import ChunkingSpec


def _write(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"v": pa.array(values, pa.int64())}), path, row_group_size=1)


def test_every_chunk_of_a_file_reads_its_footer_once(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "groups.parquet"
    _write(path, list(range(50)))
    cache = ParquetFileCache(capacity=2)
    monkeypatch.setattr(readers, "PARQUET_FILES", cache)
    chunks = plan_parquet_chunks(str(path), ChunkingSpec(rows=1))
    assert len(chunks) == 50
    rows = [readers.read_chunk(c).column("v").to_pylist() for c in chunks]
    assert rows == [[i] for i in range(50)]
    assert cache.opened == 1


def test_a_rewritten_file_is_read_again_not_through_the_old_footer(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "f.parquet"
    _write(path, [1, 2, 3])
    cache = ParquetFileCache(capacity=2)
    monkeypatch.setattr(readers, "PARQUET_FILES", cache)
    first = plan_parquet_chunks(str(path), ChunkingSpec(rows=1))
    assert readers.read_chunk(first[2]).column("v").to_pylist() == [3]
    _write(path, [10, 20, 30, 40])  # a new file under the same name
    os.utime(path, ns=(1, 1))  # and a different mtime even on a coarse clock
    second = plan_parquet_chunks(str(path), ChunkingSpec(rows=1))
    assert readers.read_chunk(second[3]).column("v").to_pylist() == [40]
    assert cache.opened == 2
    assert len(cache) == 1  # the old version was closed, not kept beside the new


def test_many_files_keep_only_capacity_open(tmp_path: Path, monkeypatch) -> None:
    cache = ParquetFileCache(capacity=3)
    monkeypatch.setattr(readers, "PARQUET_FILES", cache)
    for i in range(10):
        path = tmp_path / f"f{i}.parquet"
        _write(path, [i])
        (chunk,) = plan_parquet_chunks(str(path), ChunkingSpec(rows=1))
        assert readers.read_chunk(chunk).column("v").to_pylist() == [i]
    assert len(cache) == 3
    assert cache.opened == 10
    cache.clear()
    assert len(cache) == 0
