"""Each validate rule on a handmade table: which rows break it, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from orchestrator.processors.validate_rules import (
    RuleError,
    parse_rule,
    reasons,
    violations,
)
from orchestrator.processors.validate_schema import cast_column, parse_schema

TABLE = pa.table(
    {
        "id": pa.array([1, 2, 3, None, 5], pa.int64()),
        "amount": pa.array([10.0, -1.0, 150.0, 50.0, None]),
        "code": ["AB12", "ab12", "A", "ABCDEFG", None],
        "status": ["new", "paid", "lost", None, "new"],
        "day": ["2024-02-29", "2023-02-29", "29/02/2024", "x", None],
        "country": ["DE", "FR", "ZZ", None, "DE"],
    }
)


def broken(raw: dict[str, Any], table: pa.Table = TABLE, path: tuple[str, ...] = ()) -> list[int]:
    rule = parse_rule(raw, 0)
    mask = violations(rule, table, path).to_pylist()
    return [i for i, bad in enumerate(mask) if bad]


def test_not_null() -> None:
    assert broken({"rule": "not_null", "column": "id"}) == [3]


def test_range_min_and_max_ignore_nulls() -> None:
    assert broken({"rule": "range", "column": "amount", "min": 0, "max": 100}) == [1, 2]
    assert broken({"rule": "min", "column": "amount", "value": 0}) == [1]
    assert broken({"rule": "max", "column": "amount", "value": 100}) == [2]


def test_regex_uses_re2_search_semantics() -> None:
    assert broken({"rule": "regex", "column": "code", "pattern": "^[A-Z]{2}[0-9]{2}$"}) == [1, 2, 3]


def test_in_set() -> None:
    assert broken({"rule": "in_set", "column": "status", "values": ["new", "paid"]}) == [2]


def test_length_in_characters() -> None:
    assert broken({"rule": "length", "column": "code", "min": 2, "max": 4}) == [2, 3]


def test_date_is_strict_about_impossible_days() -> None:
    assert broken({"rule": "date", "column": "day", "formats": ["%Y-%m-%d"]}) == [1, 2, 3]


def test_foreign_key_against_a_reference_file(tmp_path: Path) -> None:
    ref = tmp_path / "countries.csv"
    ref.write_text("code,name\nDE,Germany\nFR,France\n")
    rule = {"rule": "foreign_key", "column": "country", "reference": str(ref)}
    assert broken({**rule, "reference_column": "code"}) == [2]


def test_expression_passes_on_null_like_a_check_constraint() -> None:
    rule = {"rule": "expression", "expr": "amount >= 0 OR status = 'paid'"}
    assert broken(rule) == []
    assert broken({"rule": "expression", "expr": "amount < 100 AND id <> 1"}) == [0, 2]


def test_python_rule(tmp_path: Path) -> None:
    (tmp_path / "checks_mod.py").write_text(
        "import pyarrow.compute as pc\n"
        "def even(table):\n"
        "    return pc.equal(pc.bit_wise_and(table['id'], 1), 0)\n"
    )
    rule = {"rule": "python", "python": "checks_mod:even", "column": "id"}
    assert broken(rule, path=(str(tmp_path),)) == [0, 2, 4]


def test_reasons_name_the_value() -> None:
    rule = parse_rule({"rule": "range", "column": "amount", "min": 0, "max": 100}, 0)
    assert reasons(rule, pa.array([-1.0, None])).to_pylist() == [
        "value '-1' is outside [0, 100]",
        "value null is outside [0, 100]",
    ]
    assert parse_rule({"rule": "not_null", "column": "x"}, 0)["name"] == "not_null:x"
    assert parse_rule({"rule": "expression", "expr": "a > 1"}, 4)["name"] == "expression#5"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rule": "nope", "column": "a"}, "unknown rule 'nope'"),
        ({"rule": "not_null"}, "name its column"),
        ({"rule": "range", "column": "a"}, "set min, max or both"),
        ({"rule": "range", "column": "a", "min": 5, "max": 1}, "min 5 is above max 1"),
        ({"rule": "regex", "column": "a", "pattern": "("}, "bad pattern"),
        ({"rule": "date", "column": "a", "formats": ["%Q"]}, "%Q is not supported"),
        ({"rule": "expression", "expr": "a >"}, "rule expression"),
        ({"rule": "not_null", "column": "a", "on_violation": "explode"}, "on_violation"),
        ({"rule": "not_null", "column": "a", "min": 1}, "unknown key(s) min"),
    ],
)
def test_bad_rules_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(raw, 0)
    assert message in str(info.value)


def test_schema_casts_row_by_row_and_marks_what_does_not_fit() -> None:
    values = pa.array(["1", " 2 ", "x", None, "99999999999999999999"])
    cast, failed = cast_column(values, pa.int64())
    assert cast.to_pylist() == [1, 2, None, None, None]
    assert failed.to_pylist() == [False, False, True, False, True]
    _dates, bad = cast_column(pa.array(["2024-01-31", "2024-02-30"]), pa.date32())
    assert bad.to_pylist() == [False, True]
    _floats, bad = cast_column(pa.array(["1.5", "1e3", "nan", "1,5"]), pa.float64())
    assert bad.to_pylist() == [False, False, False, True]
    assert parse_schema({"a": "int64", "b": {"type": "string", "nullable": False}}) == {
        "a": {"type": "int64", "nullable": True},
        "b": {"type": "string", "nullable": False},
    }
    with pytest.raises(RuleError, match="unknown type 'integer'"):
        parse_schema({"a": "integer"})
