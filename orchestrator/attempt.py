"""One attempt of one chunk inside a worker: read, process, write, report.

:mod:`orchestrator.worker` owns the process (the frames, the job cache, the
coordinator going away); this module owns what happens to one chunk once its
job is loaded: read its rows (a path, pushed rows, or a reduce chunk's
partition), call the processor, cast to the declared output schema, write the
part (or the map chunk's shuffle files, or the bytes a push-mode job returns),
and build the ``result`` header the coordinator commits. A processor error is
turned into a failed result here too, with its traceback and the classes the
retry policy reads.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from orchestrator.io.csv_errors import BadRow
from orchestrator.io.output_schema import cast_to, declared_schema
from orchestrator.io.parts import part_filename, serialize, write_part, write_rejects
from orchestrator.io.readers import read_chunk, read_chunk_projected
from orchestrator.io.sidecars import write_sidecars
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.planning.schema import decode_schema
from orchestrator.processors.base import (
    PROCESSOR_LOGGER,
    ChunkContext,
    Processor,
    SetupContext,
    is_partition_wise,
)
from orchestrator.processors.capture import clip_traceback
from orchestrator.processors.environment import job_environment
from orchestrator.processors.python_callable import NO_HOOKS, Hooks
from orchestrator.shuffle.runtime import (
    SHUFFLE_KIND,
    phase_fields,
    read_shuffle_chunk,
    reduce_by_slab,
    write_shuffle_output,
)
from orchestrator.spec.model import CsvOptions

#: Lines of a failed chunk's traceback sent to the coordinator.
TRACEBACK_LINES = 30

Emit = Callable[[dict[str, Any]], None]

_EMPTY = pa.table({})


class ChunkInputError(Exception):
    """The coordinator could not read a pushed chunk's rows (its message says why)."""


class LoadedJob:
    """A job payload parsed once, with its processor loaded on first use."""

    __slots__ = (
        "compression",
        "csv",
        "csv_schema",
        "hooks",
        "key",
        "name",
        "output_format",
        "output_schema",
        "params",
        "payload",
        "processor",
        "read_columns",
        "ready",
        "resources",
        "return_part",
        "staging_dir",
        "steps",
    )

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.key = str(payload["key"])
        self.name = str(payload.get("name") or self.key)
        self.params: dict[str, Any] = dict(payload.get("params") or {})
        csv = (payload.get("input") or {}).get("csv")
        self.csv = CsvOptions(**csv) if csv else None
        output = payload.get("output")
        self.output_format: str | None = output["format"] if output else None
        self.compression: str = (output.get("compression") or "none") if output else "none"
        declared = output.get("schema") if output else None
        self.output_schema: pa.Schema | None = declared_schema(declared) if declared else None
        self.staging_dir: str | None = payload.get("staging_dir")
        schema = payload.get("csv_schema")
        self.csv_schema: pa.Schema | None = decode_schema(schema) if schema else None
        self.processor: Processor | None = None
        self.return_part = bool(payload.get("return_part"))
        #: preprocessing ``steps:``, run on the input rows (the first phase) only
        self.steps: list[dict[str, Any]] = list(payload.get("steps") or ())
        #: the only input columns the phase reads (map side of a keyed transform);
        #: never with ``steps:``, which may derive what the query reads from others
        columns = payload.get("read_columns")
        self.read_columns: frozenset[str] | None = (
            frozenset(str(c).lower() for c in columns)
            if columns is not None and not self.steps
            else None
        )
        self.hooks: Hooks = NO_HOOKS
        self.ready = False  # setup has run in this process
        self.resources: Any = None

    def set_up(self) -> None:
        """Run the processor module's ``setup(ctx)`` once in this process; what
        it returns is every chunk's ``ctx.resources``. Raising fails the chunk
        and the next chunk of the job tries again."""
        if self.ready:
            return
        if self.hooks.setup is not None:
            self.resources = self.hooks.setup(SetupContext(dict(self.params), self.name))
        self.ready = True

    def close(self) -> None:
        """Run ``teardown()`` if ``setup`` ran (the worker drops the job or exits);
        an error in it is logged, never raised: the chunks are already done."""
        if not self.ready:
            return
        self.ready = False
        self.resources = None
        if self.hooks.teardown is not None:
            try:
                self.hooks.teardown()
            except Exception:
                PROCESSOR_LOGGER.exception("teardown() of job %r failed", self.name)


def run_attempt(
    job: LoadedJob,
    processor: Processor,
    chunk: ChunkDescriptor,
    task: str,
    token: Any,
    attempt: int,
    checkpoint: Any,
    part_name: str | None,
    data: bytes | None = None,
    state: Any = None,
    emit: Emit | None = None,
) -> tuple[dict[str, Any], bytes | None]:
    t0 = time.perf_counter()
    bad_rows: list[BadRow] = []
    #: a partition-wise reduce reads its chunk slab by slab, inside the processor call
    by_slab = chunk.kind == SHUFFLE_KIND and data is None and is_partition_wise(processor)
    if by_slab:
        table = _EMPTY
    elif data is not None:
        table = pa.ipc.open_stream(data).read_all()
    elif chunk.kind == "sequence":
        table = _EMPTY
    elif chunk.kind == SHUFFLE_KIND:  # a reduce chunk: its partition, all map outputs
        table = read_shuffle_chunk(chunk, job.payload)
    elif job.read_columns is not None:
        table = read_chunk_projected(
            chunk, job.read_columns, job.csv, schema=job.csv_schema, rejected=bad_rows
        )
    else:
        table = read_chunk(chunk, job.csv, schema=job.csv_schema, rejected=bad_rows)
    t1 = time.perf_counter()
    if job.steps and chunk.kind not in ("sequence", SHUFFLE_KIND) and not job.payload.get("phase"):
        from orchestrator.standardize.pipeline import apply_pipeline

        table = apply_pipeline(table, job.steps)
    ctx = ChunkContext(
        params=job.params,
        chunk=chunk,
        job_name=job.name,
        attempt=attempt,
        last_checkpoint=checkpoint,
        task=task,
        emit=emit,
        state=state,
        staging_dir=job.staging_dir,
        resources=job.resources,
        bad_rows=bad_rows,
        csv=job.csv,
    )
    rows_read = table.num_rows
    with job_environment(job.payload.get("env")):  # the job's env: section
        if by_slab:
            out, rows_read = reduce_by_slab(processor, ctx, chunk, job.payload)
        else:
            out = processor(table, ctx)
    t2 = time.perf_counter()
    if out is not None and not isinstance(out, pa.Table):
        if isinstance(out, pa.RecordBatch):
            out = pa.Table.from_batches([out])
        else:
            raise TypeError(
                f"processor returned {type(out).__name__}; expected a pyarrow.Table or None"
            )
    if out is not None and job.output_schema is not None:
        out = cast_to(out, job.output_schema)
    part = None
    returned: bytes | None = None
    shuffled: dict[str, Any] | None = None
    if out is not None and "shuffle_write" in job.payload:  # a map chunk of a map_reduce
        if not part_name or not job.staging_dir:
            raise ValueError("a shuffle map chunk needs a part_name and a staging_dir")
        shuffled = write_shuffle_output(out, job.payload, job.staging_dir, part_name)
    elif out is not None and job.output_format is not None and job.return_part:
        if not part_name:
            raise ValueError("job has an output but the run has no part_name")
        returned = serialize(out, job.output_format, job.compression).to_pybytes()
    elif out is not None and job.output_format is not None:
        if not part_name or not job.staging_dir:
            raise ValueError("job has an output but the run has no part_name/staging_dir")
        part = write_part(out, job.staging_dir, part_name, job.output_format, job.compression)
    if ctx.files:
        if part is None:
            raise ValueError(
                "the processor wrote files beside its output (ctx.files): they need an output "
                "folder this worker writes (shared storage), not push transfer or no output"
            )
        write_sidecars(part.path, ctx.files)
    if bad_rows:
        ctx.reject(len(bad_rows), "csv: wrong number of fields")
    anchor = part.path if part is not None else (shuffled or {}).get("part_file")
    if ctx.quality is not None and anchor:  # validate: quarantine and counts beside the part
        ctx.quality.write(anchor)
    elif bad_rows and job.staging_dir and part_name and not job.return_part:
        write_rejects(bad_rows, job.staging_dir, part_name)
    t3 = time.perf_counter()
    result: dict[str, Any] = {
        "type": "result",
        "task": task,
        "token": token,
        "ok": True,
        "rows_in": rows_read + len(bad_rows),  # records read, rejected ones too
        "rows_out": out.num_rows if out is not None else 0,
        "rows_rejected": ctx.rows_rejected,
        "bytes_out": part.bytes if part is not None else 0,
        "checksum": part.checksum if part is not None else None,
        "part_file": part.path if part is not None else None,
        "timings": {"read": t1 - t0, "process": t2 - t1, "write": t3 - t2},
    }
    if shuffled is not None:
        result.update(shuffled)
    result.update(phase_fields(ctx))
    if ctx.reject_reasons:
        result["reject_reasons"] = ctx.reject_reasons
    if returned is not None:
        assert part_name is not None and job.output_format is not None
        result["bytes_out"] = len(returned)
        result["checksum"] = "sha256:" + hashlib.sha256(returned).hexdigest()
        result["part_filename"] = part_filename(part_name, job.output_format, job.compression)
    return result, returned


def error_types(exc: BaseException) -> list[str]:
    """The qualified names of the exception's classes, most specific first: the
    coordinator's retry policy (``dispatch/retry.py``) classifies an error by
    them without importing the processor's modules."""
    return [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in type(exc).__mro__
        if cls not in (BaseException, Exception, object)
    ]


def failure_result(task: str, token: Any, exc: BaseException, error_class: str) -> dict[str, Any]:
    text = "".join(traceback.format_exception(exc))
    lines = text.splitlines()
    return {
        "type": "result",
        "task": task,
        "token": token,
        "ok": False,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "\n".join(lines[-TRACEBACK_LINES:]),
        "traceback_full": clip_traceback(text.rstrip("\n")),
        "error_types": error_types(exc),
        "error_class": error_class,
    }
