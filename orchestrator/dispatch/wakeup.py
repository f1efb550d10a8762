"""A self-pipe that wakes the dispatch loop out of ``select()`` from another thread.

The committer thread (``ledger.py``) commits outcomes in the background; when
its answer comes, the loop should take it in at once — the end of a job is
then seen immediately, not at ``select()``'s timeout. Writing one byte to a
pipe the loop's selector watches does that without locks or polling.
"""

from __future__ import annotations

import contextlib
import os


class WakePipe:
    """Both ends non-blocking: a full pipe already means "wake up"."""

    def __init__(self) -> None:
        self.reader, self._writer = os.pipe()
        os.set_blocking(self.reader, False)
        os.set_blocking(self._writer, False)

    def wake(self) -> None:
        """Any thread: make the reader readable."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._writer, b"!")

    def drain(self) -> None:
        """The loop: the wake-up was seen."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self.reader, 4096)

    def close(self) -> None:
        for fd in (self.reader, self._writer):
            with contextlib.suppress(OSError):
                os.close(fd)
