"""A local slot never blocks the coordinator on a worker's input pipe."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from orchestrator.executors import local
from orchestrator.executors.local import WorkerProcess


def test_send_never_blocks_on_a_worker_that_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a "worker" that reads nothing: a blocking write would hang here forever
    monkeypatch.setattr(local, "WORKER_ARGV", (sys.executable, "-c", "import time; time.sleep(60)"))
    slot = WorkerProcess(0, tmp_path)
    slot.start()
    try:
        frames = [({"type": "ping", "id": i, "pad": "x" * 1000}, None) for i in range(4000)]
        started = time.monotonic()
        assert slot.send(frames)  # ~4 MB: more than any pipe holds
        assert time.monotonic() - started < 5
        assert slot._outbox  # what the pipe could not take waits
        assert slot.read_available() == ([], True)  # and is retried without blocking
    finally:
        slot.kill()


def test_send_reports_a_worker_that_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "WORKER_ARGV", (sys.executable, "-c", "pass"))
    slot = WorkerProcess(0, tmp_path)
    slot.start()
    assert slot.proc is not None
    slot.proc.wait(10)
    try:
        assert not slot.send([({"type": "ping", "id": 1}, None)])
    finally:
        slot.kill()
