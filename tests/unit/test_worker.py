"""The worker runtime, driven as the coordinator drives it: a real subprocess and real pipes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import orchestrator
from orchestrator.io.parts import verify_part
from orchestrator.planning.csv_chunker import plan_csv_chunks
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.planning.parquet_chunker import plan_parquet_chunks
from orchestrator.protocol import MessageReader, build_job_payload, encode_message, run_message
from orchestrator.spec.model import ChunkingSpec, CsvOptions, JobSpec, OutputSpec
from orchestrator.worker import Worker, run_task, use_worker_memory_pool

REPO = Path(__file__).resolve().parents[2]
SEQ0 = ChunkDescriptor(seq=0, kind="sequence", path=None, start=0, stop=1, est_rows=1).to_dict()

UPPER = """
import csv, sys
rows = csv.reader(sys.stdin)
out = csv.writer(sys.stdout)
out.writerow(next(rows))
for row in rows:
    out.writerow([cell.upper() for cell in row])
"""
FAIL3 = """
import sys
for i in range(40):
    print(f"diagnostic line {i}", file=sys.stderr)
sys.exit(3)
"""


def seq(n: int) -> dict[str, Any]:
    return ChunkDescriptor(
        seq=n, kind="sequence", path=None, start=n, stop=n + 1, est_rows=1
    ).to_dict()


def job(key: str, staging: Path | None = None, **fields: Any) -> dict[str, Any]:
    """A job payload as the coordinator builds it from a spec."""
    return build_job_payload(JobSpec(name=key, **fields), key, str(staging) if staging else None)


class WorkerProc:
    """A coordinator's view of one worker: frames in, frames out, with timeouts."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.stderr_path = tmp_path / f"worker-{time.monotonic_ns()}.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "orchestrator.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                bufsize=0,
                env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            )
        assert self.proc.stdout is not None
        self.reader = MessageReader(self.proc.stdout.fileno())
        self.inbox: deque[dict[str, Any]] = deque()
        self.others: list[dict[str, Any]] = []
        self.tasks = 0
        self.ready = self.recv()

    def send(self, header: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(encode_message(header))

    def recv(self, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.inbox:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.reader], [], [], left)[0]:
                raise TimeoutError(f"no message from the worker; stderr: {self.stderr()}")
            self.inbox.extend(header for header, _ in self.reader.read_available())
        return self.inbox.popleft()

    def run(self, job_payload: dict[str, Any], chunk: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Send one run and wait for its result (other messages land in ``others``)."""
        self.tasks += 1
        task = f"t{self.tasks}"
        fields: dict[str, Any] = {
            "token": 1,
            "attempt": 1,
            "part_name": f"part-{chunk['seq']:05d}.attempt-1",
        }
        fields.update(kw)
        self.send(run_message(task, job_payload, chunk, **fields))
        while True:
            msg = self.recv()
            if msg["type"] == "result":
                assert msg["task"] == task
                return msg
            self.others.append(msg)

    def wait(self, timeout: float = 2.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    """One long-lived worker for the functional tests, as a slot would be."""
    proc = WorkerProc(tmp_path_factory.mktemp("worker"))
    yield proc
    proc.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[WorkerProc]:
    proc = WorkerProc(tmp_path)
    yield proc
    proc.close()


@pytest.fixture(scope="module")
def table() -> pa.Table:
    n = 250
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": [f'name {i}, "quoted"' if i % 7 == 0 else f"name {i}" for i in range(n)],
            "score": [i * 0.5 for i in range(n)],
        }
    )


def test_ready_message(worker: WorkerProc) -> None:
    ready = worker.ready
    assert ready["type"] == "ready"
    assert ready["protocol"] == 1
    assert ready["pid"] == worker.proc.pid
    assert ready["version"] == orchestrator.__version__
    assert ready["python"].startswith("3.")


def test_noop_sequence_chunk_and_key_only_reuse(worker: WorkerProc) -> None:
    full = job("noop-1", type="noop")
    result = worker.run(full, SEQ0)
    assert result["ok"] is True, result
    assert (result["rows_in"], result["rows_out"], result["rows_rejected"]) == (0, 0, 0)
    assert result["part_file"] is None and result["checksum"] is None
    assert result["token"] == 1
    assert worker.run({"key": "noop-1"}, seq(1))["ok"] is True
    unknown = worker.run({"key": "never-sent"}, seq(2))
    assert unknown["ok"] is False
    assert unknown["unknown_job"] is True
    assert unknown["error_class"] == "infrastructure"


def test_convert_parquet_chunks(worker: WorkerProc, tmp_path: Path, table: pa.Table) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=100)
    chunks = plan_parquet_chunks(str(src), ChunkingSpec(rows=100))
    assert len(chunks) == 3
    staging = tmp_path / "staging"
    payload = job(
        "conv-pq",
        staging,
        type="convert",
        params={"columns": ["name", "id"], "rename": {"name": "label"}},
        output=OutputSpec(path=str(tmp_path / "out"), format="parquet", compression="zstd"),
    )
    parts = []
    for i, chunk in enumerate(chunks):
        result = worker.run(payload if i == 0 else {"key": "conv-pq"}, chunk.to_dict())
        assert result["ok"] is True, result
        assert result["rows_in"] == result["rows_out"] == chunk.stop - chunk.start
        assert result["part_file"] == str(staging / f"part-{chunk.seq:05d}.attempt-1.parquet")
        assert verify_part(result["part_file"], result["checksum"])
        assert result["bytes_out"] == os.path.getsize(result["part_file"])
        parts.append(pq.read_table(result["part_file"]))
    expected = table.select(["name", "id"]).rename_columns(["label", "id"])
    assert pa.concat_tables(parts).equals(expected)


def test_convert_csv_chunks(worker: WorkerProc, tmp_path: Path, table: pa.Table) -> None:
    src = tmp_path / "in.csv"
    pa_csv.write_csv(table, src)
    chunks = plan_csv_chunks(str(src), CsvOptions(), ChunkingSpec(rows=None, bytes=2000))
    assert len(chunks) > 2
    staging = tmp_path / "staging"
    payload = job(
        "conv-csv",
        staging,
        type="convert",
        output=OutputSpec(path=str(tmp_path / "out"), format="arrow", compression="lz4"),
    )
    parts = []
    for chunk in chunks:
        result = worker.run(payload, chunk.to_dict())  # full payload every time is fine too
        assert result["ok"] is True, result
        assert result["part_file"].endswith(".arrow")
        assert verify_part(result["part_file"], result["checksum"])
        with pa.ipc.open_file(result["part_file"]) as reader:
            parts.append(reader.read_all())
    assert pa.concat_tables(parts).equals(table)


def test_convert_unknown_column_names_it(
    worker: WorkerProc, tmp_path: Path, table: pa.Table
) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    chunk = plan_parquet_chunks(str(src), ChunkingSpec(rows=1000))[0]
    result = worker.run(
        job("conv-bad", type="convert", params={"columns": ["id", "nope"]}), chunk.to_dict()
    )
    assert result["ok"] is False
    assert "'nope'" in result["error"] and "available columns: id, name, score" in result["error"]


def test_processor_error_is_reported_and_worker_keeps_serving(
    worker: WorkerProc, tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    payload = job(
        "fail", python="tests.procs:fail_on_seq", params={"seq": 1, "fixed_marker": str(marker)}
    )
    assert worker.run(payload, seq(0))["ok"] is True
    failed = worker.run({"key": "fail"}, seq(1), attempt=2)
    assert failed["ok"] is False
    assert failed["error"] == "RuntimeError: boom on chunk 1 (attempt 2)"
    assert failed["error_class"] == "processor"
    assert "fail_on_seq" in failed["traceback"]
    assert len(failed["traceback"].splitlines()) <= 30
    assert worker.run({"key": "fail"}, seq(2))["ok"] is True
    marker.touch()
    assert worker.run({"key": "fail"}, seq(1))["ok"] is True


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"python": "nosuchpkg.x:f"},
            "ProcessorError: cannot import 'nosuchpkg.x:f': No module named 'nosuchpkg'",
        ),
        ({"python": "tests.procs:missing"}, "has no attribute 'missing'"),
        ({"python": "tests.procs:not_callable"}, "is not callable"),
        ({"python": "tests.procs"}, "must look like 'package.module:function'"),
        (
            {"type": "household"},
            "ProcessorError: job type 'household' is not available yet",
        ),
        ({"command": ["no-such-program-xyz"]}, "'no-such-program-xyz' was not found on PATH"),
    ],
)
def test_processor_that_cannot_load(worker: WorkerProc, fields: dict[str, Any], error: str) -> None:
    result = worker.run(job(f"bad-{sorted(fields.items())}", **fields), SEQ0)
    assert result["ok"] is False
    assert error in result["error"]
    assert result["error_class"] == "processor"


def test_command_processor_uppercases(worker: WorkerProc, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,name\n1,alice\n2,"bob, jr"\n3,carol\n')
    chunk = plan_csv_chunks(str(src), CsvOptions(), ChunkingSpec(rows=100))[0]
    staging = tmp_path / "staging"
    payload = job(
        "upper",
        staging,
        command=(sys.executable, "-c", UPPER),
        output=OutputSpec(path=str(tmp_path / "out"), format="csv", compression="none"),
    )
    result = worker.run(payload, chunk.to_dict())
    assert result["ok"] is True, result
    out = pa_csv.read_csv(result["part_file"])
    assert out.column("name").to_pylist() == ["ALICE", "BOB, JR", "CAROL"]
    assert out.column("id").to_pylist() == [1, 2, 3]


def test_command_failure_reports_exit_code_and_stderr_tail(worker: WorkerProc) -> None:
    result = worker.run(job("exit3", command=(sys.executable, "-c", FAIL3)), SEQ0)
    assert result["ok"] is False
    assert "exited with code 3" in result["error"]
    assert "diagnostic line 39" in result["error"]
    assert "diagnostic line 5\n" not in result["error"]


def test_chatty_processor_cannot_corrupt_protocol(worker: WorkerProc) -> None:
    worker.others.clear()
    result = worker.run(job("chatty", python="tests.procs:chatty"), seq(4))
    assert result["ok"] is True, result
    logs = [m for m in worker.others if m["type"] == "log"]
    assert logs == [
        {
            "type": "log",
            "task": result["task"],
            "level": "INFO",
            "logger": "jobctl.processor",
            "message": "chatty ran on chunk 4",
        }
    ]
    assert worker.run({"key": "chatty"}, seq(5))["ok"] is True
    deadline = time.monotonic() + 2
    while "from a child process" not in worker.stderr() and time.monotonic() < deadline:
        time.sleep(0.01)
    err = worker.stderr()
    for text in (
        "hello from print()",
        "sys.stdout.write",
        "os.write to fd 1",
        "from a child process",
    ):
        assert text in err


def test_checkpoints_are_sent_and_resumed(worker: WorkerProc) -> None:
    worker.others.clear()
    payload = job("ckpt", python="tests.procs:checkpointing", params={"steps": 4})
    result = worker.run(payload, SEQ0, checkpoint={"done": 2})
    assert result["ok"] is True
    states = [m["state"] for m in worker.others if m["type"] == "checkpoint"]
    assert states == [{"done": 3}, {"done": 4}]
    assert all(m["task"] == result["task"] for m in worker.others)
    assert result["rows_out"] == 2


def test_rejects_and_wrong_return_type(worker: WorkerProc, tmp_path: Path, table: pa.Table) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    chunk = plan_parquet_chunks(str(src), ChunkingSpec(rows=1000))[0].to_dict()
    result = worker.run(job("rej", python="tests.procs:reject_odd"), chunk)
    assert (result["rows_in"], result["rows_out"], result["rows_rejected"]) == (250, 125, 125)
    assert result["reject_reasons"] == {"odd id": 125}
    garbage = worker.run(job("garbage", python="tests.procs:returns_garbage"), chunk)
    assert garbage["ok"] is False and garbage["error"].startswith(
        "TypeError: processor returned dict"
    )


def test_shutdown_exits_zero(fresh: WorkerProc) -> None:
    fresh.send({"type": "ping", "id": 9})
    assert fresh.recv() == {"type": "pong", "id": 9}
    fresh.send({"type": "shutdown"})
    assert fresh.wait(2) == 0


def test_eof_exits_zero_after_answering_pipelined_runs(fresh: WorkerProc) -> None:
    fresh.send(run_message("a", job("n", type="noop"), seq(0), 1, 1, "p0"))
    fresh.send(run_message("b", {"key": "n"}, seq(1), 1, 1, "p1"))
    assert fresh.proc.stdin is not None
    fresh.proc.stdin.close()
    assert [fresh.recv()["task"], fresh.recv()["task"]] == ["a", "b"]
    assert fresh.wait(2) == 0


def test_busy_worker_exits_when_coordinator_vanishes(fresh: WorkerProc) -> None:
    payload = job("slow", python="tests.procs:sleep_then_identity", params={"seconds": 60})
    fresh.send(run_message("slow", payload, SEQ0, 1, 1, "p"))
    time.sleep(0.3)
    assert fresh.proc.stdin is not None and fresh.proc.stdout is not None
    fresh.proc.stdin.close()
    fresh.proc.stdout.close()
    assert fresh.wait(2) == 0


def test_worker_making_a_part_finishes_it_for_the_next_coordinator(
    fresh: WorkerProc, tmp_path: Path
) -> None:
    """The coordinator vanishes while the worker makes a part: the worker marks
    the chunk as an orphan at once, finishes the part, leaves a receipt with
    the result it could not send, drops the marker and exits 0."""
    staging = tmp_path / "staging"
    payload = job(
        "slow-out",
        staging,
        python="tests.procs:sleep_then_identity",
        params={"seconds": 1.5},
        output=OutputSpec(path=str(tmp_path / "out"), format="parquet", compression="zstd"),
    )
    fresh.send(run_message("slow", payload, SEQ0, 7, 1, "part-00000.attempt-7", chunk_id=42))
    time.sleep(0.3)
    assert fresh.proc.stdin is not None and fresh.proc.stdout is not None
    fresh.proc.stdin.close()
    fresh.proc.stdout.close()
    marker = staging / "part-00000.attempt-7.orphan.json"
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    orphan = json.loads(marker.read_text())
    assert orphan["pid"] == fresh.proc.pid and orphan["token"] == 7 and orphan["chunk_id"] == 42
    assert fresh.wait(10) == 0
    receipt = json.loads((staging / "part-00000.attempt-7.receipt.json").read_text())
    assert receipt["ok"] is True and receipt["token"] == 7 and receipt["chunk_id"] == 42
    assert receipt["part_file"] == str(staging / "part-00000.attempt-7.parquet")
    assert verify_part(receipt["part_file"], receipt["checksum"])
    assert not marker.exists()


def test_crashing_processor_kills_only_its_worker(fresh: WorkerProc) -> None:
    payload = job("crash", python="tests.procs:crash_on_seq", params={"seq": 0})
    fresh.send(run_message("c", payload, SEQ0, 1, 1, "p"))
    assert fresh.wait(5) == 17


def test_garbage_on_stdin_is_a_protocol_error(fresh: WorkerProc) -> None:
    assert fresh.proc.stdin is not None
    fresh.proc.stdin.write(b"\x00\x00\x00\x05hello")
    assert fresh.wait(2) == 2
    assert "protocol error" in fresh.stderr()


def test_sigterm_is_not_swallowed(fresh: WorkerProc) -> None:
    fresh.proc.send_signal(signal.SIGTERM)
    assert fresh.wait(2) == -signal.SIGTERM


def test_run_task_in_process(tmp_path: Path, table: pa.Table) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    chunk = plan_parquet_chunks(str(src), ChunkingSpec(rows=1000))[0].to_dict()
    payload = job(
        "inproc",
        tmp_path / "staging",
        type="convert",
        output=OutputSpec(path=str(tmp_path / "out"), format="csv", compression="gzip"),
    )
    result = run_task(payload, chunk, part_name="part-00000.attempt-1")
    assert result["ok"] is True, result
    assert result["part_file"].endswith("part-00000.attempt-1.csv.gz")
    assert verify_part(result["part_file"], result["checksum"])
    messages: list[dict[str, Any]] = []
    ckpt = run_task(
        job("c", python="tests.procs:checkpointing"), SEQ0, task="x", emit=messages.append
    )
    assert ckpt["ok"] is True and [m["state"] for m in messages] == [
        {"done": 1},
        {"done": 2},
        {"done": 3},
    ]


def test_output_without_part_name_fails_cleanly(tmp_path: Path) -> None:
    payload = job(
        "nopart",
        tmp_path,
        python="tests.procs:identity",
        output=OutputSpec(path=str(tmp_path), format="parquet"),
    )
    result = run_task({**payload}, SEQ0)
    assert result["ok"] is False and "part_name" in result["error"]


def test_job_cache_is_a_small_lru() -> None:
    w = Worker(cache_size=2)
    for key in ("a", "b", "c"):
        assert w.run({"type": "run", "task": key, "job": job(key, type="noop"), "chunk": SEQ0})[
            "ok"
        ]
    assert w.run({"task": "x", "job": {"key": "c"}, "chunk": SEQ0})["ok"] is True
    assert w.run({"task": "x", "job": {"key": "a"}, "chunk": SEQ0}).get("unknown_job") is True


def test_worker_allocates_with_jemalloc_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
        use_worker_memory_pool()
        assert pa.default_memory_pool().backend_name == before.backend_name
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        use_worker_memory_pool()
        assert pa.default_memory_pool().backend_name in {"jemalloc", before.backend_name}
    finally:
        pa.set_memory_pool(before)


def test_the_attempts_output_comes_back_with_its_result(worker: WorkerProc) -> None:
    result = worker.run(job("chatty-out", python="tests.procs:chatty"), seq(7), attempt=2)
    assert result["ok"] is True, result
    output = result["output"]
    for text in (
        "hello from print()",
        "sys.stdout.write",
        "os.write to fd 1",
        "from a child process",
        "INFO chatty ran on chunk 7",
    ):
        assert text in output, output
    # the slot's log file keeps a copy, under a line naming the chunk and attempt
    deadline = time.monotonic() + 2
    while "chatty ran on chunk 7" not in worker.stderr() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "--- job chatty-out chunk 7 attempt 2 task" in worker.stderr()


def test_a_failed_attempt_carries_its_whole_traceback_and_error_types(
    worker: WorkerProc,
) -> None:
    payload = job("flaky-out", python="tests.procs:flaky_chatter", params={"seq": 3})
    failed = worker.run(payload, seq(3), attempt=1)
    assert failed["ok"] is False
    assert "print of attempt 1" in failed["output"]
    assert "WARNING logger line of attempt 1" in failed["output"]
    assert "in _deep_failure" in failed["traceback_full"]
    assert failed["traceback_full"].endswith("RuntimeError: flaky failure on attempt 1")
    assert failed["error_types"][0] == "builtins.RuntimeError"
    quiet = worker.run({"key": "flaky-out"}, seq(4))
    assert quiet["ok"] is True and "output" not in quiet


def test_a_flood_of_output_is_kept_as_head_and_tail(worker: WorkerProc) -> None:
    from orchestrator.processors.capture import HEAD_BYTES, TAIL_BYTES

    payload = job("flood", python="tests.procs:floods_output", params={"bytes": 4 << 20})
    result = worker.run(payload, SEQ0)
    assert result["ok"] is True, result
    output = result["output"]
    assert output.startswith("FIRST LINE\n") and output.endswith("LAST LINE\n")
    assert "bytes omitted" in output
    assert len(output) < HEAD_BYTES + TAIL_BYTES + 100
    assert result["output_bytes"] > 4 << 20
