"""Plan a job: discover its inputs, fingerprint them and cut them into chunks.

The plan is pure data computed from the spec and the files; the caller stores
it (job row + chunk rows in one transaction). Chunk sequence numbers run
0..n-1 across all inputs in discovery order, so output part names are
deterministic for a given spec and set of files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from orchestrator.errors import PlanningError
from orchestrator.planning.csv_chunker import plan_csv_chunks
from orchestrator.planning.discover import discover_inputs
from orchestrator.planning.fingerprint import fingerprint
from orchestrator.planning.model import ChunkDescriptor, InputFile
from orchestrator.planning.parquet_chunker import plan_arrow_chunks, plan_parquet_chunks
from orchestrator.planning.schema import infer_csv_schema
from orchestrator.spec.model import JobSpec


@dataclass(frozen=True)
class Plan:
    """The inputs a job reads (with fingerprints) and its chunks, in order."""

    inputs: tuple[InputFile, ...]
    chunks: tuple[ChunkDescriptor, ...]
    #: CSV inputs: the column types every chunk is read with (planning/schema.py)
    csv_schema: pa.Schema | None = None

    @property
    def est_rows(self) -> int:
        """Estimated total rows (exact for Parquet and Arrow, estimated for CSV)."""
        return sum(c.est_rows for c in self.chunks)


def plan_job(spec: JobSpec) -> Plan:
    """Plan ``spec``; raises PlanningError naming the input that cannot be planned.

    ``input.sequence: N`` plans N data-less ``sequence`` chunks and no inputs.
    An input with no data rows (empty file, header only) contributes no chunk.
    """
    if spec.input.sequence is not None:
        if spec.input.sequence < 0:
            raise PlanningError(f"input.sequence must be >= 0, got {spec.input.sequence}")
        return Plan(
            inputs=(),
            chunks=tuple(
                ChunkDescriptor(seq=i, kind="sequence", path=None, start=i, stop=i + 1, est_rows=0)
                for i in range(spec.input.sequence)
            ),
        )
    if not spec.input.path:
        raise PlanningError(f"job {spec.name!r}: input needs a path or a sequence")
    inputs: list[InputFile] = []
    chunks: list[ChunkDescriptor] = []
    for path, fmt in discover_inputs(spec.input):
        info = fingerprint(path, fmt)
        inputs.append(info)
        chunks.extend(_chunk_file(spec, info, seq_start=len(chunks)))
    csv_schema = None
    csv_chunks = [c for c in chunks if c.kind == "csv"]
    if csv_chunks:
        csv_schema = infer_csv_schema(csv_chunks, spec.input.csv)
    return Plan(inputs=tuple(inputs), chunks=tuple(chunks), csv_schema=csv_schema)


def _chunk_file(spec: JobSpec, info: InputFile, *, seq_start: int) -> list[ChunkDescriptor]:
    if info.format == "csv":
        return plan_csv_chunks(
            info.path, spec.input.csv, spec.chunking, size=info.size, seq_start=seq_start
        )
    if info.format == "parquet":
        return plan_parquet_chunks(info.path, spec.chunking, seq_start=seq_start)
    if info.format == "arrow":
        return plan_arrow_chunks(info.path, spec.chunking, seq_start=seq_start)
    raise PlanningError(f"{info.path}: unknown input format {info.format!r}")


def refingerprint(inputs: tuple[InputFile, ...] | list[InputFile]) -> list[str]:
    """Paths among ``inputs`` that are missing or whose fingerprint changed.

    Used before resuming: chunk byte and row ranges are only valid against
    the files they were planned on. Size, mtime and the sample hash must all
    match, so a ``touch`` counts as a change (conservative: re-plan rather
    than risk reading shifted ranges).
    """
    changed: list[str] = []
    for old in inputs:
        try:
            new = fingerprint(old.path, old.format)
        except PlanningError:
            changed.append(old.path)
            continue
        if (new.size, new.mtime_ns, new.sample_hash) != (old.size, old.mtime_ns, old.sample_hash):
            changed.append(old.path)
    return changed
