"""Push transfer: a host without shared storage gets its chunks' rows over the SSH channel.

On the way out (:meth:`PushTransfer.outgoing`, on the slot's sender thread)
a ``run`` gets the chunk's rows, read here with the same reader a worker uses,
as an Arrow IPC stream payload, and its job payload is rewritten: the staging
dir becomes a remote scratch dir and ``return_part`` asks the worker to send
the part's bytes back instead of writing a file. On the way back
(:meth:`PushTransfer.incoming`, on the dispatcher's thread) the part's bytes
are checked against the worker's checksum and written into the job's real,
local staging dir atomically (temp file, fsync, rename, directory fsync); the
result then names that local file, so the coordinator commits it exactly as
it commits a shared-storage part.

A chunk that cannot be read here becomes a ``run`` with ``input_error``: the
worker reports it as a failed attempt, as if it had failed to read the file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from orchestrator.io.parts import write_bytes_atomic
from orchestrator.io.readers import read_chunk
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.planning.schema import decode_schema
from orchestrator.spec.model import CsvOptions

Frame = tuple[dict[str, Any], bytes | None]


@dataclass(frozen=True)
class _JobData:
    """What push needs of a job payload: where parts go here, how to read chunks."""

    staging_dir: str | None
    csv: CsvOptions | None
    csv_schema: pa.Schema | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> _JobData:
        csv = (payload.get("input") or {}).get("csv")
        schema = payload.get("csv_schema")
        return cls(
            staging_dir=payload.get("staging_dir"),
            csv=CsvOptions(**csv) if csv else None,
            csv_schema=decode_schema(schema) if schema else None,
        )


def table_to_ipc(table: pa.Table) -> bytes:
    """A table as one Arrow IPC stream (what a pushed ``run`` carries)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class PushTransfer:
    """Rewrites one slot's runs for push mode and stages the parts that come back."""

    def __init__(self, remote_staging: str) -> None:
        self.remote_staging = remote_staging
        self._jobs: dict[str, _JobData] = {}
        self._tasks: dict[str, str] = {}  # task -> job key, for the part's way back
        self._lock = threading.Lock()
        self.bytes_out = 0  # rows pushed (IPC bytes), for benchmarks
        self.bytes_in = 0  # parts received

    def reset(self) -> None:
        """Forget runs in flight (their worker is gone); job data is kept."""
        with self._lock:
            self._tasks.clear()

    def outgoing(self, header: dict[str, Any], payload: bytes | None) -> Frame:
        """A ``run`` ready for a push-mode worker (other frames pass unchanged)."""
        if header.get("type") != "run":
            return header, payload
        job = header.get("job") or {}
        key = str(job.get("key"))
        if len(job) > 1:
            with self._lock:
                self._jobs[key] = _JobData.from_payload(job)
            job = {**job, "staging_dir": self.remote_staging, "return_part": True}
            header = {**header, "job": job}
        with self._lock:
            data = self._jobs.get(key)
            self._tasks[str(header.get("task"))] = key
        if data is None:  # the worker answers unknown_job and the full job comes again
            return header, None
        chunk = ChunkDescriptor.from_dict(header["chunk"])
        if chunk.kind == "sequence":
            return header, None
        try:
            rows = table_to_ipc(read_chunk(chunk, data.csv, schema=data.csv_schema))
        except Exception as exc:  # reported as the attempt's failure, like a worker's read
            return {**header, "input_error": f"{type(exc).__name__}: {exc}"}, None
        self.bytes_out += len(rows)
        return header, rows

    def incoming(self, header: dict[str, Any], payload: bytes | None) -> dict[str, Any]:
        """A ``result`` whose returned part is now a local file (others unchanged)."""
        if header.get("type") != "result":
            return header
        with self._lock:
            key = self._tasks.pop(str(header.get("task")), None)
            data = self._jobs.get(key) if key is not None else None
        if payload is None or not header.get("ok"):
            return header
        self.bytes_in += len(payload)
        header = {k: v for k, v in header.items() if k != "payload_size"}
        try:
            if data is None or not data.staging_dir:
                raise ValueError("no local staging dir for the returned part")
            name = str(header.get("part_filename") or "")
            if not name or os.sep in name or name.startswith("."):
                raise ValueError(f"invalid part file name {name!r}")
            checksum = "sha256:" + hashlib.sha256(payload).hexdigest()
            if checksum != header.get("checksum"):
                raise ValueError("the returned part does not match its checksum")
            path = write_atomic(data.staging_dir, name, payload)
        except (OSError, ValueError) as exc:
            return {
                "type": "result",
                "task": header.get("task"),
                "token": header.get("token"),
                "ok": False,
                "error": f"staging the returned part failed: {type(exc).__name__}: {exc}",
                "error_class": "infrastructure",
            }
        header["part_file"] = path
        header["bytes_out"] = len(payload)
        return header


def write_atomic(directory: str, name: str, data: bytes) -> str:
    """Write ``directory/name`` all or nothing (temp, fsync, rename, dir fsync)."""
    return write_bytes_atomic(directory, name, data)
