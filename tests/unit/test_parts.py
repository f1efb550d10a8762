"""The atomic part writer: complete, checksummed files under the final name, or nothing."""

from __future__ import annotations

import gzip
import io
import itertools
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from orchestrator.io import parts
from orchestrator.io.parts import (
    file_checksum,
    part_filename,
    serialize,
    verify_part,
    write_part,
)

TABLE = pa.table({"id": list(range(100)), "name": [f"n{i}" for i in range(100)]})


def _read(path: str, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path)
    if fmt == "arrow":
        with pa.ipc.open_file(path) as reader:
            return reader.read_all()
    data = Path(path).read_bytes()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return pa_csv.read_csv(io.BytesIO(data))


@pytest.mark.parametrize(
    ("fmt", "compression", "suffix"),
    [
        ("parquet", "zstd", ".parquet"),
        ("parquet", "snappy", ".parquet"),
        ("parquet", "gzip", ".parquet"),
        ("parquet", "none", ".parquet"),
        ("csv", "none", ".csv"),
        ("csv", "gzip", ".csv.gz"),
        ("arrow", "zstd", ".arrow"),
        ("arrow", "lz4", ".arrow"),
        ("arrow", "none", ".arrow"),
    ],
)
def test_write_read_back_and_verify(
    tmp_path: Path, fmt: str, compression: str, suffix: str
) -> None:
    info = write_part(TABLE, str(tmp_path / "staging"), "part-00003.attempt-2", fmt, compression)
    assert info.path == str(tmp_path / "staging" / f"part-00003.attempt-2{suffix}")
    assert info.rows == 100
    assert info.bytes == os.path.getsize(info.path)
    assert info.checksum == file_checksum(info.path)
    assert verify_part(info.path, info.checksum)
    assert _read(info.path, fmt).equals(TABLE)
    assert os.listdir(tmp_path / "staging") == [os.path.basename(info.path)]
    # a part sent back over the wire is the same file, byte for byte
    assert serialize(TABLE, fmt, compression).to_pybytes() == Path(info.path).read_bytes()


def test_verify_detects_tampering_and_missing_files(tmp_path: Path) -> None:
    info = write_part(TABLE, str(tmp_path), "p", "csv", "none")
    with open(info.path, "ab") as f:
        f.write(b"1000,extra\n")
    assert not verify_part(info.path, info.checksum)
    assert not verify_part(str(tmp_path / "missing.csv"), info.checksum)


@pytest.mark.parametrize(
    ("fmt", "compression"), [("csv", "zstd"), ("arrow", "snappy"), ("xls", "none")]
)
def test_unsupported_output_is_refused_before_any_file(
    tmp_path: Path, fmt: str, compression: str
) -> None:
    with pytest.raises(ValueError, match=r"compression|format"):
        write_part(TABLE, str(tmp_path), "p", fmt, compression)
    with pytest.raises(ValueError):
        part_filename("p", fmt, compression)
    assert os.listdir(tmp_path) == []


def test_unwritable_table_leaves_nothing(tmp_path: Path) -> None:
    nested = pa.table({"l": pa.array([[1, 2], [3]], pa.list_(pa.int64()))})
    with pytest.raises(pa.ArrowException):
        write_part(nested, str(tmp_path), "p", "csv", "none")  # CSV cannot hold lists
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("step", ["write", "fsync", "replace"])
def test_failure_mid_write_removes_temp_and_never_creates_final(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device (simulated)")

    target = {"write": parts, "fsync": parts.os, "replace": parts.os}[step]
    name = {"write": "_write_all", "fsync": "fsync", "replace": "replace"}[step]
    monkeypatch.setattr(target, name, fail)
    with pytest.raises(OSError, match="simulated"):
        write_part(TABLE, str(tmp_path), "part-00001.attempt-1", "parquet", "zstd")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_read_only_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    staging = tmp_path / "ro"
    staging.mkdir()
    staging.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            write_part(TABLE, str(staging), "p", "parquet", "zstd")
        assert os.listdir(staging) == []
    finally:
        staging.chmod(0o755)


def test_rewriting_same_name_replaces_atomically(tmp_path: Path) -> None:
    first = write_part(TABLE, str(tmp_path), "p", "parquet", "none")
    second = write_part(TABLE.slice(0, 10), str(tmp_path), "p", "parquet", "none")
    assert first.path == second.path
    assert pq.read_table(second.path).num_rows == 10
    assert os.listdir(tmp_path) == ["p.parquet"]


def test_a_large_part_is_handed_to_writeback_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    real = parts._sync_file_range

    def recording(fd: int, offset: int, length: int, flags: int) -> int:
        calls.append((offset, length))
        return real(fd, offset, length, flags) if real is not None else 0

    monkeypatch.setattr(parts, "_sync_file_range", recording)
    monkeypatch.setattr(parts, "WRITEBACK_STEP", 64 * 1024)
    # 20 record batches of incompressible text: 20 writes, the part several steps long
    table = pa.concat_tables(
        pa.table({"blob": [os.urandom(4096).hex() for _ in range(10)]}) for _ in range(20)
    )

    info = write_part(table, str(tmp_path), "part-00001.attempt-1", "arrow", "none")

    assert len(calls) >= 3
    # back to back from the file's start, never past what was written
    assert calls[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(calls))
    assert calls[-1][0] + calls[-1][1] <= info.bytes
    assert _read(info.path, "arrow").equals(table)
    assert verify_part(info.path, info.checksum)


def test_writeback_is_started_through_the_c_library_on_linux() -> None:
    if os.uname().sysname != "Linux":
        pytest.skip("sync_file_range is Linux only")
    assert parts._sync_file_range is not None
