"""Connected components of an undirected graph by label propagation, as a
``strategy: custom`` job: an iterative computation that runs until it converges.

The edge list (CSV ``src,dst``, integer node ids) is the job's input. Every
node starts with its own id as its label; each iteration gives every node the
smallest label among itself and its neighbours, until no label changes. The
labels then name the components: each node ends with the smallest node id of
its component.

- ``propagate`` (the processor, every phase): an iteration reads one chunk of
  edges and the labels the previous iteration agreed on (``labels-<k>.arrow``
  in the job's staging area; none in the first), spreads the smallest label
  along the chunk's edges until nothing changes within the chunk, and writes
  ``(node, label)`` for the chunk's nodes. ``ctx.result`` is how many of them
  got a smaller label than the one they came with.
- ``plan`` (the planner, between phases): merges the iteration's parts into
  one labels file (the smallest label per node), then plans the next
  iteration over the same edge chunks, or, when no chunk changed a label,
  one last phase that copies the labels file to the output (one row per
  node), and after it, nothing: the job is finished.

The planner is deterministic (the same parts give the same labels file,
written under a temporary name and renamed), so planning again after a
coordinator crash is harmless. Memory: a worker holds its edge chunk and the
labels of every node (a graph whose labels do not fit one worker would
shuffle the labels by node with a map_reduce phase instead).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.strategies.custom import PlannerInput

LABELS = "components"
FINAL = "final"


def _labels_path(staging_dir: str, phase: int) -> Path:
    return Path(staging_dir) / LABELS / f"labels-{phase}.arrow"


def _read_labels(path: Path) -> dict[int, int]:
    with pa.OSFile(str(path), "rb") as f:
        table = pa.ipc.open_file(f).read_all()
    return dict(zip(table["node"].to_pylist(), table["label"].to_pylist(), strict=True))


def propagate(table: pa.Table, ctx: Any) -> pa.Table:
    """One iteration over one chunk of edges (or, in the last phase, the labels file)."""
    if ctx.chunk.kind == "arrow":  # the last phase: the agreed labels are the output
        ctx.result = FINAL
        return table.select(["node", "label"])
    known: dict[int, int] = {}
    if ctx.chunk.phase > 0:
        known = _read_labels(_labels_path(ctx.staging_dir, ctx.chunk.phase - 1))
    src = table["src"].to_pylist()
    dst = table["dst"].to_pylist()
    labels = {n: known.get(n, n) for n in (*src, *dst)}
    before = dict(labels)
    changed = True
    while changed:  # to a fixpoint within the chunk: fewer iterations overall
        changed = False
        for a, b in zip(src, dst, strict=True):
            low = min(labels[a], labels[b])
            if labels[a] != low or labels[b] != low:
                labels[a] = labels[b] = low
                changed = True
    ctx.result = sum(1 for n, label in labels.items() if label < before[n])
    nodes = sorted(labels)
    return pa.table(
        {
            "node": pa.array(nodes, pa.int64()),
            "label": pa.array([labels[n] for n in nodes], pa.int64()),
        }
    )


def plan(inp: PlannerInput) -> list[ChunkDescriptor] | None:
    """The next iteration's chunks, the last phase, or None (finished)."""
    values = inp.values()
    if FINAL in values:
        return None
    parts = [pq.read_table(p, columns=["node", "label"]) for p in inp.parts()]
    table = pa.concat_tables(parts) if parts else pa.table({"node": [], "label": []})
    merged = table.group_by("node").aggregate([("label", "min")])
    merged = merged.rename_columns(["node", "label"]).sort_by("node")
    merged = merged.cast(pa.schema([("node", pa.int64()), ("label", pa.int64())]))
    merged = merged.combine_chunks()  # one record batch: the last phase's one chunk
    path = _labels_path(inp.staging_dir, inp.phase)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_file(f, merged.schema) as writer:
        writer.write_table(merged)
    os.replace(tmp, path)
    if sum(int(v or 0) for v in values) == 0 and inp.phase > 0:
        return [ChunkDescriptor(0, "arrow", str(path), 0, 1, merged.num_rows)]
    return list(inp.input_chunks)
