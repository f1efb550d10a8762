"""A remote slot: ``python -m orchestrator.worker`` on an SSH exec channel.

The same framed protocol as a local slot, over a paramiko channel instead of
pipes; the coordinator cannot tell them apart (:class:`~orchestrator.executors.base.Slot`).
The channel's ``fileno()`` is selectable, so the dispatcher waits on remote
and local workers in one ``select``. The remote worker's stderr is copied to a
local log file, like a local worker's.

Sending: small frames (shared mode) are written at once. Push-mode frames
carry a chunk's rows, which must be read and may be large, so they go through
a per-slot sender thread: the dispatcher never blocks on a full SSH window,
and a worker busy returning a big part cannot deadlock against a coordinator
busy sending one. Once a slot has a sender thread every frame of that slot
goes through it, which keeps frames in order.

Stopping: closing the channel makes the remote worker exit by itself (its
stdin ends and its stdout's reader is gone). A worker that cannot notice
(stopped with SIGSTOP, stuck in C code) is also sent SIGKILL over a fresh
channel, so no orphan stays on the host.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import paramiko

from orchestrator.errors import SshError
from orchestrator.executors.base import Frame, SlotUnavailable
from orchestrator.executors.ssh.host import RemoteHost
from orchestrator.executors.ssh.push import PushTransfer
from orchestrator.executors.ssh.remote_commands import PID_LINE_PREFIX, worker_command
from orchestrator.protocol import MessageReader, ProtocolError, encode_message

#: SSH window for a worker channel: large enough that a chunk-sized part streams
#: back without waiting for a window adjust after every 2 MiB
CHANNEL_WINDOW = 16 * 1024 * 1024
#: bytes handed to paramiko per send call
SEND_BLOCK = 256 * 1024
#: bytes of a worker's last stderr kept for error messages
STDERR_TAIL = 2000
_PID_LINE = re.compile(rb"^" + re.escape(PID_LINE_PREFIX.encode()) + rb"(\d+)$", re.M)

_STOP = object()


class SshSlot:
    """One remote slot and the worker process in it (see the module docstring)."""

    def __init__(self, slot: int, index: int, host: RemoteHost, log_dir: Path) -> None:
        self.slot = slot
        self.index = index
        self.remote = host
        self.log_dir = log_dir
        self.known_jobs: set[str] = set()
        self.ready = False
        self._chan: paramiko.Channel | None = None
        self._reader = MessageReader()
        self._pid: int | None = None
        self._push = PushTransfer(f"{host.spec.workdir.rstrip('/')}/staging")
        self._push_tasks: set[str] = set()
        self._sender: _Sender | None = None
        self._log: IO[bytes] | None = None
        self._stderr_tail = b""
        self._early_exit: str | None = None  # why the last worker ended before "ready"

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.remote.name}/{self.index}"

    @property
    def host(self) -> str:
        return self.remote.name

    @property
    def pid(self) -> int | None:
        """The remote worker's pid (known once it said ``ready``)."""
        return self._pid

    @property
    def push(self) -> PushTransfer:
        return self._push

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._close()
        if self._early_exit is not None:
            reason, self._early_exit = self._early_exit, None
            error = SshError(f"host {self.host}: {reason}")
            self.remote.mark(False, error)
            raise SlotUnavailable(str(error))
        if self.remote.drained():
            raise SlotUnavailable(f"host {self.host} is drained (maintenance)")
        try:
            channel = self.remote.connection.open_command(
                worker_command(self.remote.spec), window_size=CHANNEL_WINDOW
            )
        except SshError as exc:
            self.remote.mark(False, exc)
            raise SlotUnavailable(str(exc)) from exc
        self.remote.mark(True)
        self._chan = channel
        channel.fileno()  # create the event pipe now: data may arrive before select
        self._reader = MessageReader()
        self.ready = False
        self.known_jobs = set()
        self._pid = None
        self._stderr_tail = b""
        self._push_tasks = set()
        self._push.reset()
        self.remote.slot_reset(self.slot)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = open(self.log_dir / f"ssh-{self.host}-{self.index}.log", "ab")  # noqa: SIM115

    def fileno(self) -> int:
        assert self._chan is not None
        return int(self._chan.fileno())

    def send(self, frames: Sequence[Frame]) -> bool:
        """Queue or write frames; False when the worker is gone."""
        chan = self._chan
        if chan is None or chan.closed:
            return False
        items: list[tuple[dict[str, Any], bytes | None, bool]] = []
        for header, payload in frames:
            push = False
            if header.get("type") == "run":
                self.remote.run_started(self.slot)
                push = (
                    self.remote.mode_for(header.get("job") or {}, header.get("chunk") or {})
                    == "push"
                )
                if push:
                    self._push_tasks.add(str(header.get("task")))
            items.append((header, payload, push))
        if self.remote.wants_ping():
            items.append(({"type": "ping", "id": "stats", "stats": True}, None, False))
        if self._sender is None and not any(push for _, _, push in items):
            try:
                _send_all(chan, b"".join(encode_message(h, p) for h, p, _ in items))
            except (OSError, EOFError, paramiko.SSHException):
                return False
            return True
        if self._sender is None:
            self._sender = _Sender(chan, self._push, self.name)
            self._sender.start()
        if self._sender.failed:
            return False
        self._sender.queue.put(items)
        return True

    def read_available(self) -> tuple[list[Frame], bool]:
        """Frames that arrived (parts of push results already staged), and whether
        the stream is open."""
        chan = self._chan
        if chan is None:
            return [], False
        messages: list[Frame] = []
        try:
            while chan.recv_ready():
                data = chan.recv(1 << 20)
                if not data:
                    break
                for header, payload in self._reader.feed(data):
                    messages.append(self._incoming(header, payload))
            while chan.recv_stderr_ready():
                self._stderr(chan.recv_stderr(1 << 16))
        except ProtocolError as exc:
            self._stderr(f"jobctl: protocol error from the worker: {exc}\n".encode())
            return messages, False
        except (OSError, EOFError, paramiko.SSHException):
            return messages, False
        self.remote.report()
        open_ = not (chan.closed or chan.eof_received) or chan.recv_ready()
        if not open_:
            self._note_end(chan, tell_host=True)
        return messages, open_

    def _incoming(self, header: dict[str, Any], payload: bytes | None) -> Frame:
        kind = header.get("type")
        if kind == "result":
            task = str(header.get("task"))
            if task in self._push_tasks:
                self._push_tasks.discard(task)
                header = self._push.incoming(header, payload)
                payload = None
            self.remote.run_ended(self.slot, bool(header.get("ok")))
        elif kind == "ready":
            pid = header.get("pid")
            self._pid = pid if isinstance(pid, int) else None
        elif kind == "pong" and isinstance(header.get("stats"), dict):
            self.remote.on_figures(header["stats"])
        return header, payload

    def alive(self) -> bool:
        chan = self._chan
        if chan is None or chan.closed or chan.eof_received or chan.exit_status_ready():
            return False
        if self._sender is not None and self._sender.failed:
            return False
        if not self.remote.connection.is_active():
            return False
        # a drained host's idle slot retires; the coordinator restarts it when enabled
        return not (self.remote.drained() and not self.remote.busy(self.slot))

    def exit_status(self) -> int | None:
        chan = self._chan
        if chan is not None and chan.exit_status_ready():
            return int(chan.recv_exit_status())
        return None

    def kill(self) -> None:
        """Close the channel now; SIGKILL the remote worker if it may still run."""
        chan = self._chan
        if chan is None:
            return
        ended_by_itself = chan.exit_status_ready()
        if not ended_by_itself and self._pid is not None:
            self.remote.kill_remote(self._pid)
        self._note_end(chan, tell_host=ended_by_itself)
        self._close()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Let queued frames go out, close the worker's stdin, kill after ``timeout``."""
        chan = self._chan
        if chan is None:
            return
        deadline = time.monotonic() + timeout
        if self._sender is not None:
            self._sender.queue.put(_STOP)
            self._sender.join(timeout)
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            chan.shutdown_write()
        while not chan.exit_status_ready() and time.monotonic() < deadline:
            if chan.closed or not self.remote.connection.is_active():
                break
            time.sleep(0.005)
        if not chan.exit_status_ready():
            self.kill()
            return
        self._close()

    # -- internals -----------------------------------------------------------------------

    def _note_end(self, chan: paramiko.Channel, *, tell_host: bool) -> None:
        """Remember a worker that ended before it was ready (bad python, no package):
        the next start() fails with its stderr instead of respawning in a loop.
        With ``tell_host`` (the worker ended by itself, not by our kill) the host
        is marked failed at once, so its state is right even when the run ends
        before the slot would have been started again."""
        if self.ready or self._early_exit is not None:
            return
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            while chan.recv_stderr_ready():
                self._stderr(chan.recv_stderr(1 << 16))
        if chan.exit_status_ready():
            status = chan.recv_exit_status()
            tail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()[-3:]
            self._early_exit = (
                f"the remote worker exited with status {status} before it was ready"
                + (f": {' | '.join(tail)}" if tail else "")
            )
            if tell_host:
                self.remote.mark(False, SshError(f"host {self.host}: {self._early_exit}"))

    def _stderr(self, data: bytes) -> None:
        if not data:
            return
        self._stderr_tail = (self._stderr_tail + data)[-STDERR_TAIL:]
        if self._pid is None:  # the shell's pid line, before the ready frame
            found = _PID_LINE.search(self._stderr_tail)
            if found:
                self._pid = int(found.group(1))
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.write(data)
                self._log.flush()

    def _close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.failed = True
            sender.queue.put(_STOP)
        chan, self._chan = self._chan, None
        if chan is not None:
            with contextlib.suppress(Exception):
                chan.close()
        self.remote.slot_reset(self.slot)

    def close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()


def _send_all(chan: paramiko.Channel, data: bytes) -> None:
    """``sendall`` over a memoryview: paramiko's own slices a bytes copy per packet."""
    view = memoryview(data)
    while view:
        sent = chan.send(view[:SEND_BLOCK])  # type: ignore[arg-type]
        if sent <= 0:
            raise OSError("the channel is closed")
        view = view[sent:]


class _Sender(threading.Thread):
    """Writes one slot's frames in order, reading pushed chunks on the way."""

    def __init__(self, chan: paramiko.Channel, push: PushTransfer, name: str) -> None:
        super().__init__(name=f"ssh-send-{name}", daemon=True)
        self.chan = chan
        self.push = push
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.failed = False

    def run(self) -> None:
        while True:
            items = self.queue.get()
            if items is _STOP or self.failed:
                return
            try:
                for header, payload, push in items:
                    if push:
                        header, payload = self.push.outgoing(header, payload)
                    if payload is not None and len(payload) > SEND_BLOCK:
                        _send_all(
                            self.chan, encode_message({**header, "payload_size": len(payload)})
                        )
                        _send_all(self.chan, payload)
                    else:
                        _send_all(self.chan, encode_message(header, payload))
            except (OSError, EOFError, paramiko.SSHException):
                self.failed = True
                return
