"""The validate processor on one CSV chunk in-process: quarantine rows and their
lines, warn and fail, counts that add up; and the spec's file:line refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from orchestrator.errors import SpecError
from orchestrator.io.csv_errors import BadRow
from orchestrator.io.readers import read_chunk
from orchestrator.planning.csv_chunker import plan_csv_chunks
from orchestrator.processors.base import ChunkContext
from orchestrator.processors.validate import ValidationFailed, validate
from orchestrator.processors.validate_rules import parse_rule
from orchestrator.spec.loader import load_spec
from orchestrator.spec.model import ChunkingSpec, CsvOptions

CSV = CsvOptions(types="strict", bad_rows="reject")


def one_chunk(tmp_path: Path, text: str) -> tuple[pa.Table, ChunkContext]:
    path = tmp_path / "in.csv"
    path.write_text(text)
    [chunk] = plan_csv_chunks(str(path), CSV, ChunkingSpec(rows=None, bytes=1 << 20))
    bad: list[BadRow] = []
    table = read_chunk(chunk, CSV, rejected=bad)
    return table, ChunkContext(params={}, chunk=chunk, job_name="v", bad_rows=bad, csv=CSV)


def rules(*raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [parse_rule(r, i) for i, r in enumerate(raw)]


TEXT = 'id,name\n1,"Ann\nLee"\n2,\n\nthree,Bob\n4,Cy,extra\n5,Di\n'


def test_quarantine_rows_carry_rule_reason_and_physical_line(tmp_path: Path) -> None:
    table, ctx = one_chunk(tmp_path, TEXT)
    ctx.params = {
        "schema": {"id": {"type": "int64", "nullable": False}},
        "rules": rules({"rule": "length", "column": "name", "min": 1}),
    }
    valid = validate(table, ctx)
    assert valid.column("id").to_pylist() == [1, 5]
    assert valid.schema.field("id").type == pa.int64()
    quarantine = pa.concat_tables(ctx.quality.pieces).to_pylist()
    found = [(r["_rule"], r["_column"], r["_source_line_or_row"]) for r in quarantine]
    # line 2-3: Ann's quoted newline; 4: an empty name; 5: blank; 6: 'three'; 7: ragged
    assert found == [("csv_parse", None, 7), ("schema", "id", 6), ("length:name", "name", 4)]
    assert quarantine[1]["_reason"] == "value 'three' is not int64"
    assert quarantine[1]["_record"] == '{"id": "three", "name": "Bob"}'
    counts = ctx.quality.counts()
    assert (counts["rows_in"], counts["rows_valid"], counts["rows_rejected"]) == (5, 2, 3)
    assert ctx.rows_rejected == 2  # the attempt counts the parse reject itself


def test_warn_counts_and_keeps_the_row_fail_stops_the_chunk(tmp_path: Path) -> None:
    table, ctx = one_chunk(tmp_path, "id,amount\n1,5\n2,-3\n3,-4\n")
    ctx.params = {"rules": rules({"rule": "expression", "expr": "CAST(amount AS INT) >= 0",
                                  "on_violation": "warn"})}  # fmt: skip
    assert validate(table, ctx).num_rows == 3
    assert ctx.quality.rules["expression#1"] == {
        "on_violation": "warn",
        "violations": 2,
        "rejected": 0,
    }
    ctx.params = {"rules": rules({"rule": "not_null", "column": "amount"},
                                 {"rule": "in_set", "column": "amount", "values": ["5"],
                                  "on_violation": "fail"})}  # fmt: skip
    with pytest.raises(ValidationFailed, match=r"broken by 2 row.*line/row 3"):
        validate(table, ctx)


SPEC = """version: 1
jobs:
  - name: v
    type: validate
    input: {path: in.csv}
    steps:
      - rename: {mail: email}
    params:
      schema: {id: int65}
      rules:
        - {rule: not_null, column: email}
        - {rule: not_null, column: phone}
        - {rule: regex, column: email, pattern: "("}
        - {rule: foreign_key, column: email, reference: nowhere.csv}
        - {rule: unique, column: id}
        - {rule: unique, column: email}
      max_reject_rate: 120%
"""


def test_the_spec_refuses_bad_rules_at_their_lines(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,mail\n1,a@x\n")
    (tmp_path / "jobs.yaml").write_text(SPEC)
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "jobs.yaml")
    by_line = {i.line: i.message for i in info.value.issues}
    assert sorted(by_line) == [9, 12, 13, 14, 16, 17]
    assert "unknown type 'int65'" in by_line[9]
    assert "no column 'phone'" in by_line[12] and "id, email" in by_line[12]
    assert "bad pattern" in by_line[13]
    assert "does not exist" in by_line[14]
    assert "more than one column" in by_line[16]
    assert "between 0% and 100%" in by_line[17]


def test_a_good_validate_spec_loads_with_a_unique_rule_as_map_reduce(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,email\n1,a@x\n")
    (tmp_path / "jobs.yaml").write_text(
        "version: 1\njobs:\n  - name: v\n    type: validate\n    input: {path: in.csv}\n"
        "    params:\n      rules: [{rule: unique, column: id}]\n      max_reject_rate: 1%\n"
        "    output: {path: out/}\n"
    )
    job = load_spec(tmp_path / "jobs.yaml").jobs[0]
    assert job.strategy == "map_reduce"
    assert job.strategy_spec().partition_by == ("id",)
    assert job.params["max_reject_rate"] == pytest.approx(0.01)


def test_unique_counts_rows_another_rule_rejected_but_quarantines_them_once(
    tmp_path: Path,
) -> None:
    from orchestrator.planning.model import ChunkDescriptor
    from orchestrator.processors.validate import validate_map

    params = {
        "rules": rules(
            {"rule": "regex", "column": "email", "pattern": "@"},
            {"rule": "unique", "column": "id"},
        )
    }
    maps = []
    for folder, text in (
        ("a", "id,email\n1,a@x\n2,b@x\n"),
        ("b", "id,email\n2,bad\n3,c@x\n1,d@x\n"),
    ):
        (tmp_path / folder).mkdir()
        table, ctx = one_chunk(tmp_path / folder, text)
        ctx.params = params
        maps.append(validate_map(table, ctx))
    partition = pa.concat_tables(maps)
    reduce_chunk = ChunkDescriptor(seq=9, kind="shuffle", path=None, start=0, stop=1, est_rows=5)
    ctx = ChunkContext(params=params, chunk=reduce_chunk, job_name="v")
    valid = validate(partition, ctx)
    assert valid.column("id").to_pylist() == [3]  # 1 twice; 2 twice (once with a bad email)
    found = [
        (r["_rule"], r["_source_file"].rsplit("/", 2)[-2], r["_source_line_or_row"])
        for r in pa.concat_tables(ctx.quality.pieces).to_pylist()
    ]
    assert sorted(found) == [("unique:id", "a", 2), ("unique:id", "a", 3), ("unique:id", "b", 4)]
    assert ctx.quality.rules["unique:id"] == {
        "on_violation": "reject",
        "violations": 4,
        "rejected": 3,
    }
    assert valid.column_names == ["id", "email"]


def test_a_validate_job_without_params_is_refused_at_its_type_line(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        "version: 1\njobs:\n  - name: v\n    type: validate\n    input: {sequence: 1}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "jobs.yaml")
    [issue] = info.value.issues
    assert issue.line == 4 and "needs params with a schema or rules" in issue.message


def test_push_transfer_is_refused_for_validate(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        "version: 1\njobs:\n  - name: v\n    type: validate\n    input: {sequence: 1}\n"
        "    params: {rules: [{rule: not_null, column: a}]}\n"
        "    executor: {ssh: {hosts: [h1], transfer: push}}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "jobs.yaml")
    assert any(i.line == 7 and "need shared storage" in i.message for i in info.value.issues), (
        info.value.issues
    )
