"""``scripts/bench --only validate``: ``type: validate`` with 6 rules vs pandera (polars).

The data: an orders Parquet file (id, email, amount, status, zip), made with
Arrow kernels, with known faults: null and malformed emails, negative and
huge amounts, unknown statuses, short zips and ids that occur twice, each
about 0.1% of rows. The rules, the same for both: email not null and matching
a pattern, amount in [0, 10000], status in a set, zip of length 5, id unique
over the whole file. jobctl runs it with 2 workers (unique makes it a
map_reduce by id: a shuffle and a second phase) and writes the valid rows,
the quarantine and the counts; pandera validates in one process with
``drop_invalid_rows=True`` and writes the valid rows. Both valid-row counts
are reported, and must agree (a row says DISAGREES otherwise). A third
contender, jobctl without the unique rule (one phase), shows what the
whole-dataset check costs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.suite import (
    DATA,
    REPO,
    WORK,
    Result,
    interleave,
    job_times,
    peer,
    run_jobctl,
    store_url,
    warm_file,
    write_spec,
)

EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]+$"  # as the pandera peer's (YAML single quotes keep it)
STATUSES = ["new", "paid", "shipped", "cancelled"]
FAULT_RATE = 0.001
ROW_GROUP = 250_000


def make_orders(path: Path, rows: int, seed: int = 18) -> None:
    """The orders file (see the module docstring), written in row groups."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, _schema(), compression="zstd") as writer:
        for start in range(0, rows, ROW_GROUP):
            writer.write_table(_orders(rng, start, min(ROW_GROUP, rows - start)))
    tmp.rename(path)


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.int64()),
            ("email", pa.string()),
            ("amount", pa.float64()),
            ("status", pa.string()),
            ("zip", pa.string()),
        ]
    )


def _orders(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    def faults() -> np.ndarray:
        return rng.random(n) < FAULT_RATE

    ids = np.arange(start, start + n, dtype=np.int64)
    repeat = faults()
    ids[repeat] = rng.integers(0, max(start + n, 1), int(repeat.sum()))  # an id seen elsewhere
    id_array = pa.array(ids)
    email = pc.binary_join_element_wise("user", pc.cast(id_array, pa.string()), "@example.com", "")
    email = pc.if_else(pa.array(faults()), pc.replace_substring(email, "@", "_at_"), email)
    email = pc.if_else(pa.array(faults()), pa.scalar(None, pa.string()), email)
    amount = rng.uniform(0, 5_000, n)
    amount[faults()] = -1.0
    amount[faults()] = 1e6
    status = np.array(STATUSES)[rng.integers(0, len(STATUSES), n)].astype(object)
    status[faults()] = "lost"
    zips = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100_000, n)), pa.string()), 5, "0")
    zips = pc.if_else(pa.array(faults()), pc.utf8_slice_codeunits(zips, 0, 4), zips)
    return pa.table(
        {
            "id": id_array,
            "email": email,
            "amount": pa.array(amount),
            "status": pa.array(status, pa.string()),
            "zip": zips,
        },
        schema=_schema(),
    )


def jobctl_validate(source: Path, rows: int, unique: bool = True) -> Result:
    """jobctl's run; ``unique=False`` leaves the unique rule out (one phase, no
    shuffle), to show what the whole-dataset check costs."""
    out = WORK / ("out-jobctl-validate" if unique else "out-jobctl-validate-5")
    for leftover in (out, WORK / f".{out.name}.jobctl-staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    spec = write_spec(
        "validate" if unique else "validate-5",
        f"""\
        - name: validate{"" if unique else "-5"}
          type: validate
          input: {{path: "{source}", format: parquet}}
          chunking: {{rows: 1000000}}
          params:
            rules:
              - {{rule: not_null, column: email}}
              - {{rule: regex, column: email, pattern: '{EMAIL}'}}
              - {{rule: range, column: amount, min: 0, max: 10000}}
              - {{rule: in_set, column: status, values: {json.dumps(STATUSES)}}}
              - {{rule: length, column: zip, min: 5, max: 5}}
        {"      - {rule: unique, column: id}" if unique else ""}
          output: {{path: "{out}", format: parquet, compression: zstd, mode: overwrite}}
          executor: {{local: {{workers: 2}}}}
        """,
    )
    url = store_url("postgres", "validate" if unique else "validate_5")
    launched = time.time()
    to_exit, out_json, memory = run_jobctl(["run", str(spec), "--db", url, "--json"])
    _, doc = job_times(out_json)
    summary = json.loads((out / "_SUCCESS").read_text())["validation"]
    assert summary["rows_in"] == rows and summary["reconciled"], summary
    seconds = dt.datetime.fromisoformat(doc["finished_at"]).timestamp() - launched
    return {
        "name": "jobctl validate (2 workers)" + ("" if unique else ", without unique"),
        "rows": rows,
        "valid_rows": summary["rows_valid"],
        "rejected_rows": summary["rows_rejected"],
        "seconds": seconds,
        "seconds_to_exit": to_exit,
        "rows_per_second": rows / seconds,
        "peak_rss_bytes": max(memory["coordinator_peak_rss"], memory["max_worker_peak_rss"]),
        "max_worker_peak_rss": memory["max_worker_peak_rss"],
        "coordinator_peak_rss": memory["coordinator_peak_rss"],
        "command": f"jobctl run {spec.relative_to(REPO)} --db postgresql://.../{url.rsplit('/', 1)[-1]}",
    }


def scenario_validate(rounds: int, rows: int) -> list[Result]:
    source = DATA / f"orders-{rows}.parquet"
    if not source.exists():
        started = time.perf_counter()
        make_orders(source, rows)
        print(f"  made {source.name} in {time.perf_counter() - started:.1f}s", flush=True)
    contenders: list[tuple[str, Callable[[], Result]]] = [
        ("jobctl", lambda: jobctl_validate(source, rows)),
        ("validate_pandera", lambda: peer("validate_pandera", rows, source=str(source))),
        ("jobctl-5", lambda: jobctl_validate(source, rows, unique=False)),
    ]
    results = interleave(
        contenders, rounds, "seconds", higher_is_better=False, before_each=lambda: warm_file(source)
    )
    same_rules = [r for r in results if "valid_rows" in r and "without" not in r["name"]]
    valid = {r["valid_rows"] for r in same_rules}
    if len(valid) > 1:
        for r in same_rules:
            r["disagreement"] = f"valid rows differ between contenders: {sorted(valid)}"
    return results


def markdown_lines(rows: list[dict[str, Any]], rounds: int) -> list[str]:
    """The scenario's table for bench/results/*.md."""
    lines = [
        "",
        f"### validate: 6 rules over {rows[0].get('rows', 0):,} rows (median of {rounds})",
        "",
        "| contender | seconds | rows/s | valid | rejected | peak RSS | command |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | error: {r['error']} | | | | | |")
            continue
        rss = r.get("peak_rss_bytes") or 0
        if "disagreement" in r:
            lines.append(f"| {r['name']} | DISAGREES: {r['disagreement']} | | | | | |")
        lines.append(
            f"| {r['name']} | {r['seconds']:.1f} | {r.get('rows_per_second', 0):,.0f} | "
            f"{r.get('valid_rows', 0):,} | {r.get('rejected_rows', 0):,} | "
            f"{rss / 2**20:,.0f} MiB | `{r.get('command', r.get('method', ''))}` |"
        )
    return lines
