"""``identity_match`` in ``mode: link``: two datasets of generated people whose
ids overlap, linked through ``jobctl run``; only pairs across datasets are
compared; mistakes refused at validate with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from orchestrator.datagen.people import generate
from orchestrator.evaluation.identity import score_clusters
from tests.acceptance.cli import jobctl
from tests.acceptance.test_identity_match import PARAMS

LINK_PARAMS = PARAMS.replace(
    "      mode: dedupe\n",
    "      mode: link\n      datasets: {crm: data/crm-*.parquet, billing: data/billing.parquet}\n",
)


def write_link_job(tmp: Path, params: str = LINK_PARAMS) -> None:
    (tmp / "jobs.yaml").write_text(
        "version: 1\njobs:\n  - name: link\n    type: identity_match\n"
        + params
        + "    input: {path: data/}\n    chunking: {rows: 700}\n"
        + "    output: {path: out/, format: parquet}\n"
        + "    executor: {local: {workers: 2}}\n"
    )


def two_datasets(tmp: Path, rows: int = 4000) -> tuple[pa.Table, pa.Table]:
    """The first record of each true person into crm (two files), the second into
    billing; each dataset numbers its own ids from 0, so ids collide across them."""
    people = pa.concat_tables(generate(rows, 7, block_rows=rows))
    order = pc.sort_indices(people, [("cluster_id", "ascending"), ("person_id", "ascending")])
    people = people.take(order)
    truth = people["cluster_id"].to_numpy()
    rank = [0] * len(truth)
    for i in range(1, len(truth)):
        rank[i] = rank[i - 1] + 1 if truth[i] == truth[i - 1] else 0
    ranks = pa.array(rank)
    crm = people.filter(pc.equal(ranks, 0))
    billing = people.filter(pc.equal(ranks, 1))
    crm = crm.set_column(0, "person_id", pa.array(range(crm.num_rows), pa.int64()))
    billing = billing.set_column(0, "person_id", pa.array(range(billing.num_rows), pa.int64()))
    (tmp / "data").mkdir()
    half = crm.num_rows // 2
    pq.write_table(crm.slice(0, half), tmp / "data" / "crm-1.parquet")
    pq.write_table(crm.slice(half), tmp / "data" / "crm-2.parquet")
    pq.write_table(billing, tmp / "data" / "billing.parquet")
    return crm, billing


def test_link_mode_matches_records_across_datasets_only(
    tmp_path: Path, env: dict[str, str]
) -> None:
    crm, billing = two_datasets(tmp_path)
    write_link_job(tmp_path)
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    entities = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    edges = pq.read_table(out / "edges")
    summary = manifest["summary"]["identity_match"]
    assert summary["records"] == crm.num_rows + billing.num_rows == entities.num_rows
    # every record once, keyed by its dataset and its own id
    keys = [
        f"{d}/{i}"
        for d, i in zip(
            entities["dataset"].to_pylist(), entities["person_id"].to_pylist(), strict=True
        )
    ]
    want = [f"crm/{i}" for i in range(crm.num_rows)] + [
        f"billing/{i}" for i in range(billing.num_rows)
    ]
    assert sorted(keys) == sorted(want)
    # no pair of one dataset is ever compared: every edge joins crm and billing
    sides = {
        tuple(sorted((a.split("/")[0], b.split("/")[0])))
        for a, b in zip(edges["id_l"].to_pylist(), edges["id_r"].to_pylist(), strict=True)
    }
    assert sides == {("billing", "crm")}
    assert summary["pairs_compared"] == sum(summary["pairs_by_rule"].values())
    # each true person has at most one record per dataset: every true pair is a link
    scores = score_clusters(entities["entity_id"], entities["cluster_id"])
    assert scores.pairwise.f1 > 0.85, scores
    entity = dict(zip(keys, entities["entity_id"].to_pylist(), strict=True))
    assert all(entity[k].split("/")[0] in ("crm", "billing") for k in keys)
    assert len(set(entity.values())) < len(keys)  # some records were linked


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            ("      datasets: {crm: data/crm-*.parquet, billing: data/billing.parquet}\n", ""),
            "needs datasets",
        ),
        (("billing: data/billing.parquet", ""), "at least two"),
        (("mode: link", "mode: dedupe"), "datasets are for mode: link"),
        (("crm: data/crm-*.parquet", "c r m: x"), "a dataset name"),
    ],
)
def test_link_mistakes_are_refused_at_validate(
    tmp_path: Path, env: dict[str, str], change: tuple[str, str], words: str
) -> None:
    two_datasets(tmp_path, rows=200)
    write_link_job(tmp_path, LINK_PARAMS.replace(*change))
    result = jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "jobs.yaml:" in result.stderr and words in result.stderr, result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_input_file_in_no_dataset_is_refused_before_anything_runs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    two_datasets(tmp_path, rows=200)
    pq.write_table(
        pq.read_table(tmp_path / "data" / "billing.parquet"), tmp_path / "data" / "x.parquet"
    )
    write_link_job(tmp_path, LINK_PARAMS.replace("crm-*.parquet", "crm-9*.parquet"))
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "x.parquet is in none of params.datasets" in result.stderr, result.stderr
    assert "dataset 'crm'" in result.stderr and "matches none" in result.stderr
    assert not (tmp_path / "out").exists()
    listed = jobctl("list", "--json", env=env, cwd=tmp_path)
    assert json.loads(listed.stdout) == []  # nothing stored
