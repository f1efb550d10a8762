"""identity_match past one worker's edges: the partitioned clustering through
``jobctl run`` (a small ``cluster_max_edges`` planted by ``tests/small_clusters.py``)
publishes what the one-worker path publishes, both stores; ``split_bridges``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestrator.matching.bridges import bridges
from tests.acceptance.cli import jobctl
from tests.acceptance.test_identity_match import people, read_output, union_find, write_job

#: edges one worker may cluster in these runs: ~11k edges -> 23 partitions
SMALL = 1000


def run_small(tmp: Path, env: dict[str, str], limit: int = SMALL) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "tests.small_clusters", str(limit), "--", "run", "jobs.yaml"]
    return subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, timeout=240)


def two_runs(tmp: Path, env: dict[str, str], extra: str = "") -> tuple[Path, Path]:
    """The same job on the same people: one-worker path, partitioned path."""
    one, many = tmp / "one", tmp / "many"
    for folder in (one, many):
        folder.mkdir()
        people(folder, rows=3000, seed=11)
        write_job(folder, name=folder.name)
        job = folder / "jobs.yaml"
        job.write_text(job.read_text().replace("threshold: auto\n", "threshold: auto\n" + extra))
    ran = jobctl("run", "jobs.yaml", env=env, cwd=one, timeout=240)
    assert ran.returncode == 0, ran.stderr
    ran = run_small(many, env)
    assert ran.returncode == 0, ran.stderr
    return one / "out", many / "out"


def phases_run(env: dict[str, str], cwd: Path) -> int:
    status = json.loads(jobctl("status", cwd.name, "--json", env=env, cwd=cwd).stdout)
    return len(status["phases"])


def test_partitioned_clustering_equals_a_union_find_and_the_one_worker_path(
    tmp_path: Path, env: dict[str, str]
) -> None:
    one, many = two_runs(tmp_path, env)
    assert phases_run(env, tmp_path / "one") == 6
    assert phases_run(env, tmp_path / "many") > 8  # partition, star steps, finish, entities
    manifest, entities, edges = read_output(many)
    expected = union_find(edges, entities["person_id"].to_pylist())
    got = dict(
        zip(entities["person_id"].to_pylist(), entities["entity_id"].to_pylist(), strict=True)
    )
    assert got == expected
    assert len(set(got.values())) < len(got)
    reference = read_output(one)
    assert entities.sort_by("person_id").equals(reference[1].sort_by("person_id"))
    assert manifest["summary"] == reference[0]["summary"]
    assert not (many / "identity").exists()  # working files went with the staging area


def weak_bridges_left(entities: pa.Table, edges: pa.Table, level: float) -> int:
    """Weak bridges inside the published entities of 3 or more records."""
    entity = dict(
        zip(entities["person_id"].to_pylist(), entities["entity_id"].to_pylist(), strict=True)
    )
    size = dict(
        zip(entities["person_id"].to_pylist(), entities["cluster_size"].to_pylist(), strict=True)
    )
    left, right = edges["id_l"].to_numpy(), edges["id_r"].to_numpy()
    inside = np.array(
        [entity[a] == entity[b] and size[a] >= 3 for a, b in zip(left, right, strict=True)]
    )
    a, b, w = left[inside], right[inside], edges["match_weight"].to_numpy()[inside]
    nodes = np.unique(np.concatenate([a, b]))
    cut = bridges(len(nodes), np.searchsorted(nodes, a), np.searchsorted(nodes, b))
    return int((cut & (w < level)).sum())


def test_split_bridges_cuts_weak_bridges_the_same_on_both_paths(
    tmp_path: Path, sqlite_url: str
) -> None:
    from tests.acceptance.cli import cli_env

    env = cli_env(tmp_path, sqlite_url)
    one, many = two_runs(tmp_path, env, "      split_bridges: true\n")
    manifest, entities, edges = read_output(one)
    summary = manifest["summary"]["identity_match"]
    assert summary["bridges_split"] > 0
    model = json.loads((one / "model.json").read_text())
    level = model["threshold"]["weight"] + np.log2(10)
    assert weak_bridges_left(entities, edges, level) == 0
    # every entity is still connected by the edges it kept
    linked = union_find(edges, entities["person_id"].to_pylist())
    got = dict(
        zip(entities["person_id"].to_pylist(), entities["entity_id"].to_pylist(), strict=True)
    )
    assert len(set(got.values())) > len(set(linked.values()))
    assert all(got[i] >= linked[i] for i in got)
    other = read_output(many)
    assert other[1].sort_by("person_id").equals(entities.sort_by("person_id"))
    assert other[0]["summary"] == manifest["summary"]


def test_text_keys_of_link_mode_cluster_the_same_past_one_worker(
    tmp_path: Path, sqlite_url: str
) -> None:
    """``<dataset>/<id>`` keys are hashed for the partitions; each entity is
    still its smallest key, as on the one-worker path."""
    from tests.acceptance.cli import cli_env
    from tests.acceptance.test_identity_link import two_datasets, write_link_job

    env = cli_env(tmp_path, sqlite_url)
    outs = []
    for name, small in (("one", False), ("many", True)):
        folder = tmp_path / name
        folder.mkdir()
        two_datasets(folder, rows=3000)
        write_link_job(folder)
        ran = (
            run_small(folder, env, 300)
            if small
            else jobctl("run", "jobs.yaml", env=env, cwd=folder, timeout=240)
        )
        assert ran.returncode == 0, ran.stderr
        assert ("cluster step or entities" in ran.stdout + ran.stderr) == small
        manifest, entities, _ = read_output(folder / "out")
        outs.append(
            (
                manifest["summary"],
                entities.sort_by([("dataset", "ascending"), ("person_id", "ascending")]),
            )
        )
    assert outs[0][1].equals(outs[1][1])
    assert outs[0][0] == outs[1][0]
    assert outs[1][0]["identity_match"]["multi_record_clusters"] > 0
