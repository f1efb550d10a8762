"""``output.merge`` and ``output.partition_by`` through `jobctl run`: the last
phase's parts rewritten at publish, read back as they are by pyarrow.dataset
and DuckDB, the manifest listing exactly the files written."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from orchestrator.dispatch.finalize import verify_output
from tests.acceptance.cli import jobctl

SPEC = """version: 1
jobs:
  - name: dd
    type: dedupe
    params: {{key: email, normalize: [lower, trim]}}
    input: {{path: in.csv, format: csv}}
    chunking: {{bytes: 2KB}}
    output: {{path: out/, format: parquet, {layout}}}
    executor: {{local: {{workers: 2}}}}
"""

COUNTRIES = ("FR", "DE", "NL")


def _input(folder: Path) -> set[str]:
    lines = ["id,email,country"]
    for i in range(300):
        email = f"user{i % 70}@x.com"
        lines.append(f"{i},{email.upper() if i % 3 else email},{COUNTRIES[i % 70 % 3]}")
    (folder / "in.csv").write_text("\n".join(lines) + "\n")
    return {f"user{i}@x.com" for i in range(70)}


def _files_on_disk(out: Path) -> set[str]:
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*.parquet")
        if not p.relative_to(out).parts[0].startswith("_")
    }


def test_merge_and_partition_by_read_back_by_pyarrow_and_duckdb(
    tmp_path: Path, env: dict[str, str]
) -> None:
    expected = _input(tmp_path)
    layout = "merge: {files: 2, sort_by: [email]}, partition_by: [country]"
    (tmp_path / "jobs.yaml").write_text(SPEC.format(layout=layout))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert {p["file"] for p in manifest["parts"]} == _files_on_disk(out)
    assert {Path(p["file"]).parts[0] for p in manifest["parts"]} == {
        f"country={c}" for c in COUNTRIES
    }
    assert verify_output(out) == []
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == manifest["rows"] == len(expected)
    assert {e.lower() for e in table.column("email").to_pylist()} == expected
    for i, row in enumerate(table.to_pylist()):
        assert COUNTRIES[int(str(row["email"]).lower()[4:].split("@")[0]) % 3] == row["country"], i
    for part in manifest["parts"]:  # sorted within every file
        emails = pq.read_table(out / part["file"]).column("email").to_pylist()
        assert emails == sorted(emails)
        assert part["rows"] == len(emails)
    pattern = str(out / "**" / "*.parquet")
    con = duckdb.connect()
    counted = con.execute(
        "SELECT country, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY 1",
        [pattern],
    ).fetchall()
    grouped = table.group_by("country").aggregate([("email", "count")]).to_pylist()
    by_country = {str(row["country"]): row["email_count"] for row in grouped}
    assert dict(counted) == by_country


def test_merge_into_one_file(tmp_path: Path, env: dict[str, str]) -> None:
    expected = _input(tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC.format(layout="merge: {files: 1}"))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert [p["file"] for p in manifest["parts"]] == ["part-00000.parquet"]
    assert _files_on_disk(out) == {"part-00000.parquet"}
    table = pq.read_table(out / "part-00000.parquet")
    assert {e.lower() for e in table.column("email").to_pylist()} == expected
    assert manifest["rows"] == table.num_rows
    assert manifest["schema"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("layout", "where", "words"),
    [
        ("merge: {files: 0}", "jobs.yaml:", ("output.merge.files",)),
        ("merge: {sort_by: [email]}", "jobs.yaml:", ("files",)),
        ("format: csv, partition_by: [country]", "jobs.yaml:", ("partition_by", "parquet")),
    ],
)
def test_layout_mistakes_are_refused_at_validate(
    tmp_path: Path, env: dict[str, str], layout: str, where: str, words: tuple[str, ...]
) -> None:
    (tmp_path / "in.csv").write_text("id,email,country\n1,a@x,FR\n")
    text = SPEC.format(layout=layout).replace("format: parquet, format: csv", "format: csv")
    (tmp_path / "jobs.yaml").write_text(text)
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert where in result.stderr and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


GROUP_BY_SPEC = """version: 1
jobs:
  - name: gb
    python: tests.procs:group_by_reduce
    params:
      keys: [k]
      aggregations: [[v, sum], [v, count], [tag, count_distinct]]
    strategy: {type: map_reduce, partition_by: [k], partitions: 3}
    input: {path: in.parquet, format: parquet}
    chunking: {rows: 100}
    output: {path: out/, format: parquet, merge: {files: 2, sort_by: [k]}}
    executor: {local: {workers: 2}}
"""


def test_map_reduce_group_by_through_jobctl_run_equals_pyarrow(
    tmp_path: Path, env: dict[str, str]
) -> None:
    import random

    rng = random.Random(17)
    n = 500
    table = pa.table(
        {
            "k": pa.array([rng.randrange(40) for _ in range(n)], pa.int32()),
            "v": pa.array([rng.choice([None, *range(-5, 50)]) for _ in range(n)], pa.int64()),
            "tag": pa.array([rng.choice(["a", "b", "c", None]) for _ in range(n)], pa.string()),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=50)
    (tmp_path / "jobs.yaml").write_text(GROUP_BY_SPEC)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert [p["file"] for p in manifest["parts"]] == ["part-00000.parquet", "part-00001.parquet"]
    got = ds.dataset(out, format="parquet").to_table()  # files in order: globally sorted
    want = table.group_by(["k"]).aggregate(
        [("v", "sum"), ("v", "count"), ("tag", "count_distinct")]
    )
    assert got.column("k").to_pylist() == sorted(got.column("k").to_pylist())
    assert got.equals(want.sort_by([("k", "ascending")]).select(got.column_names))
    assert manifest["rows"] == want.num_rows


HASH_SPEC = """version: 1
jobs:
  - name: hk
    python: tests.procs:group_by_reduce
    params: {keys: [k], aggregations: [[v, sum], [[], count_all]]}
    input: {path: in.parquet, format: parquet}
    chunking: {rows: 60, hash: {key: [k], partitions: 4}}
    output: {path: out/, format: parquet, merge: {files: 1, sort_by: [k]}}
    executor: {local: {workers: 2}}
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hash_chunking_gives_a_chunk_every_row_of_its_keys(
    tmp_path: Path, env: dict[str, str]
) -> None:

    table = pa.table({"k": [i * 7 % 23 for i in range(400)], "v": list(range(400))})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=30)
    (tmp_path / "jobs.yaml").write_text(HASH_SPEC)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    want = table.group_by(["k"]).aggregate([("v", "sum"), ([], "count_all")])
    # one output row per key: no key was split across two chunks
    assert got.equals(want.sort_by([("k", "ascending")]).select(got.column_names))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("chunking", "words"),
    [
        ("{hash: {partitions: 4}}", ("key",)),
        ("{hash: {key: [k], partitions: 0}}", ("partitions",)),
    ],
)
def test_chunking_mistakes_are_refused_at_validate(
    tmp_path: Path, env: dict[str, str], chunking: str, words: tuple[str, ...]
) -> None:
    pq.write_table(pa.table({"k": [1]}), tmp_path / "in.parquet")
    text = HASH_SPEC.replace("{rows: 60, hash: {key: [k], partitions: 4}}", chunking)
    (tmp_path / "jobs.yaml").write_text(text)
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "jobs.yaml:7" in result.stderr and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hash_chunking_with_a_strategy_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "jobs.yaml").write_text(
        SPEC.format(layout="mode: overwrite").replace(
            "chunking: {bytes: 2KB}", "chunking: {bytes: 2KB, hash: {key: [email]}}"
        )
    )
    (tmp_path / "in.csv").write_text("id,email,country\n1,a@x,FR\n")
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "chunking.hash" in result.stderr and "jobs.yaml:" in result.stderr
