"""Durations and sizes as people write them in specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.spec.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800.0),
        ("2s", 2.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("90", 90.0),
        ("0", 0.0),
        (45, 45.0),
        (0.25, 0.25),
        ("2m30s", 150.0),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["3x", "", "m", "5 minutes", "-5s", "1h1h", "nan", "inf", "1.s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_duration(text)
    assert "use e.g. 30s, 5m, 2h" in str(info.value)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True])
def test_parse_duration_rejects_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("64MiB", 64 * 1024**2),
        ("1GB", 10**9),
        ("512KiB", 512 * 1024),
        ("100", 100),
        (100, 100),
        ("100B", 100),
        ("1.5GiB", 3 * 1024**3 // 2),
        ("64mib", 64 * 1024**2),
        ("2 TB", 2 * 10**12),
    ],
)
def test_parse_size(text: str | int, nbytes: int) -> None:
    assert parse_size(text) == nbytes


@pytest.mark.parametrize("text", ["64XB", "", "MiB", "-1", "1,5MiB", "ten"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid size .*use e\.g\. 512KiB, 64MiB, 1GB"):
        parse_size(text)


def test_format_examples() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.5) == "500ms"
    assert format_duration(0) == "0s"
    assert format_size(64 * 1024**2) == "64MiB"
    assert format_size(10**9) == "1GB"
    assert format_size(1000 + 1) == "1001"


@given(st.integers(min_value=0, max_value=10**12))
def test_duration_round_trip_milliseconds(millis: int) -> None:
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_duration_round_trip_any_float(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=2**60))
def test_size_round_trip(nbytes: int) -> None:
    assert parse_size(format_size(nbytes)) == nbytes
