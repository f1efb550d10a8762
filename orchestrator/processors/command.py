"""``command: [program, arg, ...]``: any program that reads and writes CSV or Arrow IPC.

The chunk goes to the program's stdin, its stdout is the chunk's output. The
argv list is executed directly — never through a shell — so arguments need no
quoting. ``communicate`` feeds stdin and drains stdout/stderr concurrently, so
a large chunk cannot deadlock on full pipe buffers.

Params:
    ``stdin_format``   ``csv`` (default) or ``arrow`` (Arrow IPC stream).
    ``stdout_format``  ``csv`` or ``arrow``; defaults to ``stdin_format``.
    ``timeout``        seconds; the program is killed when it runs longer.

The program also gets ``JOBCTL_JOB_NAME``, ``JOBCTL_CHUNK_SEQ``,
``JOBCTL_ATTEMPT`` and ``JOBCTL_PARAMS`` (JSON) in its environment. Empty
stdout means "no output rows".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from orchestrator.errors import ProcessorError
from orchestrator.processors.environment import without_store_credentials

if TYPE_CHECKING:
    from orchestrator.processors.base import ChunkContext

FORMATS = ("csv", "arrow")
#: Lines of the program's stderr quoted in the error when it fails.
STDERR_TAIL_LINES = 20


class CommandFailed(RuntimeError):
    """The program exited non-zero, was killed, or timed out."""


class CommandProcessor:
    """One job's command, validated once; called once per chunk."""

    def __init__(
        self, argv: list[str], stdin_format: str, stdout_format: str, timeout: float | None
    ) -> None:
        self.argv = argv
        self.stdin_format = stdin_format
        self.stdout_format = stdout_format
        self.timeout = timeout

    def __call__(self, table: pa.Table, ctx: ChunkContext) -> pa.Table | None:
        data = encode_table(table, self.stdin_format)
        env = without_store_credentials(os.environ)  # the worker's already is
        env["JOBCTL_JOB_NAME"] = ctx.job_name
        env["JOBCTL_CHUNK_SEQ"] = str(ctx.chunk.seq)
        env["JOBCTL_ATTEMPT"] = str(ctx.attempt)
        env["JOBCTL_PARAMS"] = json.dumps(ctx.params)
        program = self.argv[0]
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise CommandFailed(f"cannot start command {program!r}: {exc}") from exc
        try:
            out, err = proc.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise CommandFailed(
                f"command {program!r} timed out after {self.timeout}s" + _tail_suffix(err)
            ) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.returncode
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise CommandFailed(f"command {program!r} {how}" + _tail_suffix(err))
        try:
            return decode_table(out, self.stdout_format)
        except (pa.ArrowInvalid, ValueError) as exc:
            raise CommandFailed(
                f"command {program!r} wrote stdout that is not valid {self.stdout_format}: {exc}"
            ) from None


def make_command_processor(argv: list[str], params: Mapping[str, Any]) -> CommandProcessor:
    """Validate the argv and params once per job (program on PATH, known formats)."""
    if not argv or not argv[0]:
        raise ProcessorError("command must be a non-empty list: [program, arg, ...]")
    program = argv[0]
    if shutil.which(program) is None:
        where = "is not an executable file" if os.sep in program else "was not found on PATH"
        raise ProcessorError(f"command {program!r} {where}")
    stdin_format = params.get("stdin_format", "csv")
    stdout_format = params.get("stdout_format", stdin_format)
    for name, value in (("stdin_format", stdin_format), ("stdout_format", stdout_format)):
        if value not in FORMATS:
            raise ProcessorError(f"command: params.{name} must be csv or arrow, got {value!r}")
    timeout = params.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ProcessorError(f"command: params.timeout must be a positive number, got {timeout!r}")
    return CommandProcessor(
        list(argv), stdin_format, stdout_format, float(timeout) if timeout else None
    )


def encode_table(table: pa.Table, fmt: str) -> bytes:
    """The bytes a program reads on stdin; a table without columns is empty input."""
    if table.num_columns == 0:
        return b""
    sink = pa.BufferOutputStream()
    if fmt == "csv":
        pa_csv.write_csv(table, sink)
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return bytes(sink.getvalue())


def decode_table(data: bytes, fmt: str) -> pa.Table | None:
    """Parse a program's stdout; nothing (or only whitespace) means no output."""
    if not data or data.isspace():
        return None
    if fmt == "csv":
        return pa_csv.read_csv(pa.BufferReader(data))
    with pa.ipc.open_stream(pa.BufferReader(data)) as reader:
        return reader.read_all()


def _tail_suffix(stderr: bytes | None) -> str:
    if not stderr:
        return " (no stderr)"
    lines = stderr.decode("utf-8", errors="replace").rstrip().splitlines()
    tail = "\n".join(lines[-STDERR_TAIL_LINES:])
    return f"; stderr (last {STDERR_TAIL_LINES} lines):\n{tail}"
