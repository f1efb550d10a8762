"""What one attempt of a chunk printed: its stdout, stderr and logger records.

The worker captures each chunk's output, so that ``jobctl logs JOB --chunk N
--attempt K`` can show what that attempt said, tagged by job, chunk and
attempt, whether the worker ran locally or over SSH (the text travels back in
the chunk's ``result`` message, never via the worker's disk).

In the worker process (:class:`StdioCapture`, installed once) file
descriptors 1 and 2 point at a pipe for the process's whole life, so
``print``, C libraries and child processes are all captured. A thread drains
the pipe as it fills and copies everything (tee) to the worker's real stderr,
the slot's log file, each chunk's part under a line naming job, chunk and
attempt; while a chunk runs, what comes is also kept in a bounded buffer
(:class:`BoundedText`: the first :data:`HEAD_BYTES` and the last
:data:`TAIL_BYTES`), so a processor that prints gigabytes costs neither
memory nor disk in the store. Logger records are written into the same pipe,
in order with the prints. The end of a chunk drains what is left in the
pipe itself, under the same lock as the thread: a chunk costs a few system
calls, not a thread hand-off (a per-chunk pipe and thread cost ~270 us, as
much as a whole no-op chunk). Outside the worker (tests, ``run_task``) only
logger records are kept (:class:`OutputCapture` without a process capture).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from typing import Any

#: Bytes kept from the start and from the end of what one attempt printed.
HEAD_BYTES = 16 * 1024
TAIL_BYTES = 48 * 1024
#: Characters of a failed attempt's traceback kept (its last frames).
TRACEBACK_CHARS = 16 * 1024
_READ = 1 << 16


class BoundedText:
    """The first ``head`` and last ``tail`` bytes written, and the total count."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head_limit = head
        self.tail_limit = tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        body = bytes(self.head)
        if self.omitted > 0:
            body += f"\n[... {self.omitted} bytes omitted ...]\n".encode()
        return (body + bytes(self.tail)).decode("utf-8", errors="replace")


def clip_traceback(text: str, limit: int = TRACEBACK_CHARS) -> str:
    """A traceback's end (the frames that raised), at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    return "[... traceback start omitted ...]\n" + text[-limit:]


def log_line(record: dict[str, Any]) -> str:
    """A ``log`` message from the processor logger as one line of the attempt's log."""
    stamp = time.strftime("%H:%M:%S")
    return f"{stamp} {record.get('level', 'INFO')} {record.get('message', '')}\n"


class StdioCapture:
    """Fds 1 and 2 of this process, captured for good (the worker's :func:`install`)."""

    def __init__(self) -> None:
        _flush_std()
        read_fd, write_fd = os.pipe()
        self._tee = os.dup(2)  # the real stderr: the slot's log file
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self._lock = threading.Lock()
        self._buffer: BoundedText | None = None
        self._label = ""
        threading.Thread(target=self._drain_forever, name="stdio-capture", daemon=True).start()

    def begin(self, label: str) -> BoundedText:
        """Keep what comes from now on in a new buffer (``label``: its line in the tee)."""
        _flush_std()
        buffer = BoundedText()
        with self._lock:
            self._take()  # what came before belongs to no chunk
            self._buffer, self._label = buffer, label
        return buffer

    def end(self) -> None:
        """Everything written so far is in the chunk's buffer; stop keeping."""
        _flush_std()
        with self._lock:
            self._take()
            self._buffer = None

    def flush(self) -> None:
        """Copy what is still in the pipe to the log (at exit)."""
        _flush_std()
        with self._lock:
            self._take()

    def _drain_forever(self) -> None:
        while True:
            try:
                select.select([self._read_fd], [], [])
            except (OSError, ValueError):
                return
            with self._lock:
                self._take()

    def _take(self) -> None:
        """Read what the pipe holds (the lock held): to the buffer and the tee."""
        while True:
            try:
                data = os.read(self._read_fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            if self._buffer is not None:
                self._buffer.add(data)
                if self._label:
                    data = f"--- {self._label} ---\n".encode() + data
                    self._label = ""
            with contextlib.suppress(OSError):
                os.write(self._tee, data)


_process: dict[str, StdioCapture] = {}


def install() -> StdioCapture:
    """Capture this process's fds 1 and 2 from now on (once; the worker's main)."""
    if "capture" not in _process:
        _process["capture"] = StdioCapture()
    return _process["capture"]


class OutputCapture:
    """One chunk's output: a context manager around the chunk."""

    def __init__(self, process: StdioCapture | None, label: str = "") -> None:
        self.process = process
        self.label = label
        self.buffer = BoundedText()
        self._lock = threading.Lock()

    def __enter__(self) -> OutputCapture:
        if self.process is not None:
            self.buffer = self.process.begin(self.label)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.end()

    def write(self, text: str) -> None:
        """A logger record: into the pipe (in order with prints), or the buffer."""
        data = text.encode("utf-8", errors="replace")
        if self.process is not None:
            _flush_std()
            with contextlib.suppress(OSError):
                os.write(2, data)
                return
        with self._lock:
            self.buffer.add(data)

    def text(self) -> str:
        return self.buffer.text()


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
