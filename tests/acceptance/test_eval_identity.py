"""`jobctl eval identity` on small handmade clusterings whose scores are worked out by hand.

Truth A={1,2,3}, B={4,5}, C={6}; predicted X={1,2}, Y={3,4,5}, Z={6}.
- pairwise: true pairs 3+1=4, predicted pairs 1+3=4, both: (1,2) and (4,5) = 2
  -> precision 2/4, recall 2/4, F1 1/2.
- cluster: only Z equals a true cluster (C) -> 1/3, 1/3, 1/3.
- B-cubed precision per record 1, 1, 1/3, 2/3, 2/3, 1 -> 14/18 = 7/9;
  recall 2/3, 2/3, 1/3, 1, 1, 1 -> 7/9.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.acceptance.cli import cli_env, jobctl

PREDICTED = {1: "X", 2: "X", 3: "Y", 4: "Y", 5: "Y", 6: "Z"}
TRUE = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B", 6: "C"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)  # eval reads files only: no store


def _clustered_folder(folder: Path, with_truth: bool = True) -> Path:
    """An identity job's output: two Parquet parts and a _SUCCESS marker."""
    folder.mkdir()
    ids = list(PREDICTED)
    for number, part in enumerate((ids[:4], ids[4:])):
        columns = {"person_id": part, "entity_id": [PREDICTED[i] for i in part]}
        if with_truth:
            columns["cluster_id"] = [TRUE[i] for i in part]
        pq.write_table(pa.table(columns), folder / f"part-{number:05d}.parquet")
    (folder / "_SUCCESS").write_text("{}")
    (folder / "edges").mkdir()  # an identity job's links: not records, never read
    pq.write_table(pa.table({"id_l": [1], "id_r": [2]}), folder / "edges" / "part-0.parquet")
    return folder


def test_truth_column_of_the_same_rows_gives_the_hand_computed_scores(
    tmp_path: Path, env: dict[str, str]
) -> None:
    out = _clustered_folder(tmp_path / "out")
    done = jobctl("eval", "identity", str(out), "--truth", "cluster_id", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["pairwise"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    third = 1 / 3
    assert doc["cluster"] == pytest.approx({"precision": third, "recall": third, "f1": third})
    assert doc["bcubed"] == pytest.approx({"precision": 7 / 9, "recall": 7 / 9, "f1": 7 / 9})
    assert (doc["records"], doc["predicted_pairs"], doc["true_pairs"]) == (6, 4, 4)
    assert (doc["true_positive_pairs"], doc["missing_from_output"]) == (2, 0)

    text = jobctl("eval", "identity", str(out), "--truth", "cluster_id", env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["metric", "precision", "recall", "f1"]
    assert lines[1].split() == ["pairwise", "0.5000", "0.5000", "0.5000"]
    assert lines[2].split() == ["cluster", "0.3333", "0.3333", "0.3333"]
    assert lines[3].split() == ["b-cubed", "0.7778", "0.7778", "0.7778"]


def test_truth_file_by_record_id_counts_a_record_the_output_lacks_as_unmatched(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Record 7 (true entity B) is missing from the output: B={4,5,7} now.
    Pairwise: true pairs 3+3=6, predicted 4, both 2 -> P 1/2, R 1/3, F1 2/5.
    Cluster: Z=C only; 4 predicted ({7} alone), 3 true -> P 1/4, R 1/3, F1 2/7.
    B-cubed precision (1+1+1/3+2/3+2/3+1+1)/7 = 17/21, recall
    (2/3+2/3+1/3+2/3+2/3+1+1/3)/7 = 13/21."""
    out = tmp_path / "clusters.csv"
    out.write_text("person_id,entity_id\n" + "".join(f"{i},{c}\n" for i, c in PREDICTED.items()))
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "person_id,true_entity\n" + "".join(f"{i},{c}\n" for i, c in {**TRUE, 7: "B"}.items())
    )
    done = jobctl(
        "eval", "identity", str(out), "--truth", str(truth), "--id", "person_id", "--json",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["truth_column"] == "true_entity"
    assert doc["missing_from_output"] == 1
    assert doc["pairwise"] == pytest.approx({"precision": 0.5, "recall": 1 / 3, "f1": 0.4})
    assert doc["cluster"] == pytest.approx({"precision": 0.25, "recall": 1 / 3, "f1": 2 / 7})
    f1 = 2 * (17 / 21) * (13 / 21) / (30 / 21)
    assert doc["bcubed"] == pytest.approx({"precision": 17 / 21, "recall": 13 / 21, "f1": f1})


def test_a_perfect_clustering_scores_one_everywhere(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "same.parquet"
    pq.write_table(pa.table({"cluster": [10, 10, 20], "truth": ["a", "a", "b"]}), out)
    done = jobctl(
        "eval", "identity", str(out), "--truth", "truth", "--cluster", "cluster", "--json",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    for family in ("pairwise", "cluster", "bcubed"):
        assert doc[family] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_bad_inputs_are_refused_with_exit_2_and_a_clear_message(
    tmp_path: Path, env: dict[str, str]
) -> None:
    out = _clustered_folder(tmp_path / "out", with_truth=False)
    missing = jobctl("eval", "identity", str(out), "--truth", "cluster_id", env=env)
    assert missing.returncode == 2
    assert "no column 'cluster_id'" in missing.stderr and "person_id" in missing.stderr

    truth = tmp_path / "truth.csv"
    truth.write_text("person_id,true_entity\n1,A\n2,A\n3,A\n4,B\n5,B\n")  # no 6
    unknown = jobctl(
        "eval", "identity", str(out), "--truth", str(truth), "--id", "person_id", "--json",
        env=env,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert json.loads(unknown.stdout)["exit_code"] == 2
    assert "1 id(s)" in unknown.stderr and "e.g. 6" in unknown.stderr

    no_id = jobctl("eval", "identity", str(out), "--truth", str(truth), env=env)
    assert no_id.returncode == 2 and "--id" in no_id.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    schema = pa.schema([("entity_id", pa.string()), ("cluster_id", pa.string())])
    pq.write_table(schema.empty_table(), empty / "part-00000.parquet")
    nothing = jobctl("eval", "identity", str(empty), "--truth", "cluster_id", env=env)
    assert nothing.returncode == 2 and "no records" in nothing.stderr

    absent = jobctl("eval", "identity", str(tmp_path / "nope"), "--truth", "x", env=env)
    assert absent.returncode == 2 and "no such file or folder" in absent.stderr
