"""The partitioned clustering: one step of ``matching/stars.py`` per phase.

When the edges exceed what one worker clusters (the planner's
``cluster_max_edges``), the cluster phase becomes a run of phases, each
named by the planner in ``identity/cc/phase-NNN.json``:

- ``partition`` (one chunk per edges part): the part's edges as directed rows
  ``(u, v)``, both directions, hash-partitioned by ``u`` into ``P`` partitions;
- ``star`` (one chunk per partition, as many phases as it takes): one large-
  or small-star step over the partition's rows from every file of the step
  before, its edges routed again; ``ctx.result`` is how many of the
  partition's nodes are not yet a star's centre or leaf (0 everywhere: done);
- ``finish`` (one chunk): each converged leaf with its centre, the smallest
  id of its component, is the clusters file the one-worker path writes
  (``cluster.py:write_clusters``, weak bridges cut there too).

Each chunk writes one file, ``cc/<dir>/from-NNNNN.arrow``, with exactly ``P``
record batches (batch ``q``: the rows of partition ``q``), sorted and
distinct: the same input gives the same bytes, so a repeated or stale attempt
rewrites what the first wrote. A ``star`` chunk holds one partition's rows
(16 bytes a row, a few copies while it sorts); ``finish`` holds the linked
records (as the entities phase does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from hashlib import blake2b
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.errors import ProcessorError
from orchestrator.matching.config import MatchConfig
from orchestrator.matching.stars import Rows, route, star_step, unique_rows
from orchestrator.processors.base import ChunkContext
from orchestrator.processors.identity.bridges import bridge_level, join_weak_edges
from orchestrator.processors.identity.cluster import (
    cluster,
    empty_clusters,
    trained_records,
    write_clusters,
)
from orchestrator.processors.identity.files import (
    cc_dir,
    cluster_step,
    edges_list_path,
    read_json,
    write_arrow_batches,
)

SCHEMA = pa.schema([("u", pa.int64()), ("v", pa.int64())])


def _file(staging: str, folder: str, index: int) -> Path:
    return cc_dir(staging) / folder / f"from-{index:05d}.arrow"


def _write(staging: str, step: Mapping[str, Any], index: int, a: np.ndarray, b: np.ndarray) -> None:
    rows = route(a, b, int(step["partitions"]))
    batches = [pa.record_batch([pa.array(u), pa.array(v)], schema=SCHEMA) for u, v in rows]
    path = _file(staging, str(step["write"]), index)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_arrow_batches(path, SCHEMA, batches)


def _read(staging: str, step: Mapping[str, Any], partition: int | None) -> Iterator[Rows]:
    """The rows of ``partition`` (None: of every partition) in each source file."""
    for index in range(int(step["sources"])):
        path = _file(staging, str(step["read"]), index)
        with pa.memory_map(str(path), "r") as source:
            reader = pa.ipc.open_file(source)
            wanted = range(reader.num_record_batches) if partition is None else [partition]
            for q in wanted:
                batch = reader.get_batch(q)
                yield np.array(batch.column(0)), np.array(batch.column(1))  # copies


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def key_hashes(keys: list[str]) -> np.ndarray:
    """A 64-bit blake2b of each text id (``<dataset>/<id>`` keys of ``mode:
    link``): the same in every process, host and library version, which a
    partition assignment read by other workers needs."""
    return np.fromiter(
        (
            int.from_bytes(blake2b(k.encode(), digest_size=8).digest(), "little", signed=True)
            for k in keys
        ),
        np.int64,
        count=len(keys),
    )


def _edge_ids(table: pa.Table, column: str) -> np.ndarray:
    values = table[column]
    if _is_text(values.type):
        return key_hashes(values.to_pylist())
    if not pa.types.is_integer(values.type):
        raise ProcessorError(
            f"identity_match: clustering past one worker needs integer or text ids; "
            f"{column} is {values.type}"
        )
    return np.asarray(values.cast(pa.int64()).to_numpy())


def partition(staging: str, step: Mapping[str, Any], index: int, config: MatchConfig) -> None:
    """Edges part ``index`` as rows of each partition (with ``split_bridges``,
    its strong edges only: the finish joins the weak ones)."""
    part = read_json(edges_list_path(staging))["parts"][index]
    table = pq.read_table(part, columns=["id_l", "id_r", "match_weight"])
    if config.split_bridges:
        table = table.filter(pc.greater_equal(table["match_weight"], bridge_level(staging)))
    _write(staging, step, index, _edge_ids(table, "id_l"), _edge_ids(table, "id_r"))


def star(staging: str, step: Mapping[str, Any], index: int) -> int:
    """Star step over partition ``index``; its nodes that are not converged."""
    pieces = list(_read(staging, step, index))
    u = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    v = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    del pieces
    u, v = unique_rows(u, v)
    (a, b), bad = star_step(u, v, int(step["index"]))
    del u, v
    _write(staging, step, index, a, b)
    return bad


def finish(staging: str, step: Mapping[str, Any], config: MatchConfig) -> None:
    """The clusters file from the converged stars."""
    leaves_u, leaves_v = [], []
    for u, v in _read(staging, step, None):
        leaf = v < u  # converged: a leaf's one row names its centre
        leaves_u.append(u[leaf])
        leaves_v.append(v[leaf])
    if leaves_u:
        lu, lv = unique_rows(np.concatenate(leaves_u), np.concatenate(leaves_v))
    else:
        lu = lv = np.zeros(0, np.int64)
    centres = np.unique(lv)
    ids = np.concatenate([lu, centres])
    entity = np.concatenate([lv, centres])
    order = np.argsort(ids, kind="stable")
    ids, entity = ids[order], entity[order]
    if len(np.unique(lu)) != len(lu):
        raise ProcessorError("identity_match: the partitioned clustering did not converge")
    _, inverse, counts = np.unique(entity, return_inverse=True, return_counts=True)
    kind = _id_type(staging)
    if not len(ids):
        clusters = empty_clusters()
    elif _is_text(kind):
        clusters = _named(staging, ids, entity, counts[inverse], kind)
    else:
        clusters = pa.table(
            {
                "id": pa.array(ids, kind),
                "entity_id": pa.array(entity, kind),
                "cluster_size": pa.array(counts[inverse], pa.int64()),
            }
        )
    dropped = None
    if config.split_bridges:
        clusters, dropped = join_weak_edges(clusters, *_weak_edges(staging), kind)
    write_clusters(staging, clusters, int(step["edges"]), trained_records(staging), dropped)


def _weak_edges(staging: str) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of every weak edge (the partition step left them out)."""
    level = bridge_level(staging)
    left, right = [], []
    for part in read_json(edges_list_path(staging))["parts"]:
        table = pq.read_table(part, columns=["id_l", "id_r", "match_weight"])
        weak = pc.and_(
            pc.less(table["match_weight"], level), pc.not_equal(table["id_l"], table["id_r"])
        )
        table = table.filter(weak)
        left.append(table["id_l"].to_numpy())
        right.append(table["id_r"].to_numpy())
    if not left:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(left), np.concatenate(right)


def _named(
    staging: str, hashes: np.ndarray, centres: np.ndarray, sizes: np.ndarray, kind: pa.DataType
) -> pa.Table:
    """The clusters of text ids, from their hashes: each component's entity is
    its smallest key (as on the one-worker path, not the smallest hash),
    sorted by key. Two keys of one hash are refused (odds ~n²/2^65)."""
    parts = read_json(edges_list_path(staging))["parts"]
    seen = [pc.unique(pq.read_table(p, columns=[c])[c]) for p in parts for c in ("id_l", "id_r")]
    keys = pc.unique(pa.chunked_array(seen, kind).combine_chunks())
    known = key_hashes(keys.to_pylist())
    order = np.argsort(known, kind="stable")
    known, keys = known[order], keys.take(pa.array(order))
    if len(known) > 1 and (known[1:] == known[:-1]).any():
        raise ProcessorError(
            "identity_match: two ids share a 64-bit hash; cluster them in one worker"
        )
    names = keys.take(pa.array(np.searchsorted(known, hashes)))
    table = pa.table({"id": names, "centre": pa.array(centres)})
    smallest = table.group_by("centre").aggregate([("id", "min")])
    where = pc.index_in(table["centre"], value_set=smallest["centre"])
    entity = smallest["id_min"].take(where)
    by_key = pc.sort_indices(names)
    return pa.table(
        {
            "id": names.take(by_key),
            "entity_id": entity.take(by_key).cast(kind),
            "cluster_size": pa.array(sizes, pa.int64()).take(by_key),
        }
    )


def _id_type(staging: str) -> pa.DataType:
    """The id column's type in the edges (the one-worker path keeps it)."""
    parts = read_json(edges_list_path(staging))["parts"]
    if not parts:
        return pa.int64()
    return pq.read_schema(parts[0]).field("id_l").type


def cluster_chunk(ctx: ChunkContext, config: MatchConfig) -> None:
    """Run one chunk of the cluster phase(s): the one-worker clustering, or
    one step of the partitioned one (:func:`run_step`)."""
    staging = str(ctx.staging_dir)
    step = cluster_step(staging, ctx.chunk.phase)
    if step is None:
        cluster(staging, trained_records(staging), config)
        return
    ctx.result = run_step(staging, step, ctx.chunk.start, config)


def run_step(staging: str, step: Mapping[str, Any], index: int, config: MatchConfig) -> Any:
    """Chunk ``index`` of the phase whose step is ``step``; its ``ctx.result``."""
    kind = step["step"]
    if kind == "partition":
        partition(staging, step, index, config)
        return None
    if kind == "star":
        return star(staging, step, index)
    if kind == "finish":
        finish(staging, step, config)
        return None
    raise ProcessorError(f"identity_match: unknown cluster step {kind!r}")
