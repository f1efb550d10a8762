"""type: report in-process: summaries merge across chunks, exact while small,
sketch estimates within their bounds beyond; sidecar file names."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from orchestrator.io.sidecars import check_name
from orchestrator.processors.report import processor, profile
from orchestrator.processors.report.sketch import EXACT_DISTINCT, ColumnSummary, pattern_of
from orchestrator.spec import strategy


def _chunks(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(i, size) for i in range(0, table.num_rows, size)]


def test_distinct_is_exact_while_small_and_an_hll_estimate_beyond() -> None:
    n = 3 * EXACT_DISTINCT
    table = pa.table({"v": [f"k{i % (n // 2)}" for i in range(n)]})
    parts = [ColumnSummary.of("v", t.column("v")) for t in _chunks(table, 1000)]
    merged = ColumnSummary.from_dict(parts[0].to_dict())
    for p in parts[1:]:
        merged.merge(ColumnSummary.from_dict(p.to_dict()))  # through the serialized form
    distinct, exact = merged.distinct()
    assert not exact and abs(distinct - n // 2) <= 0.05 * (n // 2)
    small = ColumnSummary.of("v", pa.chunked_array([["a", "b", None, "a"]]))
    small.merge(ColumnSummary.of("v", pa.chunked_array([["c", "a"]])))
    assert small.distinct() == (3, True) and (small.rows, small.nulls) == (6, 1)
    assert small.top_values()[0] == ("a", 3, True)


def test_duplicates_fall_back_to_an_estimate_past_the_exact_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = pa.table({"k": [i % 500 for i in range(2000)] + [None] * 10})
    exact = profile.merge([profile.summarize(t, ["k"]) for t in _chunks(table, 300)])
    assert profile.figures(exact, "t", ["k"])["duplicates"] == {
        "key": ["k"],
        "rows_with_key": 2000,
        "distinct_keys": 500,
        "duplicate_rows": 1500,
        "repeated_keys": 500,
        "exact": True,
    }
    monkeypatch.setattr(profile, "EXACT_KEYS", 100)
    estimated = profile.merge([profile.summarize(t, ["k"]) for t in _chunks(table, 300)])
    dups = profile.figures(estimated, "t", ["k"])["duplicates"]
    assert not dups["exact"] and dups["repeated_keys"] is None
    assert abs(dups["distinct_keys"] - 500) <= 25


def test_string_patterns() -> None:
    values = pa.chunked_array([["Ab-12", "zz \t9", None], ["Émile", "x1"]])
    assert pattern_of(values).to_pylist() == ["Aa-99", "aa  9", None, "Aaaaa", "a9"]
    long = pa.chunked_array([["a" * 30 + "Z"]], pa.large_string())
    assert pattern_of(long).to_pylist() == ["a" * 24]


def test_the_spec_and_the_processor_agree_on_the_shuffle_key() -> None:
    assert strategy.REPORT_KEY == processor.REPORT_KEY


@pytest.mark.parametrize("name", ["../x", ".hidden", "part-00000.parquet", "a/b", ""])
def test_sidecar_names_cannot_escape_or_collide(name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        check_name(name)


def test_top_values_of_a_wide_chunk_are_fed_in_part_and_not_called_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestrator.processors.report import sketch

    monkeypatch.setattr(sketch, "TOP_FEED", 3)
    column = pa.chunked_array([["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + ["e"]])
    s = ColumnSummary.of("v", column)
    assert s.top_slack == 2  # "d" was the first value left out
    assert [(v, n) for v, n, _ in s.top_values()] == [("a", 5), ("b", 4), ("c", 3)]
    assert not any(exact for _, _, exact in s.top_values())


def test_a_report_over_push_transfer_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from orchestrator.preflight import job_problems
    from orchestrator.spec.loader import load_spec_text

    text = """version: 1
jobs:
  - name: p
    type: report
    input: {path: in.parquet}
    output: {path: out/}
    executor:
      ssh:
        transfer: push
        hosts: [{name: h1, address: 127.0.0.1}]
"""
    spec_path = str(tmp_path / "jobs.yaml")
    [job] = load_spec_text(text, spec_path).jobs
    [issue] = job_problems(spec_path, job)
    assert issue.field == "p.executor.ssh.transfer" and "transfer: shared" in issue.message
    shared = load_spec_text(text.replace("push", "shared"), spec_path).jobs[0]
    assert job_problems(spec_path, shared) == []
