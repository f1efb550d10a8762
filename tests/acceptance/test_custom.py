"""``strategy: custom`` through `jobctl run`: the shipped example
(examples/components) finds connected components by label propagation, one
phase per iteration, planned by user code until it converges; the result
equals a single-process union-find."""

from __future__ import annotations

import itertools
import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.acceptance.cli import REPO, cli_env, jobctl

SPEC = """version: 1
jobs:
  - name: components
    python: components:propagate
    strategy: {type: custom, planner: "components:plan", max_phases: 40}
    input: {path: edges.csv, format: csv}
    chunking: {bytes: 1KB}
    output: {path: out/, format: parquet}
    executor: {local: {workers: 2}}
"""


def _union_find(edges: list[tuple[int, int]]) -> dict[int, int]:
    """Each node's component, named by its smallest node."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: root(node) for node in parent}


def test_custom_planner_converges_to_the_union_find_components(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = cli_env(tmp_path, sqlite_url)  # one store: the phase machinery is the store's core
    rng = random.Random(17)
    # a long path through the chunks (many iterations) plus random edges
    path = list(range(0, 300, 3))
    rng.shuffle(path)
    edges = list(itertools.pairwise(path))
    edges += [(rng.randrange(300), rng.randrange(300)) for _ in range(120)]
    rng.shuffle(edges)
    lines = ["src,dst"] + [f"{a},{b}" for a, b in edges]
    (tmp_path / "edges.csv").write_text("\n".join(lines) + "\n")
    shutil.copy(REPO / "examples" / "components" / "components.py", tmp_path)
    (tmp_path / "jobs.yaml").write_text(SPEC)
    assert jobctl("validate", "jobs.yaml", env=env, cwd=tmp_path).returncode == 0
    result = jobctl("run", "jobs.yaml", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "_SUCCESS").read_text())
    table = pa.concat_tables([pq.read_table(out / p["file"]) for p in manifest["parts"]])
    found = dict(zip(table["node"].to_pylist(), table["label"].to_pylist(), strict=True))
    assert table.num_rows == len(found)  # one row per node
    assert found == _union_find(edges)
    staging = tmp_path / ".out.jobctl-staging"  # the planner's labels files went with it
    assert not staging.exists() or not any(staging.iterdir()), list(staging.rglob("*"))
    events = jobctl("events", "components", env=env, cwd=tmp_path).stdout
    assert events.count("phase_started") >= 3  # iterated, then the last copy phase
