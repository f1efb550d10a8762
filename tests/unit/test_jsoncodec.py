"""orchestrator.jsoncodec: orjson's speed, the standard library's meaning at the edges."""

from __future__ import annotations

import json
import math

import pytest

from orchestrator import jsoncodec


@pytest.mark.parametrize(
    "value",
    [
        {"type": "run", "chunk": {"seq": 3, "path": "/tmp/ü.csv"}, "token": 7, "x": None},
        [1, 2.5, "three", True, False, None, {"nested": [[]]}],
        {"big": 2**70, "small": -(2**70)},  # beyond 64 bits: encoded by json
        "text",
    ],
)
def test_round_trip_equals_the_standard_library(value: object) -> None:
    data = jsoncodec.dumps(value)
    assert isinstance(data, bytes)
    assert jsoncodec.loads(data) == json.loads(data) == value
    assert jsoncodec.loads(jsoncodec.dumps_text(value)) == value


def test_non_string_keys_become_strings_as_with_json() -> None:
    assert jsoncodec.loads(jsoncodec.dumps({1: "a", 2: "b"})) == {"1": "a", "2": "b"}


def test_nan_written_by_json_is_still_read() -> None:
    value = jsoncodec.loads(json.dumps({"x": float("nan")}))
    assert math.isnan(value["x"])


def test_bad_input_raises_value_error() -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads(b"{not json")
    with pytest.raises(ValueError):
        jsoncodec.loads(b"\xff\xfe")
    with pytest.raises(ValueError):
        jsoncodec.loads(memoryview(b"[1,"))
