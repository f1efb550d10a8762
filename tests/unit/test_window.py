"""Window starts of ``chunking.window`` (shuffle/window.py): the epoch-aligned
floor of every time, the same window for one instant written three ways, and
bad columns refused as bad data."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import PermanentError
from orchestrator.shuffle.window import WINDOW_COLUMN, assign_window, window_starts

HOUR_US = 3600 * 10**6


def _windows(table: pa.Table, every_us: int = HOUR_US) -> list[object]:
    ctx = SimpleNamespace(params={"column": "ts", "every_us": every_us})
    return assign_window(table, ctx).column(WINDOW_COLUMN).to_pylist()


@given(
    st.lists(st.integers(min_value=-(10**17), max_value=10**17), max_size=50),
    st.integers(min_value=1, max_value=10**12),
)
def test_a_window_start_is_the_last_multiple_of_the_length_not_after_the_time(
    micros: list[int], every_us: int
) -> None:
    starts = window_starts(pa.array(micros, pa.int64()), every_us)
    for value, start in zip(micros, starts.tolist(), strict=True):
        assert start % every_us == 0 and start <= value < start + every_us


def test_one_instant_as_text_zoned_timestamp_and_naive_timestamp_has_one_window() -> None:
    instant = dt.datetime(2026, 3, 1, 12, 40, tzinfo=dt.UTC)
    text = _windows(pa.table({"ts": ["2026-03-01T14:40:00+02:00"]}))
    zoned = _windows(pa.table({"ts": pa.array([instant], pa.timestamp("s", tz="Asia/Tokyo"))}))
    naive = _windows(pa.table({"ts": pa.array([instant.replace(tzinfo=None)], pa.timestamp("ns"))}))
    assert text == naive == [dt.datetime(2026, 3, 1, 12, 0)]
    assert zoned[0].astimezone(dt.UTC) == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_a_date_column_falls_in_the_window_of_its_midnight() -> None:
    days = _windows(
        pa.table({"ts": pa.array([dt.date(2026, 3, 4), None], pa.date32())}), 86400 * 10**6
    )
    assert days == [dt.datetime(2026, 3, 4), None]


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (pa.table({"v": [1]}), "no column 'ts'"),
        (pa.table({"ts": [1]}), "int64"),
        (pa.table({"ts": ["soon"]}), "'soon' is not an ISO 8601 time"),
        (pa.table({"ts": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00"]}), "mixes"),
        (pa.table({"ts": ["2026-01-01"], WINDOW_COLUMN: [1]}), "already has one"),
    ],
)
def test_a_column_that_holds_no_times_is_bad_data(table: pa.Table, words: str) -> None:
    with pytest.raises(PermanentError, match=words):
        _windows(table)


def test_the_spec_names_the_column_the_map_step_adds() -> None:
    from orchestrator.spec import key_chunking

    assert key_chunking.WINDOW_COLUMN == WINDOW_COLUMN  # kept apart so validate loads no Arrow
