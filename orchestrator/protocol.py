"""The one wire protocol between a coordinator and its workers.

The same frames carry a chunk to a local child process (subprocess pipes) and
to a remote worker (an SSH channel's stdin/stdout); only the transport differs.
No pickle ever crosses the wire: headers are JSON, data is Arrow IPC.

Frame
    ``uint32`` big-endian length *L* of the header, *L* bytes of UTF-8 JSON (an
    object), then — only when the header has ``"payload_size": n`` — *n* raw
    bytes (an Arrow IPC stream for data that must travel with the message).

Messages (``type`` field)
    worker -> coordinator, once at start::

        {"type": "ready", "protocol": 1, "pid": int, "host": str,
         "version": orchestrator.__version__, "python": "3.11.7"}

    coordinator -> worker, run one chunk::

        {"type": "run", "task": str (opaque, echoed back), "job": JOB,
         "chunk": ChunkDescriptor.to_dict(), "token": int (fencing token),
         "attempt": int, "checkpoint": any | null,
         "part_name": "part-00042.attempt-7" (the worker adds the extension),
         ["chunk_id": int (the chunk's store id; names it in an orphan's receipt)]}

    ``JOB`` is ``{"key", "name", "type", "python", "command", "params",
    "input": {"format", "csv": {delimiter, header, quote_char, encoding}},
    "output": {"format", "compression"} | null, "staging_dir": str | null}``
    (see :func:`build_job_payload`). The worker caches job payloads and their
    loaded processors by ``key`` (a small LRU), so after the first run of a key
    on a worker the coordinator may send only ``{"key": ...}``.

    worker -> coordinator, the outcome of a run (exactly one per run)::

        {"type": "result", "task", "token", "ok": true, "rows_in", "rows_out",
         "rows_rejected", "bytes_out", "checksum": "sha256:..." | null,
         "part_file": absolute path | null,
         "timings": {"read": s, "process": s, "write": s},
         ["reject_reasons": {reason: n}]}
        {"type": "result", "task", "token", "ok": false,
         "error": "ExceptionType: message", "traceback": str (last ~30 lines),
         "traceback_full": str (capped), "error_types": [qualified class names],
         "error_class": "processor" | "infrastructure", ["unknown_job": true]}

    Either kind may carry ``"output": str, "output_bytes": n``: what the
    attempt printed on fds 1/2 and logged (head and tail, capped), for
    ``jobctl logs``; ``error_types`` lets the coordinator classify an error
    as deterministic (not retried) without importing the processor.

    ``unknown_job: true`` (class ``infrastructure``) means the worker had no
    cached payload for a key-only ``job``: resend the run with the full job.

    worker -> coordinator, while a run is in progress::

        {"type": "checkpoint", "task", "state": json-able}
        {"type": "log", "task", "level": "INFO", "logger": str, "message": str}

    either direction, liveness::

        {"type": "ping", "id": any}  ->  {"type": "pong", "id": any}

    worker -> coordinator, when its ``ready`` carried ``"heartbeat": seconds``
    (local workers get ``$JOBCTL_WORKER_HEARTBEAT``), at least that often, also
    while a chunk runs; the coordinator renews the leases of a worker only
    while it hears from it::

        {"type": "heartbeat"}

    coordinator -> worker::

        {"type": "shutdown"}      the worker exits 0.

    End of stream on the worker's stdin also makes it exit 0 (this is how a
    remote worker dies when its SSH channel closes); a worker whose stdout
    reader vanished exits at once, even in the middle of a chunk.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from orchestrator import jsoncodec
from orchestrator.errors import JobctlError

if TYPE_CHECKING:
    from orchestrator.spec.model import JobSpec

PROTOCOL_VERSION = 1

#: Set by the coordinator in a worker's environment: send a ``heartbeat``
#: message this often (seconds).
HEARTBEAT_ENV = "JOBCTL_WORKER_HEARTBEAT"

#: A header larger than this is garbage (or an attack), not a message.
MAX_HEADER_SIZE = 16 * 1024 * 1024
#: Payloads carry at most one chunk's data; anything larger is a bug.
MAX_PAYLOAD_SIZE = 8 * 1024 * 1024 * 1024
#: Payloads up to this size are joined with the header into one write call.
_JOIN_LIMIT = 1024 * 1024

_LEN = struct.Struct(">I")

Message = tuple[dict[str, Any], bytes | None]


class ProtocolError(JobctlError):
    """The byte stream is not a valid frame sequence (garbage, truncation, oversize)."""


def encode_message(header: Mapping[str, Any], payload: bytes | None = None) -> bytes:
    """One frame as bytes (the payload joined in; used for small frames and tests)."""
    if payload is not None:
        header = {**header, "payload_size": len(payload)}
    body = jsoncodec.dumps(header)
    if len(body) > MAX_HEADER_SIZE:
        raise ProtocolError(f"header of {len(body)} bytes exceeds {MAX_HEADER_SIZE}")
    if payload is None:
        return _LEN.pack(len(body)) + body
    return b"".join((_LEN.pack(len(body)), body, payload))


def write_message(
    stream: BinaryIO, header: Mapping[str, Any], payload: bytes | None = None, flush: bool = True
) -> None:
    """Write one frame, in one write call where the payload is small, then flush.

    The header is serialized before anything is written, so a header that is
    not JSON-able raises without leaving half a frame on the stream. Pass
    ``flush=False`` to batch several frames into one flush (the worker does
    this when answering pipelined runs).
    """
    if payload is not None and len(payload) > _JOIN_LIMIT:
        frame = encode_message({**header, "payload_size": len(payload)})
        _write_all(stream, frame)
        _write_all(stream, payload)
    else:
        _write_all(stream, encode_message(header, payload))
    if flush:
        stream.flush()


def _write_all(stream: BinaryIO, data: bytes) -> None:
    # Buffered streams write everything; raw ones (FileIO, sockets' makefile)
    # may return a short count, which must not silently cut a frame.
    written = stream.write(data)
    if written is None or written >= len(data):
        return
    view = memoryview(data)
    while written < len(data):
        n = stream.write(view[written:])
        written += n or 0


def read_message(stream: BinaryIO) -> Message:
    """Read one frame (blocking).

    Raises :class:`EOFError` when the stream ends cleanly between frames and
    :class:`ProtocolError` when it ends inside a frame or holds garbage.
    """
    prefix = _read_exact(stream, 4, at_frame_start=True)
    (size,) = _LEN.unpack(prefix)
    if size > MAX_HEADER_SIZE:
        raise ProtocolError(f"header length {size} exceeds {MAX_HEADER_SIZE}: not a jobctl stream")
    header = decode_header(_read_exact(stream, size))
    n = payload_size(header)
    if n is None:
        return header, None
    return header, _read_exact(stream, n)


def _read_exact(stream: BinaryIO, n: int, at_frame_start: bool = False) -> bytes:
    data = stream.read(n)
    if data is None:
        raise ProtocolError("stream is non-blocking; use MessageReader instead")
    if len(data) == n:
        return data
    if not data and at_frame_start:
        raise EOFError("end of stream")
    parts = [data]
    got = len(data)
    while got < n:
        more = stream.read(n - got)
        if not more:
            raise ProtocolError(f"stream ended inside a frame ({got} of {n} bytes)")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def decode_header(body: bytes | bytearray) -> dict[str, Any]:
    """Parse a header body; anything but a JSON object is garbage."""
    try:
        header = jsoncodec.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"frame header is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"frame header is a JSON {type(header).__name__}, not an object")
    return header


def payload_size(header: Mapping[str, Any]) -> int | None:
    """The size of the payload that follows ``header``, validated."""
    n = header.get("payload_size")
    if n is None:
        return None
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > MAX_PAYLOAD_SIZE:
        raise ProtocolError(f"invalid payload_size {n!r}")
    return n


class MessageReader:
    """An incremental frame parser, for a coordinator that multiplexes many workers.

    Feed it whatever bytes arrived (:meth:`feed`) and get back the complete
    messages; partial frames stay buffered until the rest arrives. Built with a
    ``source`` (a file descriptor, or an object with ``recv`` — a socket or a
    paramiko channel — or ``fileno``), :meth:`read_available` does one
    read from it, suitable after a ``selectors`` readiness event.
    """

    def __init__(self, source: Any = None, read_size: int = 256 * 1024) -> None:
        self._source = source
        self._read_size = read_size
        self._buf = bytearray()
        self._pos = 0
        self._header: dict[str, Any] | None = None  # parsed, waiting for its payload
        self._need = 0  # payload bytes still missing for self._header

    def fileno(self) -> int:
        """The source's descriptor, so the reader itself can be registered with selectors."""
        if isinstance(self._source, int):
            return self._source
        if self._source is None:
            raise ValueError("MessageReader has no source")
        return int(self._source.fileno())

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held in the buffer."""
        return len(self._buf) - self._pos

    def read_available(self) -> list[Message]:
        """Do one read from the source and return the messages it completed.

        Raises :class:`EOFError` at a clean end of stream and
        :class:`ProtocolError` when the stream ends inside a frame.
        """
        src = self._source
        if src is None:
            raise ValueError("MessageReader has no source")
        if isinstance(src, int):
            data = os.read(src, self._read_size)
        elif hasattr(src, "recv"):
            data = src.recv(self._read_size)
        else:
            data = os.read(src.fileno(), self._read_size)
        if not data:
            if self.pending or self._header is not None:
                raise ProtocolError(f"stream ended inside a frame ({self.pending} bytes buffered)")
            raise EOFError("end of stream")
        return self.feed(data)

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message they complete, in order."""
        buf = self._buf
        buf += data
        out: list[Message] = []
        pos = self._pos
        end = len(buf)
        while True:
            if self._header is not None:
                if end - pos < self._need:
                    break
                payload = bytes(buf[pos : pos + self._need])
                pos += self._need
                out.append((self._header, payload))
                self._header = None
                continue
            if end - pos < 4:
                break
            (size,) = _LEN.unpack_from(buf, pos)
            if size > MAX_HEADER_SIZE:
                raise ProtocolError(
                    f"header length {size} exceeds {MAX_HEADER_SIZE}: not a jobctl stream"
                )
            if end - pos - 4 < size:
                break
            header = decode_header(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            n = payload_size(header)
            if n is None:
                out.append((header, None))
            else:
                self._header = header
                self._need = n
        # Compact: drop consumed bytes so the buffer holds only the partial frame.
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out


def build_job_payload(spec: JobSpec, key: str, staging_dir: str | None) -> dict[str, Any]:
    """The ``job`` of a ``run`` message: all a worker needs of a spec, nothing more."""
    csv = spec.input.csv
    return {
        "key": key,
        "name": spec.name,
        "type": spec.type,
        "python": spec.python,
        "command": list(spec.command) if spec.command is not None else None,
        "params": dict(spec.params),
        "input": {
            "format": spec.input.format,
            "csv": dataclasses.asdict(csv),
        },
        "output": (
            {
                "format": spec.output.format,
                "compression": spec.output.compression,
                **({"schema": spec.output.schema} if spec.output.schema else {}),
            }
            if spec.output is not None
            else None
        ),
        "staging_dir": staging_dir,
        **({"steps": [dict(step) for step in spec.steps]} if spec.steps else {}),
    }


def run_message(
    task: str,
    job: Mapping[str, Any],
    chunk: Mapping[str, Any],
    token: int,
    attempt: int,
    part_name: str,
    checkpoint: Any = None,
    chunk_id: int | None = None,
) -> dict[str, Any]:
    """A ``run`` header; pass ``job={"key": key}`` once the worker has the full job."""
    return {
        "type": "run",
        "task": task,
        "job": job,
        "chunk": chunk,
        "chunk_id": chunk_id,
        "token": token,
        "attempt": attempt,
        "checkpoint": checkpoint,
        "part_name": part_name,
    }
