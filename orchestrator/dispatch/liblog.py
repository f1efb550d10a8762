"""Where the coordinator's and its libraries' log records go: a file, never the screen.

Python prints a library's warnings on stderr when no handler is configured
(``logging.lastResort``). Under ``serve`` that put psycopg's pool warnings
(``error connecting in 'jobctl-store'``) across the live view during a
database restart. A coordinator sends its own and its libraries' records to
``coordinator.log`` in the log directory (``$XDG_STATE_HOME/jobctl/logs``),
each line tagged with the coordinator's pid, for as long as it runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

#: the loggers a coordinator routes to its file (a library's children included)
ROUTED = ("psycopg", "orchestrator.dispatch", "orchestrator.store", "paramiko")
LOG_NAME = "coordinator.log"


def coordinator_log(log_dir: Path) -> Path:
    return log_dir / LOG_NAME


@contextlib.contextmanager
def logs_to_file(log_dir: Path) -> Iterator[Path | None]:
    """Route :data:`ROUTED` loggers to ``log_dir/coordinator.log`` (WARNING and
    above) and not to the screen, until the block ends. When the file cannot
    be opened, records are dropped rather than printed over the view."""
    path: Path | None = coordinator_log(log_dir)
    handler: logging.Handler
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        handler, path = logging.NullHandler(), None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s coordinator[{os.getpid()}] %(name)s %(levelname)s %(message)s"
        )
    )
    saved: list[tuple[logging.Logger, bool]] = []
    for name in ROUTED:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield path
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
        handler.close()
