"""The processor interface: processors are plain callables.

A processor is ``(table: pa.Table, ctx: ChunkContext) -> pa.Table | None``:
it gets the chunk's rows as an Arrow table (an empty table for ``sequence``
chunks) and returns the output rows, or ``None`` for "no output". Built-in job
types, user functions (``python: pkg.mod:func``) and external programs
(``command: [...]``) all become such a callable, so the worker runtime has
exactly one way to run a chunk.

Turning a job's ``type``/``python``/``command`` into such a callable lives in
:mod:`orchestrator.processors.loader`, which imports the concrete processors;
this module imports none of them, so they can depend on it without a cycle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.planning.model import ChunkDescriptor

if TYPE_CHECKING:
    import pyarrow as pa

Processor = Callable[["pa.Table", "ChunkContext"], "pa.Table | None"]
Emit = Callable[[dict[str, Any]], None]

#: The attribute :func:`partition_wise` sets on a processor.
PARTITION_WISE_ATTR = "jobctl_partition_wise"


def partition_wise(processor: Processor) -> Processor:
    """Mark a reduce processor whose result over several shuffle partitions is
    the concatenation of its results over each (true of any processor that
    only needs every row of a key together, as the reduce contract promises):
    a reduce chunk then calls it once per slab of its partitions instead of
    once over all of them. Smaller inputs keep a hash table in cache: DuckDB
    groups 5M rows a third faster in 16 slabs than at once, and the worker
    holds one slab at a time. Only built-ins that set nothing on ``ctx`` but
    ``reject`` are marked."""
    setattr(processor, PARTITION_WISE_ATTR, True)
    return processor


def is_partition_wise(processor: Processor) -> bool:
    return bool(getattr(processor, PARTITION_WISE_ATTR, False))


#: Distinct ``reject`` reasons kept per chunk; the rest are counted as "(other)".
MAX_REJECT_REASONS = 50

PROCESSOR_LOGGER_NAME = "jobctl.processor"


class _ForwardingHandler(logging.Handler):
    """Sends processor log records to the coordinator as ``log`` messages.

    One handler per process: the worker binds it to the running task's sink
    before each chunk (a worker runs one chunk at a time). Unbound (in-process
    use without a sink), warnings and errors still reach stderr.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sink: Emit | None = None
        self.task = ""

    def bind(self, sink: Emit | None, task: str) -> None:
        self.sink = sink
        self.task = task

    def emit(self, record: logging.LogRecord) -> None:
        sink = self.sink
        if sink is None:
            if record.levelno >= logging.WARNING and logging.lastResort is not None:
                logging.lastResort.handle(record)
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            sink(
                {
                    "type": "log",
                    "task": self.task,
                    "level": record.levelname,
                    "logger": record.name,
                    "message": message,
                }
            )
        except Exception:
            self.handleError(record)


LOG_HANDLER = _ForwardingHandler()
PROCESSOR_LOGGER = logging.getLogger(PROCESSOR_LOGGER_NAME)
PROCESSOR_LOGGER.addHandler(LOG_HANDLER)
PROCESSOR_LOGGER.setLevel(logging.INFO)
PROCESSOR_LOGGER.propagate = False


@dataclass(frozen=True, slots=True)
class SetupContext:
    """What a processor module's ``setup(ctx)`` sees: once per worker process
    per job, before its first chunk there (``processors/python_callable.py``)."""

    params: dict[str, Any]
    job_name: str
    logger: logging.Logger = PROCESSOR_LOGGER


@dataclass(slots=True, eq=False)
class ChunkContext:
    """What a processor may know and do besides transforming its table.

    ``last_checkpoint`` is the state the processor last saved for this chunk
    (from an earlier, interrupted attempt), or ``None``: a processor that
    supports checkpoints resumes from it. ``checkpoint(state)`` saves a new
    JSON-able state with the coordinator; ``reject(n, reason)`` counts input
    rows deliberately dropped, which the result reports as ``rows_rejected``.
    ``state`` and ``result`` are the phase protocol (``orchestrator/strategies``).
    """

    params: dict[str, Any]
    chunk: ChunkDescriptor
    job_name: str
    attempt: int = 1
    logger: logging.Logger = PROCESSOR_LOGGER
    last_checkpoint: Any = None
    task: str = ""
    rows_rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    emit: Emit | None = field(default=None, repr=False)
    #: a serial phase's carried state: the committed predecessor's, set anew
    #: by the processor for its successor (strategies/sequential.py)
    state: Any = None
    #: a small JSON-able value reported with the outcome (custom planners read it)
    result: Any = None
    #: the job's staging area: where a multi-phase job type's planner left the
    #: files its later phases read (``processors/identity/``)
    staging_dir: str | None = None
    #: CSV records the reader left out (``input.csv.bad_rows: reject``: io/csv_errors.BadRow)
    bad_rows: list[Any] = field(default_factory=list)
    #: the input's CSV options (None: not CSV), to find a row's line
    csv: Any = None
    #: a data-quality report for the attempt to write beside the part
    #: (``type: validate``: processors/validate_quarantine.Quality)
    quality: Any = None
    #: what the processor module's ``setup(ctx)`` returned in this worker process
    resources: Any = None
    #: ``{name: bytes}`` published beside the chunk's part (``io/sidecars.py``)
    files: dict[str, bytes] = field(default_factory=dict)

    def checkpoint(self, state: Any) -> None:
        """Save ``state`` (JSON-able) so a later attempt of this chunk can resume."""
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"checkpoint state must be JSON-able: {exc}") from None
        if self.emit is not None:
            self.emit({"type": "checkpoint", "task": self.task, "state": state})

    def reject(self, n: int, reason: str = "") -> None:
        """Count ``n`` input rows that were dropped on purpose (bad data, filters)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"reject() needs a non-negative row count, got {n!r}")
        self.rows_rejected += n
        if reason:
            reasons = self.reject_reasons
            if reason not in reasons and len(reasons) >= MAX_REJECT_REASONS:
                reason = "(other)"
            reasons[reason] = reasons.get(reason, 0) + n
