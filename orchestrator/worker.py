"""The worker runtime: runs chunks for a coordinator, local or remote.

``python -m orchestrator.worker`` speaks the framed protocol of
:mod:`orchestrator.protocol` on its stdin/stdout — the pipes of a local child
process or the channel of an SSH session. It runs one chunk at a time: read the
chunk's slice, call the processor, write the part atomically, report the
result. A processor error never kills the worker (it becomes a failed result);
only a broken protocol stream does.

Guarantees that the coordinator relies on:

- fd 1 carries frames and nothing else. At startup the protocol descriptors are
  duplicated away, fd 1 is pointed at stderr (so ``print`` in user code, C
  libraries and child processes cannot corrupt frames) and fd 0 at /dev/null
  (so a child process cannot eat protocol bytes). Then fds 1 and 2 go to a
  pipe that ``processors/capture.py`` drains into stderr and, during a chunk,
  into that attempt's ``output`` (sent with its result: ``jobctl logs``).
- Exactly one ``result`` per ``run``, in order.
- End of stdin -> exit 0 after the current chunk; the reader of stdout gone ->
  exit 0 at once, even mid-chunk (the part writer's atomic rename means a
  half-done attempt leaves at most a hidden temp file behind).

Push transfer (SSH hosts without shared storage): a ``run`` may carry the
chunk's rows as its payload (an Arrow IPC stream), read instead of the path,
or an ``input_error`` (the coordinator could not read the chunk: a failed
attempt, as if the worker had failed to read it). A job payload with
``"return_part": true`` makes the worker send the part's bytes back as the
result's payload (``part_filename``, ``checksum``) instead of writing a file;
the coordinator stages them.

Per-chunk cost is kept to microseconds: the job payload is parsed and the
processor loaded once per job key (a small LRU), nothing is imported per chunk,
and results of pipelined runs are flushed in batches.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import platform
import select
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, BinaryIO

import pyarrow as pa

import orchestrator
from orchestrator.attempt import ChunkInputError, Emit, LoadedJob, failure_result, run_attempt
from orchestrator.io.leftovers import orphan_doc, orphan_path, receipt_path, write_json_atomic
from orchestrator.monitoring.hoststats import host_stats
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.processors.base import (
    LOG_HANDLER,
    PROCESSOR_LOGGER,
)
from orchestrator.processors.capture import (
    OutputCapture,
    StdioCapture,
    install,
    log_line,
)
from orchestrator.processors.loader import load_hooks, load_processor
from orchestrator.protocol import (
    HEARTBEAT_ENV,
    PROTOCOL_VERSION,
    MessageReader,
    ProtocolError,
    write_message,
)

#: Job payloads (with loaded processors) kept per worker, least recently used dropped.
JOB_CACHE_SIZE = 8
#: Results of pipelined runs are flushed at least this often (seconds).
FLUSH_INTERVAL = 0.001

EXIT_OK = 0
EXIT_PROTOCOL_ERROR = 2
EXIT_INTERRUPTED = 130

_log = logging.getLogger("orchestrator.worker")


class UnknownJob(Exception):
    """A key-only ``job`` whose full payload this worker does not hold (any more)."""


class Worker:
    """Runs ``run`` messages; knows nothing of the transport (``emit`` sends a message).

    ``emit`` carries ``checkpoint`` and ``log`` messages while a chunk runs; the
    result is returned, not emitted, so the caller decides when to flush.
    Whatever the chunk printed or logged comes back in the result's
    ``output`` (``processors/capture.py``): with ``stdio`` (the worker
    process's capture of fds 1 and 2) all of it, otherwise logger records.
    """

    def __init__(
        self,
        emit: Emit | None = None,
        cache_size: int = JOB_CACHE_SIZE,
        stdio: StdioCapture | None = None,
    ) -> None:
        self.emit = emit
        self.cache_size = cache_size
        self.stdio = stdio
        self._jobs: OrderedDict[str, LoadedJob] = OrderedDict()
        #: the chunk being run that writes a part into a staging directory
        #: here: (staging_dir, part_name, task, token, chunk_id); None otherwise
        self._current: tuple[str, str, str, Any, Any] | None = None
        #: that chunk, once the coordinator went away while it was being made:
        #: it is finished and left with a receipt (io/leftovers.py)
        self._orphan: tuple[str, str, str, Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def orphaned(self) -> bool:
        return self._orphan is not None

    def run(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        """Run one chunk; always returns a ``result`` header, never raises for chunk errors."""
        return self.run_frame(msg, None)[0]

    def run_frame(
        self, msg: Mapping[str, Any], data: bytes | None
    ) -> tuple[dict[str, Any], bytes | None]:
        """Run one chunk from a ``run`` frame (``data``: pushed rows, if any); the
        result header and, for a ``return_part`` job, the part's bytes."""
        capture = OutputCapture(self.stdio, _label(msg))
        with capture:
            LOG_HANDLER.bind(self._log_sink(capture), str(msg.get("task", "")))
            try:
                result, part = self._run_frame(msg, data)
            finally:
                LOG_HANDLER.bind(None, "")
        output = capture.text()
        if output:
            result["output"] = output
            result["output_bytes"] = capture.buffer.total
        return result, part

    def _log_sink(self, capture: OutputCapture) -> Emit:
        """Processor logger records: into the attempt's output, and sent on."""
        emit = self.emit

        def sink(message: dict[str, Any]) -> None:
            capture.write(log_line(message))
            if emit is not None:
                emit(message)

        return sink

    def _run_frame(
        self, msg: Mapping[str, Any], data: bytes | None
    ) -> tuple[dict[str, Any], bytes | None]:
        task = msg.get("task", "")
        token = msg.get("token")
        try:
            job = self._job(msg["job"])
            part_name = msg.get("part_name")
            if job.staging_dir and part_name and not job.return_part and data is None:
                with self._lock:
                    chunk_id = msg.get("chunk_id")
                    self._current = (job.staging_dir, str(part_name), str(task), token, chunk_id)
            processor = job.processor
            if processor is None:
                processor = job.processor = load_processor(job.payload)
                job.hooks = load_hooks(job.payload)
            job.set_up()
            chunk = ChunkDescriptor.from_dict(msg["chunk"])
            if msg.get("input_error"):
                raise ChunkInputError(str(msg["input_error"]))
            return run_attempt(
                job,
                processor,
                chunk,
                task,
                token,
                msg.get("attempt", 1),
                msg.get("checkpoint"),
                msg.get("part_name"),
                data,
                msg.get("state"),
                self.emit,
            )
        except UnknownJob as exc:
            result = failure_result(task, token, exc, "infrastructure")
            result["unknown_job"] = True
            return result, None
        except (Exception, SystemExit) as exc:
            return failure_result(task, token, exc, "processor"), None
        finally:
            with self._lock:
                self._current = None

    def close(self) -> None:
        """Tear down every cached job's processor (``teardown()``): the worker exits."""
        while self._jobs:
            self._jobs.popitem(last=False)[1].close()

    def orphan(self) -> bool:
        """The coordinator is gone: if a part is being made, mark it as an
        orphan to finish (True); if not, there is nothing to save (False)."""
        with self._lock:
            if self._current is None:
                return False
            staging, part_name, task, token, chunk_id = self._current
            try:
                os.makedirs(staging, exist_ok=True)  # the part writer would make it too
                write_json_atomic(
                    orphan_path(staging, part_name), orphan_doc(task, token, chunk_id)
                )
            except OSError as exc:
                _log.warning("coordinator gone; cannot mark the chunk being finished: %s", exc)
                return False
            self._orphan = self._current
            return True

    def leave_receipt(self, result: Mapping[str, Any]) -> None:
        """After the orphaned chunk: leave its result for the next coordinator
        (only a success with a part is worth adopting) and drop the marker."""
        if self._orphan is None:
            return
        staging, part_name, _task, _token, chunk_id = self._orphan
        if result.get("ok") and result.get("part_file"):
            receipt = {**result, "chunk_id": chunk_id, "pid": os.getpid()}
            receipt["host"] = socket.gethostname()
            try:
                write_json_atomic(receipt_path(staging, part_name), receipt)
            except OSError as exc:
                _log.warning("cannot leave the orphaned chunk's receipt: %s", exc)
        with contextlib.suppress(OSError):
            os.unlink(orphan_path(staging, part_name))

    def _job(self, payload: Mapping[str, Any]) -> LoadedJob:
        key = payload.get("key")
        if not isinstance(key, str):
            raise ValueError(f"run message has no job key: {payload!r:.200}")
        jobs = self._jobs
        job = jobs.get(key)
        if len(payload) > 1:
            if job is None or job.payload != payload:
                if job is not None:  # the job's next phase: another processor
                    job.close()
                job = LoadedJob(payload)
                jobs[key] = job
                while len(jobs) > self.cache_size:
                    jobs.popitem(last=False)[1].close()
        elif job is None:
            raise UnknownJob(f"job {key!r} is not cached on this worker; resend the full job")
        jobs.move_to_end(key)
        return job


def _label(msg: Mapping[str, Any]) -> str:
    """Names the chunk's output in the slot's log file."""
    job = msg.get("job") or {}
    chunk = msg.get("chunk") or {}
    return (
        f"job {job.get('key', '?')} chunk {chunk.get('seq', '?')} "
        f"attempt {msg.get('attempt', '?')} task {msg.get('task', '')}"
    )


def run_task(
    job: Mapping[str, Any],
    chunk: Mapping[str, Any],
    *,
    task: str = "",
    token: int = 0,
    attempt: int = 1,
    checkpoint: Any = None,
    part_name: str | None = None,
    emit: Emit | None = None,
) -> dict[str, Any]:
    """Run one chunk in this process, as a worker would (tests, benchmarks, debugging).

    Loads the processor on every call; keep a :class:`Worker` to reuse it.
    """
    msg = {
        "type": "run",
        "task": task,
        "job": job,
        "chunk": chunk,
        "token": token,
        "attempt": attempt,
        "checkpoint": checkpoint,
        "part_name": part_name,
    }
    worker = Worker(emit)
    try:
        return worker.run(msg)
    finally:
        worker.close()


class _Channel:
    """The frame writer to the coordinator; a lock keeps frames from interleaving."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(
        self, header: Mapping[str, Any], flush: bool = True, payload: bytes | None = None
    ) -> None:
        with self.lock:
            write_message(self.stream, header, payload, flush=flush)

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()


def _claim_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0/1 so nothing else can read or write frames."""
    sys.stdout.flush()
    in_fd = os.dup(0)  # os.dup: not inherited by child processes
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return in_fd, out_fd


def _watch_reader(out_fd: int, worker: Worker) -> None:
    """Act at once when nobody reads our frames any more (coordinator or SSH link gone).

    Polling with an empty event mask reports only POLLERR/POLLHUP: a pipe whose
    reader closed, or a socket whose peer went away. A worker making a part in
    a staging directory finishes it and leaves a receipt for the next
    coordinator (io/leftovers.py), which adopts it instead of computing the
    chunk again; any other worker exits at once rather than finish work for
    nobody.
    """
    poller = select.poll()
    poller.register(out_fd, 0)
    while True:
        for _fd, events in poller.poll():
            if events & select.POLLNVAL:
                return
            if events & (select.POLLERR | select.POLLHUP):
                if not worker.orphan():
                    os._exit(EXIT_OK)
                return


def _emitter(channel: _Channel, worker: Worker) -> Emit:
    """How a running chunk sends checkpoints and log lines: into the void once
    the coordinator is gone and the chunk is being finished as an orphan (a
    processor must not fail because nobody listens to its log)."""

    def emit(message: dict[str, Any]) -> None:
        if worker.orphaned:
            return
        try:
            channel.send(message)
        except BrokenPipeError:
            if not worker.orphan():
                raise

    return emit


def _ready_message() -> dict[str, Any]:
    return {
        "type": "ready",
        "protocol": PROTOCOL_VERSION,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "version": orchestrator.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def _heartbeats(channel: _Channel, interval: float) -> None:
    """Tell the coordinator we are alive, also in the middle of a long chunk: it
    renews a chunk's lease only while its worker says so, so a hung or paused
    worker's chunk expires and is taken over."""
    while True:
        time.sleep(interval)
        try:
            channel.send({"type": "heartbeat"})
        except OSError:
            return


def heartbeat_interval() -> float | None:
    """Seconds between heartbeats (``$JOBCTL_WORKER_HEARTBEAT``); None: none sent."""
    try:
        value = float(os.environ.get(HEARTBEAT_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def serve(
    in_fd: int, channel: _Channel, heartbeat: float | None = None, worker: Worker | None = None
) -> int:
    """The main loop: read frames, run chunks, answer. Returns the exit code.

    With ``heartbeat`` seconds, the ``ready`` message promises a ``heartbeat``
    message at least that often, sent from a thread from then on."""
    worker = worker or Worker()
    try:
        return _serve(in_fd, channel, heartbeat, worker)
    finally:
        worker.close()


def _serve(in_fd: int, channel: _Channel, heartbeat: float | None, worker: Worker) -> int:
    worker.emit = _emitter(channel, worker)
    reader = MessageReader(in_fd)
    ready = _ready_message()
    if heartbeat:
        ready["heartbeat"] = heartbeat
    channel.send(ready)
    if heartbeat:
        args = (channel, heartbeat)
        threading.Thread(target=_heartbeats, args=args, name="heartbeat", daemon=True).start()
    while True:
        try:
            messages = reader.read_available()
        except EOFError:
            return EXIT_OK
        except ProtocolError as exc:
            _log.error("protocol error on stdin, exiting: %s", exc)
            return EXIT_PROTOCOL_ERROR
        last_flush = time.perf_counter()
        count = len(messages)
        for i, (header, payload) in enumerate(messages):
            kind = header.get("type")
            if kind == "run":
                result, part = worker.run_frame(header, payload)
                if worker.orphaned:  # nobody to answer: leave the result, stop
                    worker.leave_receipt(result)
                    os._exit(EXIT_OK)
                now = time.perf_counter()
                flush = i == count - 1 or now - last_flush > FLUSH_INTERVAL
                channel.send(result, flush=flush, payload=part)
                if flush:
                    last_flush = now
            elif kind == "shutdown":
                channel.flush()
                return EXIT_OK
            elif kind == "ping":
                pong = {"type": "pong", "id": header.get("id")}
                if header.get("stats"):
                    pong["stats"] = host_stats()
                channel.send(pong, flush=i == count - 1)
            else:
                _log.error("unknown message type %r, exiting", kind)
                return EXIT_PROTOCOL_ERROR


def use_worker_memory_pool() -> None:
    """Allocate chunk data with jemalloc, unless ``$ARROW_DEFAULT_MEMORY_POOL`` chooses.

    A worker decodes chunk after chunk of the same size, so what matters is
    how cheaply freed memory is reused. Arrow's default, mimalloc, hands the
    kernel back and faults in fresh (zero-filled, transparent-huge) pages for
    every chunk: measured on a Parquet convert with 2 workers on 2 cores, it
    spent 1.3-2.3 s of system time where jemalloc spent 0.5-0.8 s, the same
    user time, and a lower peak RSS. Builds without jemalloc keep the default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):  # pyarrow built without jemalloc
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="jobctl-worker[%(process)d] %(levelname)s %(message)s",
    )
    level = os.environ.get("JOBCTL_WORKER_LOG_LEVEL")
    if level:
        PROCESSOR_LOGGER.setLevel(level.upper())
    use_worker_memory_pool()
    in_fd, out_fd = _claim_stdio()
    out = open(out_fd, "wb", buffering=256 * 1024)  # noqa: SIM115 - lives as long as the process
    stdio = install()
    atexit.register(stdio.flush)
    worker = Worker(stdio=stdio)
    watch = threading.Thread(
        target=_watch_reader, args=(out_fd, worker), name="reader-watch", daemon=True
    )
    watch.start()
    try:
        return serve(in_fd, _Channel(out), heartbeat_interval(), worker)
    except BrokenPipeError:
        # The coordinator went away; nobody is left to tell. Drop unsent frames
        # instead of failing again while the interpreter flushes at exit. (A
        # chunk that was making a part is finished first: the watcher thread
        # marked it, and serve() leaves its receipt.)
        os._exit(EXIT_OK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
