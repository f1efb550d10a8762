"""``type: identity_match`` through ``jobctl run`` on generated people, both stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.datagen.people import generate
from orchestrator.evaluation.identity import score_clusters
from tests.acceptance.cli import jobctl

PARAMS = """\
    params:
      mode: dedupe
      id: person_id
      fields:
        first_name: {standardize: [given_name], compare: jaro_winkler}
        last_name: {standardize: [name], compare: jaro_winkler, term_frequency: true}
        dob: {standardize: [date], compare: date}
        email: {standardize: [email], compare: exact}
        phone: {standardize: [phone], compare: exact}
        street: {standardize: [address], compare: token_set}
      blocking: [[last_name_soundex, dob_year], [email], [phone], [first_name, last_name: swapped]]
      threshold: auto
"""


def write_job(tmp: Path, name: str = "people", out: str = "out", model: str = "") -> None:
    (tmp / "jobs.yaml").write_text(
        f"version: 1\njobs:\n  - name: {name}\n    type: identity_match\n"
        + PARAMS
        + (f"      model: {model}\n" if model else "")
        + "    input: {path: people.parquet}\n    chunking: {rows: 1000}\n"
        + f"    output: {{path: {out}/, format: parquet}}\n"
        + "    executor: {local: {workers: 2}}\n"
    )


def people(tmp: Path, rows: int = 3000, seed: int = 11) -> pa.Table:
    table = pa.concat_tables(generate(rows, seed, block_rows=rows))
    pq.write_table(table, tmp / "people.parquet", row_group_size=1000)
    return table


def read_output(out: Path) -> tuple[dict, pa.Table, pa.Table]:
    manifest = json.loads((out / "_SUCCESS").read_text())
    entities = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    edges = pq.read_table(out / "edges")
    return manifest, entities, edges


def union_find(edges: pa.Table, ids: list[int]) -> dict[int, int]:
    """The smallest id of each record's component, one process, plain Python."""
    parent = {i: i for i in ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(edges["id_l"].to_pylist(), edges["id_r"].to_pylist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in ids}


def test_identity_match_finds_the_generated_people(tmp_path: Path, env: dict[str, str]) -> None:
    truth = people(tmp_path)
    write_job(tmp_path)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    manifest, entities, edges = read_output(tmp_path / "out")
    assert manifest["side_outputs"] == ["edges", "model.json"]
    summary = manifest["summary"]["identity_match"]
    assert summary["records"] == truth.num_rows == entities.num_rows
    assert summary["edges"] == edges.num_rows > 0
    assert summary["pairs_compared"] == sum(summary["pairs_by_rule"].values())
    assert sum(count for _, count in summary["cluster_size_histogram"]) == summary["clusters"]
    status = json.loads(jobctl("status", "people", "--json", env=env, cwd=tmp_path).stdout)
    assert status["identity_match"] == summary
    shown = jobctl("status", "people", env=env, cwd=tmp_path).stdout
    assert f"{summary['edges']} edges, {summary['clusters']} clusters" in shown
    # every input column kept, each row once, with its entity
    assert set(truth.column_names) < set(entities.column_names)
    assert sorted(entities["person_id"].to_pylist()) == list(range(truth.num_rows))
    scores = score_clusters(entities["entity_id"], entities["cluster_id"])
    assert scores.pairwise.f1 > 0.85, scores
    # a pair is compared (and so an edge) at most once, whatever rules found it
    pairs = set(zip(edges["id_l"].to_pylist(), edges["id_r"].to_pylist(), strict=True))
    assert len(pairs) == edges.num_rows
    assert all(a < b for a, b in pairs)
    # clusters from edges of every partition = one process's union-find
    expected = union_find(edges, entities["person_id"].to_pylist())
    got = dict(
        zip(entities["person_id"].to_pylist(), entities["entity_id"].to_pylist(), strict=True)
    )
    assert got == expected
    sizes = np.bincount(np.unique(list(got.values()), return_inverse=True)[1])
    assert entities["cluster_size"].to_pylist() == [
        int(sizes[np.searchsorted(np.unique(list(got.values())), got[i])])
        for i in entities["person_id"].to_pylist()
    ]
    # the edges explain themselves: weights add up to the match weight
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    fields = model["fields"]
    prior = np.log2(model["prior"] / (1 - model["prior"]))
    total = prior + sum(edges[f"{f}_weight"].to_numpy() for f in fields)
    assert np.allclose(total, edges["match_weight"].to_numpy())
    assert (edges["match_weight"].to_numpy() >= model["threshold"]["weight"]).all()
    assert model["threshold"]["probability"] >= 0.95  # auto never cuts lower (train.py)
    # the label-free estimate of blocking recall is near the true one
    estimate = summary["blocking_recall"]["estimated"]
    assert abs(estimate - true_blocking_recall(truth)) < 0.05, summary["blocking_recall"]


def true_blocking_recall(people: pa.Table) -> float:
    """The share of true pairs (same ``cluster_id``) some blocking rule's key agrees on."""
    import textwrap

    import yaml

    from orchestrator.processors.identity import config_of
    from orchestrator.processors.identity.prepare import rule_keys, standardized

    config = config_of(yaml.safe_load(textwrap.dedent(PARAMS))["params"])
    keys = [k.to_pylist() for k in rule_keys(config.rules, standardized(people, config))]
    groups: dict[int, list[int]] = {}
    for row, cluster in enumerate(people["cluster_id"].to_pylist()):
        groups.setdefault(cluster, []).append(row)
    pairs = [(a, b) for rows in groups.values() for i, a in enumerate(rows) for b in rows[i + 1 :]]
    caught = sum(any(k[a] is not None and k[a] == k[b] for k in keys) for a, b in pairs)
    return caught / len(pairs)


def test_a_saved_model_scores_a_later_run_without_training(tmp_path: Path, sqlite_url: str) -> None:
    from tests.acceptance.cli import cli_env

    env = cli_env(tmp_path, sqlite_url)
    people(tmp_path, rows=1000, seed=4)
    write_job(tmp_path)
    assert jobctl("run", "jobs.yaml", env=env, cwd=tmp_path, timeout=240).returncode == 0
    write_job(tmp_path, "again", "out2", model="out/model.json")
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    first, second = read_output(tmp_path / "out"), read_output(tmp_path / "out2")
    assert second[1]["entity_id"].to_pylist() == first[1]["entity_id"].to_pylist()
    reused = json.loads((tmp_path / "out2" / "model.json").read_text())
    assert reused["reused_from"].endswith("out/model.json")
