"""Finding what an orphaned attempt left in staging (io/leftovers.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from orchestrator.io.leftovers import (
    find_leftover,
    orphan_alive,
    orphan_doc,
    orphan_path,
    receipt_path,
    write_json_atomic,
)


def _receipt(
    staging: Path, seq: int, token: int, size: int | None = None, chunk_id: int | None = None
) -> Path:
    part = staging / f"part-{seq:05d}.attempt-{token}.parquet"
    part.write_bytes(b"x" * 10)
    doc = {
        "ok": True,
        "part_file": str(part),
        "bytes_out": 10 if size is None else size,
        "chunk_id": 100 + seq if chunk_id is None else chunk_id,
    }
    write_json_atomic(receipt_path(str(staging), part.name.removesuffix(".parquet")), doc)
    return part


def test_nothing_left(tmp_path: Path) -> None:
    assert find_leftover(tmp_path, 3, below_token=5, chunk_id=103) is None
    assert find_leftover(tmp_path / "missing", 3, below_token=5, chunk_id=103) is None


def test_newest_usable_receipt_below_the_current_token_wins(tmp_path: Path) -> None:
    _receipt(tmp_path, 3, 1)
    _receipt(tmp_path, 3, 2)
    _receipt(tmp_path, 3, 4)  # not below the lease's token: never adopted
    _receipt(tmp_path, 4, 3)  # another chunk
    found = find_leftover(tmp_path, 3, below_token=4, chunk_id=103)
    assert found is not None and found.token == 2 and found.receipt is not None
    assert found.receipt["part_file"].endswith("part-00003.attempt-2.parquet")


def test_a_receipt_whose_part_is_missing_or_of_another_size_is_ignored(tmp_path: Path) -> None:
    _receipt(tmp_path, 1, 1, size=11)
    _receipt(tmp_path, 1, 2).unlink()
    assert find_leftover(tmp_path, 1, below_token=9, chunk_id=101) is None


def test_an_orphan_marker_is_found_when_no_receipt_is(tmp_path: Path) -> None:
    marker = orphan_path(str(tmp_path), "part-00002.attempt-3")
    write_json_atomic(marker, orphan_doc("t1", 3, 102))
    found = find_leftover(tmp_path, 2, below_token=4, chunk_id=102)
    assert found is not None and found.receipt is None and found.orphan is not None
    assert orphan_alive(found.orphan)  # this very process
    _receipt(tmp_path, 2, 3)
    found = find_leftover(tmp_path, 2, below_token=4, chunk_id=102)
    assert found is not None and found.receipt is not None


def test_orphan_liveness_checks_host_pid_and_start_time(tmp_path: Path) -> None:
    mine = orphan_doc("t", 1, 7)
    assert orphan_alive(mine)
    assert not orphan_alive({**mine, "host": socket.gethostname() + "-elsewhere"})
    assert not orphan_alive({**mine, "start_ticks": (mine["start_ticks"] or 0) + 1})
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not orphan_alive({**mine, "pid": int(done.stdout)})
    assert not orphan_alive({**mine, "pid": -1})


def test_write_json_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json_atomic(str(target), {"a": 1})
    assert target.read_text() == '{"a": 1}'
    assert os.listdir(tmp_path) == ["a.json"]


def test_traces_of_another_chunk_with_the_same_seq_never_match(tmp_path: Path) -> None:
    """A job planned again has new chunk ids: an old plan's orphan may still
    leave a receipt for seq 5, but it is not the new chunk 5's part."""
    _receipt(tmp_path, 5, 1, chunk_id=105)  # the old plan's chunk
    marker = orphan_path(str(tmp_path), "part-00005.attempt-2")
    write_json_atomic(marker, orphan_doc("t", 2, 105))
    assert find_leftover(tmp_path, 5, below_token=9, chunk_id=999) is None
    found = find_leftover(tmp_path, 5, below_token=9, chunk_id=105)
    assert found is not None and found.token == 1 and found.receipt is not None
