"""The input.csv keys of issue 20: types policy, declared column types, bad-rows policy."""

from __future__ import annotations

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec.loader import load_spec_text
from orchestrator.spec.model import CsvOptions


def load(csv: str) -> CsvOptions:
    text = (
        "version: 1\njobs:\n  - name: a\n    type: convert\n    input:\n"
        f"      path: x.csv\n      csv: {csv}\n"
    )
    return load_spec_text(text, "jobs.yaml", base_dir="/tmp").jobs[0].input.csv


def test_csv_policies_and_declared_types_load() -> None:
    csv = load("{types: widen, bad_rows: reject, column_types: {zip: string, at: 'timestamp[s]'}}")
    assert (csv.types, csv.bad_rows) == ("widen", "reject")
    assert csv.column_types == {"zip": "string", "at": "timestamp[s]"}


@pytest.mark.parametrize(
    ("csv", "words"),
    [
        ("{types: guess}", "input.csv.types"),
        ("{bad_rows: skip}", "input.csv.bad_rows"),
        ("{column_types: {zip: text}}", "unknown column type"),
    ],
)
def test_bad_csv_policies_are_spec_errors_with_a_line(csv: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        load(csv)
    [issue] = info.value.issues
    assert words in str(issue) and issue.line == 7


def test_output_schema_loads_in_declared_order() -> None:
    text = (
        "version: 1\njobs:\n  - name: a\n    type: convert\n    input: {path: x.csv}\n"
        "    output: {path: out/, schema: {b: string, a: int64}}\n"
    )
    output = load_spec_text(text, "jobs.yaml", base_dir="/tmp").jobs[0].output
    assert output is not None and output.schema == {"b": "string", "a": "int64"}
    assert list(output.schema) == ["b", "a"]
