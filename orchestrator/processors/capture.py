"""What one attempt of a chunk printed: its stdout, stderr and logger records.

The worker wraps each chunk in an :class:`OutputCapture`, so that ``jobctl
logs JOB --chunk N --attempt K`` can show what that attempt said, tagged by
job, chunk and attempt, whether the worker ran locally or over SSH (the text
travels back in the chunk's ``result`` message, never via the worker's disk).

With ``fds=True`` (the worker process) file descriptors 1 and 2 are pointed at
a pipe for the chunk's duration, so ``print``, C libraries and child processes
are all captured; a thread drains the pipe into a bounded buffer (the first
:data:`HEAD_BYTES` and the last :data:`TAIL_BYTES`), so a processor that
prints gigabytes costs neither memory nor disk. Logger records are written
into the same pipe, in order with the prints. What is captured is also copied
(tee) to the worker's own stderr, the slot's log file, under a line naming the
job, chunk and attempt, written only when the chunk printed something. With
``fds=False`` (in-process use: tests, ``run_task``) only logger records are kept.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from types import TracebackType
from typing import Any

#: Bytes kept from the start and from the end of what one attempt printed.
HEAD_BYTES = 16 * 1024
TAIL_BYTES = 48 * 1024
#: Characters of a failed attempt's traceback kept (its last frames).
TRACEBACK_CHARS = 16 * 1024
#: How long the end of a chunk waits for the pipe to drain (a child process
#: that outlives its chunk may hold the pipe open; it is not waited for).
DRAIN_SECONDS = 1.0


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


class OutputCapture:
    """Captures one chunk's output; use as a context manager around the chunk."""

    def __init__(
        self, fds: bool, label: str = "", head: int = HEAD_BYTES, tail: int = TAIL_BYTES
    ) -> None:
        self.fds = fds
        #: the line that precedes this chunk's output in the worker's stderr
        self.label = label
        self.buffer = BoundedText(head, tail)
        self._saved: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> OutputCapture:
        if not self.fds:
            return self
        _flush_std()
        read_fd, write_fd = os.pipe()
        self._saved = (os.dup(1), os.dup(2))
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        tee = os.dup(self._saved[1])
        self._thread = threading.Thread(
            target=self._drain, args=(read_fd, tee), name="chunk-output", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is None:
            return
        _flush_std()
        out, err = self._saved
        self._saved = None
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        self._stop.set()
        assert self._thread is not None
        # the thread ends once the pipe is empty (and closes it); a child
        # that outlives the chunk and keeps writing is not waited for
        self._thread.join(DRAIN_SECONDS)

    def write(self, text: str) -> None:
        """A logger record: into the pipe (in order with prints), or the buffer."""
        data = text.encode("utf-8", errors="replace")
        if self._saved is not None:
            _flush_std()
            with contextlib.suppress(OSError):
                os.write(2, data)
                return
        with self._lock:
            self.buffer.add(data)

    def text(self) -> str:
        with self._lock:
            return self.buffer.text()

    def _drain(self, fd: int, tee: int) -> None:
        labelled = False
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    if self._stop.is_set():
                        return
                    continue
                data = os.read(fd, 65536)
                if not data:
                    return
                with self._lock:
                    self.buffer.add(data)
                if not labelled:
                    labelled = True
                    data = f"--- {self.label} ---\n".encode() + data
                with contextlib.suppress(OSError):
                    os.write(tee, data)
        finally:
            os.close(fd)
            os.close(tee)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
