"""type: report through `jobctl run`: figures equal DuckDB over the whole input,
and the HTML page is well-formed and has no external reference."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tests.acceptance.cli import cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: profile
    type: report
    params: {key: email, title: Customers profile}
    input: {path: customers.parquet}
    chunking: {rows: 250}
    output: {path: report/, format: parquet}
    executor: {local: {workers: 2}}
"""


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, ...]:
    [row] = con.execute(sql).fetchall()
    return row


VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "path", "col"}


class Balanced(HTMLParser):
    """Every element closed in order (void ones excepted); every attribute collected."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [v or "" for _, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [v or "" for _, v in attrs]

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _customers(n: int = 1200) -> pa.Table:
    cities = ["Lyon", "Paris", "Nantes", "Lille", "Brest"]
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "email": [None if i % 17 == 0 else f"user{i % 900}@ex.org" for i in range(n)],
            "amount": [None if i % 11 == 0 else (i * 37 % 1000) / 4 for i in range(n)],
            "city": [cities[(i * i) % 5] if i % 13 else None for i in range(n)],
            "code": [f"AB-{i % 97:03d}" if i % 3 else f"x{i % 7}" for i in range(n)],
            "signup": [dt.date(2020, 1, 1) + dt.timedelta(days=i % 400) for i in range(n)],
            "active": [i % 4 != 0 for i in range(n)],
        }
    )


def test_report_figures_equal_duckdb_and_the_page_stands_alone(
    tmp_path: Path, sqlite_url: str
) -> None:
    table = _customers()
    pq.write_table(table, tmp_path / "customers.parquet", row_group_size=250)
    (tmp_path / "jobs.yaml").write_text(SPEC)
    env = cli_env(tmp_path, sqlite_url)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "report"
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert [f["file"] for f in manifest["files"]] == ["report.html", "report.json", "report.md"]
    fig = json.loads((out / "report.json").read_text())
    assert fig["chunks"] == 5  # 1200 rows in chunks of 250: merged in the final phase

    con = duckdb.connect()
    con.register("t", table)
    assert fig["rows"] == table.num_rows and fig["column_count"] == table.num_columns
    cols = {c["name"]: c for c in fig["columns"]}
    for name in table.column_names:
        c = cols[name]
        nulls, distinct = one(
            con, f"SELECT count(*) - count({name}), count(DISTINCT {name}) FROM t"
        )
        assert (c["nulls"], c["distinct"], c["distinct_exact"]) == (nulls, distinct, True), name
        low, high = one(con, f"SELECT min({name}), max({name}) FROM t")
        plain = lambda v: v.isoformat() if isinstance(v, dt.date) else v  # noqa: E731
        assert (c["min"], c["max"]) == (plain(low), plain(high)), name
    for name in ("id", "amount"):
        c = cols[name]
        mean, total = one(con, f"SELECT avg({name}), sum({name}) FROM t")
        assert abs(c["mean"] - mean) <= 1e-9 * abs(mean) and c["sum"] == total
        values = pc.drop_null(table.column(name))
        for q, label in ((0.05, "p05"), (0.5, "p50"), (0.95, "p95")):
            rank = pc.sum(pc.less_equal(values, c["quantiles"][label])).as_py() / len(values)
            assert abs(rank - q) <= 0.03, (name, label, rank)
        assert sum(b[2] for b in c["histogram"]) == len(values)
    top = con.sql(
        "SELECT city, count(*) n FROM t WHERE city IS NOT NULL GROUP BY city ORDER BY n DESC, city"
    ).fetchall()
    assert [(v, n) for v, n, _exact in cols["city"]["top_values"]] == top
    lengths = one(con, "SELECT min(length(code)), max(length(code)), avg(length(code)) FROM t")
    code = cols["code"]["length"]
    assert (code["min"], code["max"]) == lengths[:2] and abs(code["mean"] - lengths[2]) < 1e-9
    assert {p for p, _n, _e in cols["code"]["patterns"]} == {"AA-999", "a9"}
    dup_rows, repeated = one(
        con,
        "SELECT sum(n) - count(*), count(*) FILTER (WHERE n > 1) FROM "
        "(SELECT email, count(*) n FROM t WHERE email IS NOT NULL GROUP BY email)",
    )
    dups = fig["duplicates"]
    assert (dups["duplicate_rows"], dups["repeated_keys"], dups["exact"]) == (
        dup_rows,
        repeated,
        True,
    )

    part = pq.read_table(out / manifest["parts"][0]["file"])
    assert part.column("column").to_pylist() == table.column_names
    assert part.column("nulls").to_pylist() == [cols[n]["nulls"] for n in table.column_names]

    page = (out / "report.html").read_text()
    parser = Balanced()
    parser.feed(page)
    parser.close()
    assert not parser.errors and parser.stack == [], (parser.errors, parser.stack)
    assert not re.search(r"https?:|//|url\(|@import|<script|src=", page, re.IGNORECASE)
    assert all(not a.startswith(("http", "//")) for a in parser.attributes)
    text = " ".join(parser.text)
    assert "Customers profile" in text and "1,200" in text
    assert all(name in text for name in table.column_names)
    assert page.count("<svg") >= 2 * table.num_columns  # a null bar per column, and its charts
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# Customers profile") and "| email |" in markdown
