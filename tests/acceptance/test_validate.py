"""``type: validate`` through `jobctl run`, on both stores: the quarantine (rules,
reasons, exact line numbers), unique across chunks, counts that reconcile in
``_SUCCESS``, and ``max_reject_rate`` failing the job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: orders
    type: validate
    input: {path: orders.csv, csv: {types: strict, bad_rows: reject}}
    chunking: {bytes: 300B}
    params:
      schema: {id: {type: int64, nullable: false}, amount: float64}
      rules:
        - {rule: regex, column: email, pattern: '^[^@\\s]+@[^@\\s]+$'}
        - {rule: range, column: amount, min: 0, max: 100}
        - {rule: in_set, column: status, values: [new, paid], on_violation: warn}
        - {rule: foreign_key, column: country, reference: countries.csv, reference_column: code}
        - {rule: unique, column: id}
      max_reject_rate: {rate}
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""


def write_orders(tmp_path: Path) -> dict[int, tuple[str, str]]:
    """40 orders with known faults; returns line -> (rule, column) of each rejected row."""
    lines = ["id,email,amount,status,country"]
    expected: dict[int, tuple[str, str]] = {}
    for i in range(40):
        line = len(lines) + 1
        email, amount, status, country, order_id = f"u{i}@x.com", "5", "new", "DE", str(i)
        if i == 3:
            order_id = "three"
            expected[line] = ("schema", "id")
        elif i == 7:
            email = "not-an-email"
            expected[line] = ("regex:email", "email")
        elif i == 11:
            amount = "250"
            expected[line] = ("range:amount", "amount")
        elif i == 13:
            country = "ZZ"
            expected[line] = ("foreign_key:country", "country")
        elif i in (5, 33):  # the same id in two chunks far apart
            order_id = "500"
            expected[line] = ("unique:id", "id")
        if i == 17:
            status = "lost"  # warn only: the row stays valid
        if i == 21:
            email = '"quoted\nnewline@x.com"'  # a quoted newline: later lines shift by one
            expected[line] = ("regex:email", "email")
        lines.append(",".join([order_id, email, amount, status, country]))
        if i == 25:
            expected[len(lines) + 1] = ("csv_parse", "")
            lines.append("99,extra@x.com,1,new,DE,surplus")
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "countries.csv").write_text("code,name\nDE,Germany\nFR,France\n")
    return {line + (1 if line > 23 else 0): why for line, why in expected.items()}


def quarantine(out: Path, manifest: dict[str, object]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for item in manifest["rejects"]:  # type: ignore[attr-defined]
        with open(out / item["file"], newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def test_validate_quarantines_each_rule_with_exact_lines(
    tmp_path: Path, env: dict[str, str]
) -> None:
    expected = write_orders(tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC.replace("{rate}", "50%"))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    rejects = quarantine(out, manifest)
    got = {int(r["_source_line_or_row"]): (r["_rule"], r["_column"]) for r in rejects}
    assert got == expected
    assert all(r["_source_file"] == str(tmp_path / "orders.csv") for r in rejects)
    reasons = {r["_rule"]: r["_reason"] for r in rejects}
    assert reasons["schema"] == "value 'three' is not int64"
    assert reasons["range:amount"] == "value '250' is outside [0, 100]"
    assert reasons["unique:id"] == "value '500' occurs more than once"
    assert reasons["csv_parse"] == "expected 5 fields, found 6"
    valid = [row for p in manifest["parts"] for row in pq.read_table(out / p["file"]).to_pylist()]
    assert len(valid) == 41 - len(expected)
    assert sorted(r["id"] for r in valid) == sorted(
        i for i in range(40) if i not in (3, 5, 7, 11, 13, 21, 33)
    )
    summary = manifest["validation"]
    assert summary["reconciled"] is True
    assert (summary["rows_in"], summary["rows_rejected"]) == (41, len(expected))
    assert summary["rows_valid"] == len(valid) == manifest["rows"]
    rules = summary["rules"]
    assert rules["in_set:status"] == {"on_violation": "warn", "violations": 1, "rejected": 0}
    assert rules["unique:id"]["rejected"] == 2
    assert rules["csv_parse"]["rejected"] == 1
    assert sum(c["rejected"] for c in rules.values()) == summary["rows_rejected"]
    status = jobctl("status", "orders", "--json", env=env, cwd=tmp_path)
    assert json.loads(status.stdout)["validation"] == summary
    text = jobctl("status", "orders", env=env, cwd=tmp_path).stdout
    assert f"validation: in 41 = valid {len(valid)} + rejected {len(expected)}" in text
    assert "unique:id (reject): 2 violation(s), 2 rejected" in text


def test_max_reject_rate_fails_the_job_and_publishes_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    # one store: the test above runs on both; this one is about publish
    env = cli_env(tmp_path, sqlite_url)
    write_orders(tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC.replace("{rate}", "1%"))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "above max_reject_rate 1.00%" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    status = json.loads(jobctl("status", "orders", "--json", env=env, cwd=tmp_path).stdout)
    assert status["state"] == "failed" and "max_reject_rate" in status["error"]
