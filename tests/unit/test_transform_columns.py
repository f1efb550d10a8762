"""A keyed transform reads and shuffles only the columns its sql names.

The names come from DuckDB's parser (``spec/sql_columns.py``); anything that
can reach a column without naming it reads every column. The property: the
pruned run's output equals the run that shuffles every column, and the spill
files hold only the named columns (plus the key).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.planning.parquet_chunker import plan_parquet_chunks
from orchestrator.shuffle.spill import DATA_FILE
from orchestrator.spec.loader import load_spec_text
from orchestrator.spec.model import ChunkingSpec, JobSpec
from orchestrator.spec.sql_columns import referenced_names
from orchestrator.spec.strategy import StrategySpec
from tests.phase_runner import run_phases, slabs_of_size


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT k, count(*) AS n, sum(v) FROM chunk GROUP BY k", {"k", "v"}),
        ("SELECT K, max(s.f) FROM chunk GROUP BY ALL", {"k", "s", "f"}),  # case, struct field
        ("SELECT k FROM (SELECT k, v FROM chunk) q WHERE q.v > 1", {"k", "v", "q"}),
        ("SELECT k FROM chunk JOIN dim USING (id)", {"k", "id"}),
        ("SELECT v AS k, count(*) FROM chunk GROUP BY k", {"v", "k"}),  # alias: kept anyway
        ("SELECT * FROM chunk", None),
        ("SELECT COLUMNS('v.*') FROM chunk", None),
        ("SELECT #1 FROM chunk", None),
        ("SELECT row_to_json(chunk) FROM chunk", None),  # a whole row as a value
        ("SELECT struct_pack(c) FROM chunk c", None),
        ("WITH w AS (SELECT k FROM chunk) SELECT w FROM w", None),
        ("SELECT a FROM chunk AS t(a, b)", None),  # columns renamed by position
        ("SELECT k FROM chunk NATURAL JOIN dim", None),
        ("PIVOT chunk ON tag USING sum(v)", None),  # groups by every other column
        ("SELECT FROM nothing(", None),  # unparsable: the spec check reports it, not this
    ],
)
def test_referenced_names_over_approximate_or_give_up(sql: str, names: set[str] | None) -> None:
    got = referenced_names(sql)
    assert (None if got is None else set(got)) == names


def _job(tmp: Path, sql: str, map_sql: str | None = None) -> JobSpec:
    extra = f"\n      map_sql: {map_sql!r}" if map_sql else ""
    text = f"""version: 1
jobs:
  - name: t
    type: transform
    params:
      partition_by: [k]
      sql: {sql!r}{extra}
    input: {{path: in.parquet}}
    output: {{path: out/}}
"""
    [job] = load_spec_text(text, str(tmp / "jobs.yaml")).jobs
    return job


def test_the_spec_records_the_columns_only_when_the_rows_reach_sql_as_read(
    tmp_path: Path,
) -> None:
    sql = "SELECT k, sum(v) AS s FROM chunk GROUP BY k"
    options = _job(tmp_path, sql).strategy_options or {}
    assert list(options["map_columns"]) == ["k", "v"]
    options = _job(tmp_path, sql, map_sql="SELECT k, v FROM chunk").strategy_options or {}
    assert options.get("map_columns") is None  # map_sql's output is shuffled as it is
    options = _job(tmp_path, "SELECT * FROM chunk").strategy_options or {}
    assert options.get("map_columns") is None


QUERIES = [
    "SELECT k, count(*) AS n, sum(v) AS s, count(DISTINCT tag) AS d FROM chunk GROUP BY k",
    "SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v, n) AS r FROM chunk",
    "SELECT K, max(length(Tag)) AS m FROM chunk WHERE v IS NOT NULL GROUP BY K",
    "SELECT * FROM chunk WHERE v > 0",
]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 20),
            st.one_of(st.none(), st.integers(-50, 50)),
            st.sampled_from(["a", "bb", None]),
        ),
        min_size=1,
        max_size=200,
    ),
    query=st.sampled_from(QUERIES),
    partitions=st.integers(1, 5),
    chunk_rows=st.integers(1, 60),
    slab_bytes=st.sampled_from([1, 300, 1 << 30]),
)
def test_pruned_shuffle_gives_the_same_answer_and_spills_only_named_columns(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list,
    query: str,
    partitions: int,
    chunk_rows: int,
    slab_bytes: int,
) -> None:
    """Also: transform is partition-wise, so the pruned run calls it once per
    slab of ``slab_bytes`` (one partition each ... the whole range); the
    whole-column run once per reduce chunk."""
    tmp = tmp_path_factory.mktemp("pruned")
    table = pa.table(
        {
            "n": pa.array(range(len(rows)), pa.int64()),
            "k": pa.array([r[0] for r in rows], pa.int32()),
            "v": pa.array([r[1] for r in rows], pa.int64()),
            "tag": pa.array([r[2] for r in rows], pa.string()),
            "wide": pa.array(["x" * 40] * len(rows)),  # read by no query but *
        }
    )
    pq.write_table(table, tmp / "in.parquet", row_group_size=chunk_rows)
    chunks = plan_parquet_chunks(str(tmp / "in.parquet"), ChunkingSpec(rows=chunk_rows))
    job = _job(tmp, query)
    pruned = StrategySpec.from_dict(dict(job.strategy_options or {}))
    pruned = dataclasses.replace(pruned, partitions=partitions)
    whole = dataclasses.replace(pruned, map_columns=None)
    with slabs_of_size(slab_bytes):
        got = run_phases(job, pruned, chunks, str(tmp / "a"))
    with slabs_of_size(1 << 40):
        want = run_phases(job, whole, chunks, str(tmp / "b"))
    key = sorted(got.output().column_names)
    assert (
        got.output()
        .sort_by([(c, "ascending") for c in key])
        .equals(want.output().sort_by([(c, "ascending") for c in key]))
    )
    spilled = {
        name
        for o in got.outcomes[0]
        for name in pa.ipc.open_file(str(Path(o.parts[0]) / DATA_FILE)).schema.names
    }
    named = referenced_names(query)
    expected = {c for c in table.column_names if named is None or c.lower() in named}
    assert spilled == expected
