"""Batch inference through `jobctl run`: a processor module's setup(ctx) loads a
scikit-learn model once per worker process, every chunk scores with it."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression

from tests.acceptance.cli import jobctl

SCORER = """
import os
import joblib
import numpy as np
import pyarrow as pa

FEATURES = ["x1", "x2", "x3"]
_marks = None

def setup(ctx):
    global _marks
    _marks = ctx.params["marks"]
    with open(os.path.join(_marks, f"setup-{os.getpid()}"), "a") as f:
        f.write("setup\\n")
    return {"model": joblib.load(ctx.params["model"])}

def teardown():
    with open(os.path.join(_marks, f"teardown-{os.getpid()}"), "a") as f:
        f.write("teardown\\n")

def score(table, ctx):
    with open(os.path.join(ctx.params["marks"], f"chunk-{os.getpid()}"), "a") as f:
        f.write(f"{ctx.chunk.seq}\\n")
    x = np.column_stack([table.column(c).to_numpy() for c in FEATURES])
    label = ctx.resources["model"].predict(x)
    return pa.table({"id": table.column("id"), "label": pa.array(label)})
"""

SPEC = """version: 1
jobs:
  - name: score
    python: scorer:score
    params: {{model: {model}, marks: {marks}}}
    input: {{path: in.parquet, format: parquet}}
    chunking: {{rows: 500}}
    output: {{path: out/, format: parquet}}
    executor: {{local: {{workers: 2}}}}
"""


def test_setup_loads_the_model_once_per_worker_and_scores_like_predict(
    tmp_path: Path, sqlite_url: str
) -> None:
    from tests.acceptance.cli import cli_env

    env = cli_env(tmp_path, sqlite_url)
    rng = np.random.default_rng(7)
    n = 4000
    x = rng.normal(size=(n, 3))
    y = (x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.5, size=n) > 0).astype(np.int64)
    model = LogisticRegression().fit(x[:1000], y[:1000])
    joblib.dump(model, tmp_path / "model.joblib")
    table = pa.table({"id": np.arange(n), "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=500)
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "scorer.py").write_text(SCORER)
    (tmp_path / "jobs.yaml").write_text(SPEC.format(model=tmp_path / "model.joblib", marks=marks))

    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    manifest = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    out = pa.concat_tables(pq.read_table(tmp_path / "out" / p["file"]) for p in manifest["parts"])
    out = out.sort_by("id")
    assert out.column("id").to_pylist() == list(range(n))
    assert out.column("label").to_pylist() == model.predict(x).tolist()

    chunk_pids = {p.name.split("-")[1] for p in marks.glob("chunk-*")}
    setup_pids = {p.name.split("-")[1] for p in marks.glob("setup-*")}
    chunks_run = sum(len(p.read_text().split()) for p in marks.glob("chunk-*"))
    assert chunks_run >= 8  # 4000 rows in chunks of 500
    assert 1 <= len(chunk_pids) <= 2
    assert setup_pids == chunk_pids  # every worker that scored set up first...
    for path in marks.glob("setup-*"):
        assert path.read_text() == "setup\n"  # ...once, not once per chunk
    teardown_pids = {p.name.split("-")[1] for p in marks.glob("teardown-*")}
    assert teardown_pids == chunk_pids
