"""Strategies as planners: the strategy spec, each strategy's phases, and jobs
driven phase by phase through the real worker (tests/phase_runner.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import PlanningError
from orchestrator.planning.parquet_chunker import plan_parquet_chunks
from orchestrator.spec.checks import Checker
from orchestrator.spec.job_reader import JobReader
from orchestrator.spec.model import ChunkingSpec, JobSpec
from orchestrator.spec.strategy import ProcessorRef, StrategySpec, read_strategy
from orchestrator.spec.yaml_nodes import YMap, parse_yaml
from orchestrator.strategies import strategy_for
from orchestrator.strategies.base import CommittedChunk, PlanContext
from orchestrator.strategies.sequential import leasable_seq, state_for
from tests.phase_runner import run_phases


def read(
    text: str, job_type: str | None = None, params: dict | None = None
) -> tuple[StrategySpec, list[str]]:
    root, problems = parse_yaml(text)
    assert not problems and isinstance(root, YMap)
    checker = Checker("jobs.yaml")
    reader = JobReader(checker, ".", "jobs.yaml")
    spec = read_strategy(
        checker,
        root.get("strategy"),
        "jobs[0].strategy",
        reader._processor,
        job_type=job_type,
        job_params=params,
    )
    return spec, [str(i) for i in checker.sorted_issues()]


def test_spec_short_and_long_forms() -> None:
    assert read("strategy: sequential\n") == (StrategySpec(type="sequential"), [])
    spec, issues = read(
        "strategy:\n"
        "  type: map_reduce\n"
        "  partition_by: [email]\n"
        "  normalize: [lower, trim]\n"
        "  partitions: 16\n"
        "  partition_size: 64MiB\n"
        "  sort_by: ts\n"
        "  map: {python: 'pkg.clean:rows', params: {a: 1}}\n"
    )
    assert issues == []
    assert spec == StrategySpec(
        type="map_reduce",
        map=ProcessorRef(python="pkg.clean:rows", params={"a": 1}),
        partition_by=("email",),
        normalize=("lower", "trim"),
        partitions=16,
        partition_size=64 * 1024 * 1024,
        sort_by=("ts",),
    )
    assert StrategySpec.from_dict(spec.to_dict()) == spec


def test_dedupe_implies_map_reduce_by_its_normalized_key() -> None:
    spec, issues = read("name: x\n", "dedupe", {"key": "email", "normalize": ["lower"]})
    assert issues == []
    assert (spec.type, spec.partition_by, spec.normalize) == ("map_reduce", ("email",), ("lower",))


def test_spec_errors_name_file_line_and_field() -> None:
    _, issues = read(
        "strategy:\n  type: map_reduce\n  partitions: 0\n  normalize: [lowr]\n  sort: [x]\n"
    )
    assert issues == [
        "jobs.yaml:2:3: jobs[0].strategy: map_reduce needs partition_by: the columns whose rows "
        "meet in one reduce",
        "jobs.yaml:3:15: jobs[0].strategy.partitions: must be positive, got 0",
        "jobs.yaml:4:15: jobs[0].strategy.normalize[0]: invalid normalize 'lowr': use one of "
        "lower, upper, trim, collapse_spaces, digits, alnum (did you mean 'lower'?)",
        "jobs.yaml:5:3: jobs[0].strategy.sort: unknown key 'sort' (did you mean 'sort_by'?)",
    ]
    _, issues = read("strategy: {type: custom, planner: not-a-ref}\n")
    assert issues == [
        "jobs.yaml:1:35: jobs[0].strategy.planner: expected 'package.module:function', "
        "got 'not-a-ref'"
    ]


def test_hybrid_spec_reads_each_phase_with_its_processor() -> None:
    spec, issues = read(
        "strategy:\n"
        "  type: hybrid\n"
        "  phases:\n"
        "    - name: dedup\n"
        "      strategy: map_reduce\n"
        "      type: dedupe\n"
        "      params: {key: email}\n"
        "    - name: sessions\n"
        "      strategy: sequential\n"
        "      python: pkg.sess:run\n"
        "    - {name: sessions, python: 'pkg:x', partitions: 3}\n"
    )
    assert issues == [
        "jobs.yaml:11:14: jobs[0].strategy.phases[2].name: phase name 'sessions' is used twice",
        "jobs.yaml:11:41: jobs[0].strategy.phases[2].partitions: unknown key 'partitions'",
    ]
    first, second = spec.phases[:2]
    assert (first.type, first.partition_by, first.processor) == (
        "map_reduce",
        ("email",),
        ProcessorRef(type="dedupe", params={"key": "email"}),
    )
    assert (second.type, second.processor) == ("sequential", ProcessorRef(python="pkg.sess:run"))
    assert StrategySpec.from_dict(spec.to_dict()) == spec


def test_phase_specs_of_each_strategy() -> None:
    parallel = strategy_for(StrategySpec())
    assert parallel.phase(0, {}) is not None and parallel.phase(1, {}) is None
    sequential = strategy_for(StrategySpec(type="sequential"))
    first = sequential.phase(0, {})
    assert first is not None and first.serial and first.label() == "phase 1/1 sequential"
    mr = strategy_for(StrategySpec(type="map_reduce", partition_by=("k",), sort_by=("ts",)))
    planned = mr.planned_facts(10 * 128 * 1024 * 1024)
    assert planned == {"partitions": 40}
    map_phase, reduce_phase = mr.phase(0, planned), mr.phase(1, planned)
    assert map_phase is not None and reduce_phase is not None and mr.phase(2, planned) is None
    assert map_phase.payload()["shuffle_write"] == {
        "keys": ["k"],
        "normalize": [],
        "partitions": 40,
    }
    assert map_phase.payload()["python"] == "orchestrator.shuffle.runtime:identity"
    assert reduce_phase.payload() == {"phase": 1, "shuffle_read": {"sort_by": ["ts"]}}
    assert reduce_phase.label() == "phase 2/2 reduce"
    with pytest.raises(PlanningError, match="cannot run"):
        strategy_for(StrategySpec(type="streaming"))


def test_sequential_leases_in_order_and_carries_the_committed_state() -> None:
    assert leasable_seq([0, 1, 2, 3], []) == 0
    assert leasable_seq([0, 1, 2, 3], [0, 1]) == 2
    assert leasable_seq([0, 1], [0, 1]) is None
    outcomes = [
        CommittedChunk(0, 0, ("p0",), 5, {"state": {"total": 5}}),
        CommittedChunk(1, 0, ("p1",), 5, {"state": {"total": 12}}),
    ]
    assert state_for(0, outcomes) is None
    assert state_for(1, outcomes) == {"total": 5}
    assert state_for(2, outcomes) == {"total": 12}


def _input(tmp_path: Path, table: pa.Table, chunk_rows: int) -> list:
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=chunk_rows)
    return plan_parquet_chunks(str(path), ChunkingSpec(rows=chunk_rows))


def test_hybrid_dedupe_then_a_parallel_phase_reads_the_reduce_output(tmp_path: Path) -> None:
    emails = [f"u{i % 50}@x.org" if i % 2 else f" U{i % 50}@X.org" for i in range(400)]
    table = pa.table({"email": emails, "n": list(range(400))})
    spec = StrategySpec(
        type="hybrid",
        phases=(
            StrategySpec(
                type="map_reduce",
                name="dedup",
                partition_by=("email",),
                normalize=("lower", "trim"),
                partitions=4,
                processor=ProcessorRef(
                    python="orchestrator.processors.dedupe:dedupe",
                    params={"key": ["email"], "normalize": ["lower", "trim"]},
                ),
            ),
            StrategySpec(name="mark", processor=ProcessorRef(python="tests.procs:add_rank")),
        ),
    )
    job = JobSpec(name="h", python="tests.procs:identity")
    run = run_phases(job, spec, _input(tmp_path, table, 64), str(tmp_path / "staging"))
    assert [p.label() for p in run.phases] == [
        "phase 1/3 dedup map",
        "phase 2/3 dedup reduce",
        "phase 3/3 mark",
    ]
    assert [p.intermediate for p in run.phases] == [False, True, False]
    out = run.output()
    assert out.num_rows == 50
    assert set(out.column("phase").to_pylist()) == {2}
    assert sorted(out.column("n").to_pylist()) == list(range(50))  # first of each key
    seqs = [c.seq for chunks in run.chunks for c in chunks]
    assert seqs == list(range(len(seqs)))  # seqs unique across phases: part names never clash


def test_custom_planner_iterates_until_it_converges(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 7, 100, 33]})
    job = JobSpec(name="c", python="tests.procs:halve")
    spec = StrategySpec(type="custom", planner="tests.procs:halve_until_one", max_phases=20)
    run = run_phases(job, spec, _input(tmp_path, table, 2), str(tmp_path / "staging"))
    assert len(run.phases) == 6  # each phase halves: 100 -> 50 -> 25 -> 12 -> 6 -> 3 -> 1
    assert run.output().column("x").to_pylist() == [1, 1, 1, 1]
    assert [p.label() for p in run.phases][:2] == ["phase 1 iteration 1", "phase 2 iteration 2"]


def test_custom_planner_that_never_finishes_stops_at_max_phases(tmp_path: Path) -> None:
    table = pa.table({"x": [1000]})
    job = JobSpec(name="c", python="tests.procs:identity")
    spec = StrategySpec(type="custom", planner="tests.procs:halve_until_one", max_phases=3)
    with pytest.raises(PlanningError, match="did not finish within max_phases 3"):
        run_phases(job, spec, _input(tmp_path, table, 1), str(tmp_path / "staging"))


def test_sequential_carries_state_from_chunk_to_chunk_through_the_worker(tmp_path: Path) -> None:
    xs = list(range(1, 41))
    job = JobSpec(name="s", python="tests.procs:running_total")
    spec = StrategySpec(type="sequential")
    run = run_phases(job, spec, _input(tmp_path, pa.table({"x": xs}), 7), str(tmp_path / "staging"))
    assert len(run.chunks[0]) == 6
    out = run.output()
    assert out.column("x").to_pylist() == xs  # output order = input order
    assert out.column("total").to_pylist() == [sum(xs[: i + 1]) for i in range(40)]
    assert run.outcomes[0][-1].result["state"] == {"total": sum(xs)}
    assert sum(o.result["value"]["chunk_total"] for o in run.outcomes[0]) == sum(xs)


def test_custom_connected_components_by_label_propagation_converge(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    edges = [(rng.randrange(60), rng.randrange(60)) for _ in range(45)]
    table = pa.table({"src": [a for a, _ in edges], "dst": [b for _, b in edges]})
    job = JobSpec(name="cc", python="tests.procs:label_step")
    spec = StrategySpec(type="custom", planner="tests.procs:until_labels_stable", max_phases=60)
    run = run_phases(job, spec, _input(tmp_path, table, 1000), str(tmp_path / "staging"))
    parent = {n: n for e in edges for n in e}

    def root(n: int) -> int:
        while parent[n] != n:
            n = parent[n]
        return n

    for a, b in edges:  # union-find reference: label = smallest node of the component
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    out = run.output().to_pylist()
    assert {(r["src"], r["ls"]) for r in out} == {(a, root(a)) for a, _ in edges}
    assert {(r["dst"], r["ld"]) for r in out} == {(b, root(b)) for _, b in edges}
    assert len(run.phases) > 1


def test_reduce_is_planned_from_the_committed_directories_alone(tmp_path: Path) -> None:
    """A store that keeps only part paths is enough: the index is read from disk."""
    from orchestrator.shuffle.spill import write_map_output

    staging = str(tmp_path / "staging")
    table = pa.table({"k": list(range(100))})
    dirs = [
        write_map_output(table.slice(i, 50), staging, f"part-{n:05d}.attempt-1", ["k"], 3).directory
        for n, i in enumerate((0, 50))
    ]
    mr = strategy_for(StrategySpec(type="map_reduce", partition_by=("k",), partitions=3))
    outcomes = [CommittedChunk(n, 0, (d,), 50) for n, d in enumerate(dirs)]
    ctx = PlanContext(JobSpec(name="m"), mr.spec, staging, next_seq=2, planned={"partitions": 3})
    chunks = mr.next_chunks(ctx, 0, outcomes)
    assert chunks is not None and [c.seq for c in chunks] == [2]  # 100 tiny rows: one range
    assert (chunks[0].kind, chunks[0].start, chunks[0].stop, chunks[0].phase) == (
        "shuffle",
        0,
        3,
        1,
    )
    assert chunks[0].path == f"{staging}/shuffle/manifest-00002.json"
    assert mr.next_chunks(ctx, 1, []) is None


def test_a_job_memory_budget_reaches_the_reduce_reader() -> None:
    mr = strategy_for(StrategySpec(type="map_reduce", partition_by=("k",), partitions=2))
    reduce_phase = mr.phase(1, {"partitions": 2, "memory_budget": 512 * 1024 * 1024})
    assert reduce_phase is not None
    assert reduce_phase.payload()["shuffle_read"] == {"max_bytes": 128 * 1024 * 1024}
