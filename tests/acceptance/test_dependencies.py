"""`depends_on`: a job starts when its upstream jobs succeeded, and never when one failed."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.store import open_store
from tests.acceptance.cli import jobctl
from tests.acceptance.test_run import read_output, spec_text, write_csv_inputs


def pipeline_spec(tmp_path: Path, fail_seqs: list[int], marker: Path | None = None) -> Path:
    """extract (CSV -> Parquet) -> transform (reads extract's output) -> load;
    transform's input does not exist until extract published it."""
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        spec_text(
            f"""\
            - name: load
              depends_on: [transform]
              type: convert
              input: {{path: out/transform/*.parquet, format: parquet}}
              output: {{path: out/load/, format: csv, compression: none}}
            - name: transform
              depends_on: [extract]
              type: convert
              params: {{columns: [id, name]}}
              input: {{path: out/extract/*.parquet, format: parquet}}
              output: {{path: out/transform/, format: parquet}}
            - name: extract
              python: tests.procs:fail_on_seq
              params: {{seq: {fail_seqs}, fixed_marker: "{marker or ""}"}}
              input: {{path: data/*.csv, format: csv}}
              chunking: {{bytes: 400B}}
              retries: {{max_attempts: 1}}
              output: {{path: out/extract/, format: parquet}}
              executor: {{local: {{workers: 2}}}}
            """
        )
    )
    return spec


def test_jobs_run_in_dependency_order(tmp_path: Path, env: dict[str, str], db_url: str) -> None:
    expected = write_csv_inputs(tmp_path / "data", files=2, rows=40)
    spec = pipeline_spec(tmp_path, [])
    result = jobctl("run", str(pipeline_spec(tmp_path, [])), "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    docs = {doc["name"]: doc for doc in json.loads(result.stdout)}
    assert {name: doc["state"] for name, doc in docs.items()} == {
        "extract": "succeeded",
        "transform": "succeeded",
        "load": "succeeded",
    }
    transformed, _ = read_output(tmp_path / "out" / "transform")
    assert transformed.column_names == ["id", "name"]
    assert sorted(transformed.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
    assert (tmp_path / "out" / "load" / "_SUCCESS").exists()

    store = open_store(db_url)
    try:

        def ended(job_id: int) -> object:
            return next(
                e.at
                for e in store.list_events(job_id)
                if e.kind == "job_state" and e.detail.get("to") == "succeeded"
            )

        def first_lease(job_id: int) -> object:
            return min(e.at for e in store.list_events(job_id) if e.kind == "chunk_leased")

        ids = {name: doc["id"] for name, doc in docs.items()}
        assert first_lease(ids["transform"]) >= ended(ids["extract"])  # type: ignore[operator]
        assert first_lease(ids["load"]) >= ended(ids["transform"])  # type: ignore[operator]
        assert [u[1] for u in store.upstream_jobs(ids["load"])] == ["transform"]
    finally:
        store.close()
    assert spec.exists()


def test_upstream_failure_marks_downstream_upstream_failed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write_csv_inputs(tmp_path / "data", files=1, rows=40)
    spec = pipeline_spec(tmp_path, [1])
    result = jobctl("run", str(spec), "--json", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    docs = {doc["name"]: doc for doc in json.loads(result.stdout)}
    assert {name: doc["state"] for name, doc in docs.items()} == {
        "extract": "failed",
        "transform": "upstream_failed",
        "load": "upstream_failed",
    }
    assert "extract (failed)" in docs["transform"]["error"]
    assert "transform (upstream_failed)" in docs["load"]["error"]
    for name in ("transform", "load"):
        events = json.loads(jobctl("events", str(docs[name]["id"]), "--json", env=env).stdout)
        assert not [e for e in events if e["kind"] == "chunk_leased"]  # never ran
    assert not (tmp_path / "out" / "transform").exists()


def test_a_selected_job_needs_its_upstream(tmp_path: Path, env: dict[str, str]) -> None:
    write_csv_inputs(tmp_path / "data", files=1, rows=10)
    spec = pipeline_spec(tmp_path, [])
    result = jobctl("submit", str(spec), "--job", "transform", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "upstream job 'extract'" in result.stderr and "--job extract" in result.stderr


def test_running_the_run_key_again_resumes_the_whole_graph(
    tmp_path: Path, env: dict[str, str]
) -> None:
    expected = write_csv_inputs(tmp_path / "data", files=1, rows=40)
    marker = tmp_path / "fixed"
    spec = pipeline_spec(tmp_path, [1], marker)
    first = jobctl("run", str(spec), "--run-key", "nightly", env=env, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    marker.write_text("fixed")
    again = jobctl("run", str(spec), "--run-key", "nightly", "--json", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    docs = {doc["name"]: doc for doc in json.loads(again.stdout)}
    assert {name: doc["state"] for name, doc in docs.items()} == {
        "extract": "succeeded",
        "transform": "succeeded",
        "load": "succeeded",
    }
    transformed, _ = read_output(tmp_path / "out" / "transform")
    assert sorted(transformed.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())
