"""Where an identity_match job keeps its working files, and how they are written.

Everything lives under ``<staging>/identity/`` (the job's staging area goes
away at publish or rollback). Each file has a fixed name derived from the
chunk that writes it, and its content is a deterministic function of that
chunk's input, so a stale or repeated attempt rewrites the same bytes: the
files need no fencing of their own. Writes are atomic (temp name, fsync,
rename), so a reader never sees half a file.

The phases, in order (the planner is ``strategies/identity_match.py``):
``prepare`` (map per input chunk: standardize, keys, route by every blocking
rule into the shuffle), ``compare`` (one chunk per partition: pairs, levels,
pattern codes, per-partition statistics), ``train`` (one chunk: EM on the
summed pattern counts, the model file), ``score`` (one chunk per pairs part:
edges above the threshold), ``cluster`` (one chunk: connected components),
``entities`` (one chunk per input chunk: the input rows with ``entity_id``).
When the edges exceed what one worker clusters, ``cluster`` is a run of
phases instead (``cluster_steps.py``): each one's step is named in
``identity/cc/phase-NNN.json`` and its files are under ``identity/cc/``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

PREPARE, COMPARE, TRAIN, SCORE, CLUSTER, ENTITIES = range(6)
PHASE_NAMES = ("prepare", "compare", "train", "score", "cluster", "entities")

#: column the prepare phase routes rows by: "<rule index>|<key>"
BLOCK = "_block"
RULE = "_rule"
PRIMARY = "_primary"
#: link mode: the index of the record's dataset in ``params.datasets``
DATASET_INDEX = "_dataset"
#: rule index of a record no rule blocks (counted, never paired)
UNBLOCKED = -1
#: rule index of a sampled random pair in a compare part (u estimation, never scored)
RANDOM = -1


def key_column(rule: int) -> str:
    return f"_k{rule}"


def identity_dir(staging: str | os.PathLike[str]) -> Path:
    return Path(staging) / "identity"


def compare_stats_path(staging: str, seq: int) -> Path:
    return identity_dir(staging) / f"compare-{seq:05d}.json"


def tf_counts_path(staging: str, seq: int) -> Path:
    return identity_dir(staging) / f"tf-{seq:05d}.arrow"


def model_path(staging: str) -> Path:
    return identity_dir(staging) / "model.json"


def tf_path(staging: str) -> Path:
    return identity_dir(staging) / "tf.arrow"


def edges_list_path(staging: str) -> Path:
    return identity_dir(staging) / "edges.json"


def clusters_path(staging: str) -> Path:
    return identity_dir(staging) / "clusters.arrow"


def cluster_stats_path(staging: str) -> Path:
    return identity_dir(staging) / "clusters.json"


def cc_dir(staging: str) -> Path:
    """The files of the partitioned clustering (``cluster_steps.py``)."""
    return identity_dir(staging) / "cc"


def cluster_step_path(staging: str, phase: int) -> Path:
    return cc_dir(staging) / f"phase-{phase:03d}.json"


def cluster_step(staging: str | None, phase: int) -> dict[str, Any] | None:
    """The partitioned clustering's step of ``phase`` (written by the planner),
    or None: the phase is not one (the one-worker cluster phase, entities)."""
    if staging is None or phase < CLUSTER:
        return None
    path = cluster_step_path(staging, phase)
    return read_json(path) if path.exists() else None


def _atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    _atomic(path, json.dumps(value, indent=1, sort_keys=True).encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_arrow(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    _atomic(path, sink.getvalue().to_pybytes())


def write_arrow_batches(path: Path, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
    """An Arrow IPC file of exactly these batches (batch ``q``: partition ``q``)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    _atomic(path, sink.getvalue().to_pybytes())


def read_arrow(path: Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()
