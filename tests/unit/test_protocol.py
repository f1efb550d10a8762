"""The framed wire protocol: round trips, incremental parsing, and every way a stream can break."""

from __future__ import annotations

import io
import os
import struct
from typing import Any

import pytest

from orchestrator.protocol import (
    MAX_HEADER_SIZE,
    MessageReader,
    ProtocolError,
    build_job_payload,
    encode_message,
    read_message,
    run_message,
    write_message,
)
from orchestrator.spec.model import JobSpec, OutputSpec


def test_round_trip_header_only() -> None:
    stream = io.BytesIO()
    write_message(stream, {"type": "ready", "pid": 12, "host": "h", "text": "grüße ✓"})
    stream.seek(0)
    header, payload = read_message(stream)
    assert header == {"type": "ready", "pid": 12, "host": "h", "text": "grüße ✓"}
    assert payload is None
    with pytest.raises(EOFError):
        read_message(stream)


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 1024 * 1024])
def test_round_trip_with_payload(size: int) -> None:
    data = os.urandom(size)
    stream = io.BytesIO()
    write_message(stream, {"type": "data"}, data)
    write_message(stream, {"type": "after"})
    stream.seek(0)
    header, payload = read_message(stream)
    assert header == {"type": "data", "payload_size": size}
    assert payload == data
    assert read_message(stream) == ({"type": "after"}, None)


def test_write_does_not_mutate_header_and_is_one_write() -> None:
    class Recorder(io.BytesIO):
        writes = 0

        def write(self, data: Any) -> int:
            Recorder.writes += 1
            return super().write(data)

    header = {"type": "x"}
    stream = Recorder()
    write_message(stream, header, b"abc")
    assert header == {"type": "x"}
    assert Recorder.writes == 1


def test_unserializable_header_writes_nothing() -> None:
    stream = io.BytesIO()
    with pytest.raises(TypeError):
        write_message(stream, {"type": "checkpoint", "state": object()})
    assert stream.getvalue() == b""


def test_clean_eof_and_truncation() -> None:
    frame = encode_message({"type": "run", "task": "t1"}, b"payload")
    with pytest.raises(EOFError):
        read_message(io.BytesIO(b""))
    for cut in (1, 3, 4, 10, len(frame) - 1):
        with pytest.raises(ProtocolError):
            read_message(io.BytesIO(frame[:cut]))


@pytest.mark.parametrize(
    "raw",
    [
        struct.pack(">I", 5) + b"nojs!",
        struct.pack(">I", 2) + b"[]",
        struct.pack(">I", 2) + b"\xff\xfe",
        struct.pack(">I", MAX_HEADER_SIZE + 1),
        b"GET / HTTP/1.1\r\n\r\n",
        encode_message({"type": "x", "payload_size": -1}),
        encode_message({"type": "x", "payload_size": "3"}),
    ],
)
def test_garbage_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_message(io.BytesIO(raw))
    with pytest.raises(ProtocolError):
        MessageReader().feed(raw + b"\0" * 64)


def test_reader_byte_by_byte() -> None:
    frames: list[tuple[dict[str, Any], bytes | None]] = [
        ({"type": "run", "task": "a"}, None),
        ({"type": "data", "payload_size": 5}, b"12345"),
        ({"type": "empty", "payload_size": 0}, b""),
        ({"type": "result", "task": "a", "ok": True}, None),
    ]
    stream = b"".join(encode_message(h, p) for h, p in frames)
    reader = MessageReader()
    got = []
    for i in range(len(stream)):
        got.extend(reader.feed(stream[i : i + 1]))
    assert got == frames
    assert reader.pending == 0


def test_reader_many_frames_in_one_feed_and_split_points() -> None:
    frames = [({"type": "run", "task": f"t{i}", "payload_size": i}, b"x" * i) for i in range(200)]
    stream = b"".join(encode_message(h, p) for h, p in frames)
    assert MessageReader().feed(stream) == frames
    for split in (1, 7, 4096, len(stream) - 3):
        reader = MessageReader()
        assert reader.feed(stream[:split]) + reader.feed(stream[split:]) == frames


def test_reader_on_a_pipe_fd_reports_eof_and_truncation() -> None:
    r, w = os.pipe()
    try:
        reader = MessageReader(r)
        os.write(w, encode_message({"type": "a"}) + encode_message({"type": "b"})[:3])
        assert reader.read_available() == [({"type": "a"}, None)]
        os.close(w)
        w = -1
        with pytest.raises(ProtocolError):
            reader.read_available()
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)

    r, w = os.pipe()
    reader = MessageReader(r)
    assert reader.fileno() == r
    os.write(w, encode_message({"type": "shutdown"}))
    os.close(w)
    assert reader.read_available() == [({"type": "shutdown"}, None)]
    with pytest.raises(EOFError):
        reader.read_available()
    os.close(r)


def test_job_payload_and_run_message_are_json_frames() -> None:
    spec = JobSpec(
        name="conv",
        type="convert",
        params={"columns": ["a"]},
        output=OutputSpec(path="/out", format="csv", compression="gzip"),
    )
    job = build_job_payload(spec, "7:abc", "/out/_staging")
    assert job["output"] == {"format": "csv", "compression": "gzip"}
    assert job["input"]["csv"]["delimiter"] == ","
    msg = run_message("t1", job, {"seq": 0}, token=3, attempt=1, part_name="part-00000.attempt-3")
    (decoded, _), *_ = MessageReader().feed(encode_message(msg))
    assert decoded == msg
