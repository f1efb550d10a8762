"""Local workers leave the part directory's fsync (and a small part's data) to
the committer, which syncs each filesystem of a batch once before the commit,
and never commits a part whose directory could not be synced."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from orchestrator.dispatch.ledger import durable_parts
from orchestrator.dispatch.options import worker_env
from orchestrator.io import parts
from orchestrator.store.base import ChunkOutcome, OutcomeKind


def test_a_local_worker_defers_the_directory_fsync(tmp_path: Path, monkeypatch) -> None:
    env = worker_env(10.0)
    assert env[parts.DIR_SYNC_ENV] == parts.DIR_SYNC_BY_COMMITTER
    table = pa.table({"v": [1, 2]})
    monkeypatch.delenv(parts.DIR_SYNC_ENV, raising=False)
    first = parts.write_part(table, str(tmp_path), "part-00000.attempt-1", "parquet", "none")
    assert first.dir_synced
    monkeypatch.setenv(parts.DIR_SYNC_ENV, env[parts.DIR_SYNC_ENV])
    part = parts.write_part(table, str(tmp_path), "part-00001.attempt-1", "parquet", "none")
    assert not part.dir_synced
    assert parts.verify_part(part.path, part.checksum)  # the data itself is whole


def test_the_committer_syncs_each_directory_once_and_drops_unsyncable_parts(
    tmp_path: Path, monkeypatch
) -> None:
    good = tmp_path / "staging"
    good.mkdir()
    synced: list[str] = []
    real = parts.syncfs_of

    def counting(path: str) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr(parts, "syncfs_of", counting)
    ok = [
        ChunkOutcome(i, 1, OutcomeKind.SUCCEEDED, part_file=str(good / f"part-{i}.parquet"))
        for i in range(3)
    ]
    gone = ChunkOutcome(9, 1, OutcomeKind.SUCCEEDED, part_file=str(tmp_path / "gone" / "p"))
    failed = ChunkOutcome(10, 1, OutcomeKind.FAILED, error="boom")
    out = durable_parts([*ok, gone, failed])
    assert synced.count(str(good)) == 1
    assert out[:3] == ok and out[4] == failed
    assert out[3].kind == OutcomeKind.LOST and out[3].part_file is None
    assert "could not be synced" in (out[3].error or "")


@pytest.mark.parametrize("kind", [OutcomeKind.FAILED, OutcomeKind.RELEASED])
def test_outcomes_without_a_part_sync_nothing(kind: str, monkeypatch) -> None:
    monkeypatch.setattr(parts, "syncfs_of", lambda path: pytest.fail(f"synced {path}"))
    assert durable_parts([ChunkOutcome(1, 1, kind)]) == [ChunkOutcome(1, 1, kind)]


def test_a_local_worker_leaves_a_small_parts_data_to_the_committers_syncfs(
    tmp_path: Path, monkeypatch
) -> None:
    synced: list[int] = []
    real = parts.os.fsync
    monkeypatch.setattr(parts.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    monkeypatch.setenv(parts.DIR_SYNC_ENV, parts.DIR_SYNC_BY_COMMITTER)
    small = parts.write_part(
        pa.table({"v": [1]}), str(tmp_path), "part-0.attempt-1", "parquet", "none"
    )
    assert synced == [] and small.bytes < parts.SMALL_PART_BYTES
    big = pa.table({"v": pa.array(range(300_000), pa.int64())})
    large = parts.write_part(big, str(tmp_path), "part-1.attempt-1", "parquet", "none")
    assert large.bytes >= parts.SMALL_PART_BYTES and len(synced) == 1  # its own data only
    assert (
        durable_parts([ChunkOutcome(1, 1, OutcomeKind.SUCCEEDED, part_file=small.path)])[0].kind
        == OutcomeKind.SUCCEEDED
    )
