"""What the coordinator needs from a slot, local or remote.

A slot is a place where one chunk at a time can run; the worker is the
process in it, which speaks the framed protocol (``orchestrator/protocol.py``).
An executor is how slots are made: the local executor runs each worker as a
child process over pipes, the SSH executor on a remote host over a paramiko
channel.
The coordinator only ever talks to this interface, so local and SSH slots can
serve one job together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from orchestrator.errors import JobctlError

Frame = tuple[dict[str, Any], bytes | None]


class SlotUnavailable(JobctlError):
    """A slot cannot be started now (host down, auth failed...); retried later."""


class Slot(Protocol):
    #: unique index among the coordinator's slots
    slot: int
    #: job payload keys already sent to the current process (reset by start())
    known_jobs: set[str]
    #: the worker said "ready" (protocol handshake)
    ready: bool

    @property
    def name(self) -> str:
        """Human name: ``local-0``, ``h1/2``."""

    @property
    def host(self) -> str:
        """The host the slot runs on (``localhost`` for local slots)."""

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None:
        """(Re)start the worker process; raise :class:`SlotUnavailable` if impossible."""

    def fileno(self) -> int:
        """A file descriptor that becomes readable when messages arrive."""

    def send(self, frames: Sequence[Frame]) -> bool:
        """Send frames; False when the worker is gone."""

    def read_available(self) -> tuple[list[Frame], bool]:
        """Messages that arrived without blocking, and whether the stream is open."""

    def alive(self) -> bool: ...

    def exit_status(self) -> int | None:
        """The worker's exit status once it has ended (None while it runs or unknown)."""

    def kill(self) -> None:
        """Stop the worker at once; its in-flight chunks are lost."""

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop politely (close its input), kill after ``timeout``."""
