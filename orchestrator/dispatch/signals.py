"""SIGINT/SIGTERM during a run: the first asks for a graceful stop, the next for an immediate one.

Handlers are installed only in the main thread (Python's rule) and only when
the caller wants them (a library caller may handle signals itself); the
previous handlers come back when the run ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


def install_stop_signals(enabled: bool, on_signal: Callable[[], None]) -> dict[int, Any]:
    """Call ``on_signal`` on SIGINT and SIGTERM; returns the handlers replaced."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def restore_signals(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
