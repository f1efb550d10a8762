"""``chunking.window`` through `jobctl run`: each reduce chunk holds every row of
its time windows, sorted by time; windows are aligned on the epoch (UTC); a
zoned timestamp keeps its zone; mistakes are refused at validate with their line
and bad times fail the chunk at once, naming the value."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.store import open_store
from tests.acceptance.cli import jobctl

SPEC = """version: 1
jobs:
  - name: hourly
    python: tests.procs:window_summary
    input: {{path: {file}, format: {format}}}
    output: {{path: out/, format: parquet, merge: {{files: 1, sort_by: [window_start]}}}}
    chunking: {chunking}
    executor: {{local: {{workers: 2}}}}
"""
UTC = dt.UTC


def _times(count: int, seed: int) -> list[dt.datetime]:
    """Shuffled times over two days, some on window edges, some before 1970."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    times = [start + dt.timedelta(seconds=rng.randrange(0, 2 * 86400)) for _ in range(count)]
    times += [start + dt.timedelta(hours=h) for h in range(5)]  # exactly on a window start
    times.append(dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))
    rng.shuffle(times)
    return times


def _floor(t: dt.datetime, every: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=t.tzinfo)
    return t - (t - epoch) % every


def _summary(out: Path) -> pa.Table:
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert len(manifest["parts"]) == 1
    return pq.read_table(out / manifest["parts"][0]["file"])


def test_hour_windows_of_text_times_hold_every_row_of_each_window(
    tmp_path: Path, env: dict[str, str]
) -> None:
    times = _times(600, seed=3)
    lines = ["id,ts,v"]
    for i, t in enumerate(times):
        lines.append(f"{i},{t.strftime('%Y-%m-%d %H:%M:%S')},{i}")
    lines.append(f"{len(times)},,7")  # no time: kept, in a null window
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    chunking = "{rows: 50, window: {column: ts, every: 1h, partitions: 5}}"
    (tmp_path / "jobs.yaml").write_text(SPEC.format(file="in.csv", format="csv", chunking=chunking))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = _summary(tmp_path / "out")
    want: dict[dt.datetime | None, list[int]] = {None: [1, 7]}
    for i, t in enumerate(times):
        row = want.setdefault(_floor(t, dt.timedelta(hours=1)).replace(tzinfo=None), [0, 0])
        row[0] += 1
        row[1] += i
    # one output row per window: no window was split across two reduce chunks
    assert got.column("window_start").type == pa.timestamp("us")
    assert {r["window_start"]: [r["rows"], r["v"]] for r in got.to_pylist()} == want
    assert got.num_rows == len(want) and all(got.column("in_order").to_pylist())
    store = open_store(env["JOBCTL_DATABASE_URL"])
    try:
        (job,) = store.list_jobs()
        phases = {c.phase for c in store.list_chunks(job.id)}
    finally:
        store.close()
    assert phases == {0, 1}  # a map phase, then the reduce by window


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fifteen_minute_windows_of_a_zoned_parquet_column_keep_its_zone(
    tmp_path: Path, env: dict[str, str]
) -> None:
    times = _times(400, seed=5)
    zone = "Europe/Paris"
    table = pa.table(
        {"ts": pa.array(times, pa.timestamp("ms", tz=zone)), "v": list(range(len(times)))}
    )
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=64)
    chunking = "{rows: 100, window: {column: ts, every: 15m}}"
    spec = SPEC.format(file="in.parquet", format="parquet", chunking=chunking)
    (tmp_path / "jobs.yaml").write_text(spec)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = _summary(tmp_path / "out")
    assert got.column("window_start").type == pa.timestamp("us", tz=zone)
    want: dict[dt.datetime, int] = {}
    for t in times:
        start = _floor(t, dt.timedelta(minutes=15))
        want[start] = want.get(start, 0) + 1
    starts = [s.astimezone(UTC) for s in got.column("window_start").to_pylist()]
    assert dict(zip(starts, got.column("rows").to_pylist(), strict=True)) == want


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("chunking", "words"),
    [
        ("{window: {every: 1h}}", ("column",)),
        ("{window: {column: ts}}", ("every",)),
        ("{window: {column: ts, every: soon}}", ("every", "duration")),
        ("{window: {column: window_start, every: 1h}}", ("window_start",)),
        ("{window: {column: ts, every: 1h, partitions: 0}}", ("partitions",)),
        ("{window: {column: ts, every: 1h, size: 3}}", ("size",)),
        ("{hash: {key: [ts]}, window: {column: ts, every: 1h}}", ("not both",)),
    ],
)
def test_window_mistakes_are_refused_at_validate(
    tmp_path: Path, env: dict[str, str], chunking: str, words: tuple[str, ...]
) -> None:
    pq.write_table(pa.table({"ts": [1]}), tmp_path / "in.parquet")
    spec = SPEC.format(file="in.parquet", format="parquet", chunking=chunking)
    (tmp_path / "jobs.yaml").write_text(spec)
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "jobs.yaml:7" in result.stderr and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_window_with_a_strategy_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    spec = SPEC.format(
        file="in.parquet", format="parquet", chunking="{window: {column: ts, every: 1h}}"
    )
    (tmp_path / "jobs.yaml").write_text(spec + "    strategy: sequential\n")
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "chunking.window" in result.stderr and "strategy" in result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_time_that_is_not_one_fails_its_chunk_at_once_naming_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "in.csv").write_text("ts,v\n2026-03-01 10:00:00,1\nlunchtime,2\n")
    spec = SPEC.format(
        file="in.csv", format="csv", chunking="{window: {column: ts, every: 1h}}"
    ).replace("executor:", "retries: {max_attempts: 3}\n    executor:")
    (tmp_path / "jobs.yaml").write_text(spec)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "'lunchtime' is not an ISO 8601 time" in result.stdout + result.stderr
    store = open_store(env["JOBCTL_DATABASE_URL"])
    try:
        (job,) = store.list_jobs()
        (chunk,) = store.list_chunks(job.id)
    finally:
        store.close()
    assert chunk.attempts == 1  # bad data: not retried
    assert not (tmp_path / "out").exists()
