"""Input discovery, fingerprints and whole-job plans."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from orchestrator.errors import PlanningError
from orchestrator.io.readers import read_chunk
from orchestrator.planning.discover import discover_inputs, glob_to_regex, list_filesystem
from orchestrator.planning.fingerprint import SAMPLE_BYTES, fingerprint
from orchestrator.planning.plan import plan_job, refingerprint
from orchestrator.spec.model import ChunkingSpec, InputSpec, JobSpec


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """data/ with CSV, Parquet and Arrow files, a nested folder, markers and a stray file."""
    root = tmp_path / "data"
    (root / "2024" / "01").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.csv").write_text("a\n1\n")
    (root / "a.TSV").write_text("a\n1\n")
    (root / "notes.md").write_text("not data")
    (root / "_SUCCESS").write_text("")
    (root / ".c.csv").write_text("a\n1\n")
    (root / ".hidden" / "x.csv").write_text("a\n1\n")
    (root / "2024" / "01" / "c.csv").write_text("a\n1\n")
    pq.write_table(pa.table({"a": [1, 2]}), root / "2024" / "p.parquet")
    schema = pa.schema([("a", pa.int64())])
    with pa.OSFile(str(root / "z.feather"), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(pa.table({"a": [1]}))
    return root


def names(found: list[tuple[str, str]], root: Path) -> list[tuple[str, str]]:
    return [(os.path.relpath(p, root), fmt) for p, fmt in found]


def test_a_directory_gives_its_known_files_recursively_sorted(tree: Path) -> None:
    found = discover_inputs(InputSpec(path=str(tree)))
    assert names(found, tree) == [
        ("2024/01/c.csv", "csv"),
        ("2024/p.parquet", "parquet"),
        ("a.TSV", "csv"),
        ("b.csv", "csv"),
        ("z.feather", "arrow"),
    ]
    assert all(os.path.isabs(p) for p, _ in found)


def test_an_explicit_format_filters_a_directory(tree: Path) -> None:
    found = discover_inputs(InputSpec(path=str(tree), format="parquet"))
    assert names(found, tree) == [("2024/p.parquet", "parquet")]


def test_globs_single_level_and_recursive(tree: Path) -> None:
    assert names(discover_inputs(InputSpec(path=str(tree / "*.csv"))), tree) == [("b.csv", "csv")]
    assert names(discover_inputs(InputSpec(path=str(tree / "**" / "*.csv"))), tree) == [
        ("2024/01/c.csv", "csv"),
        ("b.csv", "csv"),
    ]


def test_a_single_file_and_an_explicit_format_for_an_unknown_extension(tree: Path) -> None:
    assert discover_inputs(InputSpec(path=str(tree / "b.csv"))) == [(str(tree / "b.csv"), "csv")]
    notes = str(tree / "notes.md")
    assert discover_inputs(InputSpec(path=notes, format="csv")) == [(notes, "csv")]
    with pytest.raises(PlanningError, match=r"notes\.md.*input\.format"):
        discover_inputs(InputSpec(path=notes))


def test_no_match_names_the_pattern(tree: Path) -> None:
    for pattern in (str(tree / "*.json"), str(tree / "missing.csv"), "file:///nowhere/x.csv"):
        with pytest.raises(PlanningError, match="no input file matches") as info:
            discover_inputs(InputSpec(path=pattern))
        assert pattern in str(info.value)


def test_file_uris_are_resolved_to_local_paths(tree: Path) -> None:
    found = discover_inputs(InputSpec(path=f"file://{tree}/**/*.csv"))
    assert names(found, tree) == [("2024/01/c.csv", "csv"), ("b.csv", "csv")]
    single = discover_inputs(InputSpec(path=f"file://{tree}/b.csv"))
    assert single == [(str(tree / "b.csv"), "csv")]
    assert len(discover_inputs(InputSpec(path=f"file://{tree}"))) == 5


def test_listing_a_remote_filesystem_keeps_uris(tree: Path) -> None:
    """Any non-local pyarrow filesystem takes this path; a sub-tree of the disk stands in."""
    fs = pafs.SubTreeFileSystem(str(tree.parent), pafs.LocalFileSystem())
    every, listed = list_filesystem(fs, "data", "", "sub://")
    assert listed
    assert [p.removeprefix("sub://data/") for p in every] == [
        "2024/01/c.csv",
        "2024/p.parquet",
        "a.TSV",
        "b.csv",
        "notes.md",
        "z.feather",
    ]
    assert list_filesystem(fs, "data", "**/*.csv", "s3://")[0] == [
        "s3://data/2024/01/c.csv",
        "s3://data/b.csv",
    ]
    assert list_filesystem(fs, "data/b.csv", "", "s3://") == (["s3://data/b.csv"], False)
    assert list_filesystem(fs, "nothing", "*.csv", "s3://") == ([], False)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.csv", "a.csv", True),
        ("*.csv", "x/a.csv", False),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "x/y/a.csv", True),
        ("x/?.csv", "x/ab.csv", False),
        ("[ab].csv", "b.csv", True),
        ("[!ab].csv", "b.csv", False),
    ],
)
def test_glob_to_regex_for_object_stores(pattern: str, path: str, matches: bool) -> None:
    assert (re.fullmatch(glob_to_regex(pattern), path) is not None) is matches


def test_fingerprint_samples_head_middle_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    data = bytearray(os.urandom(10 * SAMPLE_BYTES))
    path.write_bytes(data)
    first = fingerprint(str(path), "csv")
    assert (first.size, first.format) == (len(data), "csv")
    assert first.mtime_ns == path.stat().st_mtime_ns

    def changed_at(offset: int) -> bool:
        edited = bytearray(data)
        edited[offset] ^= 0xFF
        path.write_bytes(edited)
        os.utime(path, ns=(first.mtime_ns, first.mtime_ns))
        return fingerprint(str(path), "csv").sample_hash != first.sample_hash

    assert changed_at(0)
    assert changed_at(len(data) // 2)
    assert changed_at(len(data) - 1)
    assert not changed_at(2 * SAMPLE_BYTES)  # evidence, not proof: unsampled bytes


def test_fingerprint_of_a_missing_file_is_a_planning_error(tmp_path: Path) -> None:
    with pytest.raises(PlanningError, match=r"gone\.csv"):
        fingerprint(str(tmp_path / "gone.csv"), "csv")


def job(path: str, **chunking: int | None) -> JobSpec:
    return JobSpec(
        name="j", type="noop", input=InputSpec(path=path), chunking=ChunkingSpec(**chunking)
    )


def test_plan_numbers_chunks_across_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(10)))
    pq.write_table(pa.table({"x": list(range(7))}), tmp_path / "b.parquet", row_group_size=2)
    plan = plan_job(job(str(tmp_path), rows=None, bytes=8))

    assert [i.path for i in plan.inputs] == [str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")]
    assert [c.seq for c in plan.chunks] == list(range(len(plan.chunks)))
    kinds = [c.kind for c in plan.chunks]
    assert kinds == sorted(kinds)  # all csv chunks, then all parquet chunks
    assert sum(read_chunk(c).num_rows for c in plan.chunks if c.kind == "csv") == 10
    assert sum(read_chunk(c).num_rows for c in plan.chunks if c.kind == "parquet") == 7


def test_a_sequence_job_has_chunks_and_no_inputs() -> None:
    spec = JobSpec(name="s", type="noop", input=InputSpec(sequence=4))
    plan = plan_job(spec)
    assert plan.inputs == ()
    assert [(c.seq, c.kind, c.path, c.start, c.stop, c.est_rows) for c in plan.chunks] == [
        (i, "sequence", None, i, i + 1, 0) for i in range(4)
    ]


def test_a_job_without_input_is_a_planning_error() -> None:
    with pytest.raises(PlanningError, match="path or a sequence"):
        plan_job(JobSpec(name="j", type="noop"))


def test_refingerprint_reports_changed_and_missing_files(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text("x\n1\n")
    plan = plan_job(job(str(tmp_path)))
    assert refingerprint(plan.inputs) == []

    (tmp_path / "a.csv").write_text("x\n1\n2\n")
    (tmp_path / "c.csv").unlink()
    assert refingerprint(plan.inputs) == [str(tmp_path / "a.csv"), str(tmp_path / "c.csv")]
