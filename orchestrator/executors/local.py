"""Local slots: long-lived ``python -m orchestrator.worker`` child processes.

A local slot speaks exactly the framed protocol a remote SSH worker speaks;
only the transport (pipes instead of an SSH channel) differs. Workers run in
their own session so a terminal's Ctrl-C reaches the coordinator only (it
decides how to stop); they exit by themselves when their stdin closes, so a
coordinator killed with SIGKILL leaves no orphans behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.protocol import MessageReader, encode_message

WORKER_ARGV: tuple[str, ...] = (sys.executable, "-m", "orchestrator.worker")
#: Bytes each pipe to and from a worker holds (Linux; elsewhere the system's
#: default), so a deep queue of tiny chunks is written in one go and a worker
#: does not wait for the coordinator to read its results while the
#: coordinator is busy with the store. Correctness does not depend on it:
#: what the input pipe cannot take waits in the slot's outbox.
PIPE_BYTES = 1 << 20


class WorkerProcess:
    """One slot: a child process, its pipes and its incremental frame parser."""

    def __init__(self, slot: int, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.slot = slot
        self.log_dir = log_dir
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader = MessageReader()
        self.ready = False
        self.known_jobs: set[str] = set()  # job payload keys already sent to this process
        self.started_at = 0.0
        #: frames the input pipe could not take yet; written as the worker reads
        self._outbox = bytearray()
        #: started ahead by :meth:`prestart`; the next :meth:`start` keeps it
        self._prestarted = False
        #: the worker's stderr: what it wrote outside chunks, and a copy of each
        #: chunk's output under a line naming job, chunk and attempt (the store
        #: keeps the same per attempt: ``jobctl logs``); removed when empty
        self.log_path: Path | None = None

    @property
    def name(self) -> str:
        return f"local-{self.slot}"

    @property
    def host(self) -> str:
        return "localhost"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def prestart(self) -> None:
        """Start the process now; the coordinator's :meth:`start` then adopts
        it instead of starting another (a worker takes a tenth of a second or
        more to import its libraries: done while the caller plans)."""
        self.start()
        self._prestarted = True

    def start(self) -> None:
        if self._prestarted:
            self._prestarted = False
            if self.alive():
                return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path = self.log_dir / f"worker-{os.getpid()}-{self.slot}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                WORKER_ARGV,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,
                start_new_session=True,
                env=self.env,
            )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        for pipe in (self.proc.stdin, self.proc.stdout):
            _grow_pipe(pipe.fileno())
        os.set_blocking(self.proc.stdout.fileno(), False)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._outbox = bytearray()
        self.reader = MessageReader()
        self.ready = False
        self.known_jobs = set()
        self.started_at = time.monotonic()

    def fileno(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def send(self, frames: Sequence[tuple[dict[str, Any], bytes | None]]) -> bool:
        """Queue frames and write what the pipe takes now; False if the process
        is gone. Never blocks: a worker blocked on writing its results while we
        wait to write its input would deadlock us both. The rest is written as
        the worker reads (:meth:`read_available`: it answers every run it
        took, so its output wakes us)."""
        self._outbox += b"".join(encode_message(header, payload) for header, payload in frames)
        return self._write_outbox()

    def _write_outbox(self) -> bool:
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        while self._outbox:
            try:
                written = os.write(fd, self._outbox)
            except BlockingIOError:
                return True
            except OSError:  # BrokenPipeError included: the worker is gone
                return False
            del self._outbox[:written]
        return True

    def read_available(self) -> tuple[list[tuple[dict[str, Any], bytes | None]], bool]:
        """Messages that arrived, and whether the stream is still open."""
        messages: list[tuple[dict[str, Any], bytes | None]] = []
        if self._outbox:
            self._write_outbox()  # a dead worker is seen by its output's end
        while True:
            try:
                data = os.read(self.fileno(), 1 << 16)
            except BlockingIOError:
                return messages, True
            except OSError:
                return messages, False
            if not data:
                return messages, False
            messages.extend(self.reader.feed(data))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def kill(self) -> None:
        """Stop at once (SIGKILL to its whole session) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self._close()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Ask politely (close stdin), then kill after ``timeout``."""
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close()

    def _close(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                if self.log_path.stat().st_size == 0:
                    self.log_path.unlink()


def _grow_pipe(fd: int) -> None:
    """Best effort: a pipe of ``PIPE_BYTES`` (capped by the system's limit)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    size = PIPE_BYTES
    try:
        with open("/proc/sys/fs/pipe-max-size") as limit:
            size = min(size, int(limit.read()))
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_size, size)
