"""Phase ``cluster`` (one chunk): connected components of the edges of every partition.

Union-find as vectorized min-label propagation (``matching/clusters.py``) over
the edge list loaded into this one worker: the ids of the records that have an
edge are ranked (sorted distinct values), so a component's label is its
smallest id, which is the record's ``entity_id`` (stable: the same records give
the same id, whichever partition or run found the edges). Memory: measured at
about 170 bytes per edge on top of the worker (3.75M edges of 1M generated
people: 725 MiB peak in a process that idles at 103 MiB, 4.9 s). Past the
planner's ``cluster_max_edges`` (``strategies/identity_match.py``) the edges
are clustered in partitions instead, over several phases (``cluster_steps.py``), which end in
:func:`write_clusters` as this one does: the same file, the same figures.
An edge from a record to itself (a duplicated id) links nothing.

Writes ``identity/clusters.arrow`` (``id``, ``entity_id``, ``cluster_size`` of
every linked record) and ``identity/clusters.json`` (clusters, sizes), after
cutting weak bridges when ``split_bridges`` is on (``bridges.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.matching.clusters import connected_components
from orchestrator.matching.config import MatchConfig
from orchestrator.processors.identity.files import (
    cluster_stats_path,
    clusters_path,
    edges_list_path,
    model_path,
    read_json,
    write_arrow,
    write_json,
)


def components(id_l: pa.Array, id_r: pa.Array) -> pa.Table:
    """``id``, ``entity_id`` (smallest id of its component), ``cluster_size`` per linked id."""
    both = pa.concat_arrays([id_l, id_r])
    distinct = pc.unique(both)
    ranked = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(both, value_set=ranked).to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(ranked)
    labels = connected_components(n, codes[: len(id_l)], codes[len(id_l) :])
    sizes = np.bincount(labels, minlength=n)
    return pa.table(
        {
            "id": ranked,
            "entity_id": ranked.take(pa.array(labels)),
            "cluster_size": pa.array(sizes[labels], pa.int64()),
        }
    )


def trained_records(staging: str) -> int:
    return int(read_json(model_path(staging))["training"]["records"])


def _edge_tables(parts: Sequence[str], columns: list[str]) -> Iterator[pa.Table]:
    for part in parts:
        yield pq.read_table(part, columns=columns)


def cluster(staging: str, records: int, config: MatchConfig | None = None) -> dict[str, Any]:
    """Cluster every edge part the planner listed; write the clusters; their figures."""
    parts = read_json(edges_list_path(staging))["parts"]
    split = config is not None and config.split_bridges
    columns = ["id_l", "id_r", "match_weight"] if split else ["id_l", "id_r"]
    tables = list(_edge_tables(parts, columns))
    edges = sum(t.num_rows for t in tables)
    table = pa.concat_tables(tables).combine_chunks() if tables else None
    if table is not None:
        table = table.filter(pc.not_equal(table["id_l"], table["id_r"]))  # a duplicated id
    if table is not None and table.num_rows:
        clusters = components(table["id_l"].combine_chunks(), table["id_r"].combine_chunks())
    else:
        clusters = empty_clusters()
    dropped: int | None = 0 if split else None
    if split and table is not None:
        from orchestrator.processors.identity.bridges import bridge_level, split_weak_bridges

        level = bridge_level(staging)
        clusters, dropped = split_weak_bridges(clusters, lambda: iter([table]), level)
    return write_clusters(staging, clusters, edges, records, dropped)


def empty_clusters() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([], pa.int64()),
            "entity_id": pa.array([], pa.int64()),
            "cluster_size": pa.array([], pa.int64()),
        }
    )


def write_clusters(
    staging: str, clusters: pa.Table, edges: int, records: int, dropped: int | None
) -> dict[str, Any]:
    """Write the clusters file and its figures (both clustering paths end
    here, so they publish the same); ``dropped``: bridges cut (None: not asked)."""
    write_arrow(clusters_path(staging), clusters)
    first = pc.equal(clusters["id"], clusters["entity_id"])
    sizes = clusters["cluster_size"].filter(first).to_numpy()
    histogram = Counter(int(s) for s in sizes)
    linked = clusters.num_rows
    histogram[1] = histogram.get(1, 0) + max(records - linked, 0)
    stats = {
        "edges": edges,
        "records": records,
        "linked_records": linked,
        "clusters": len(sizes) + max(records - linked, 0),
        "multi_record_clusters": len(sizes),
        "largest_cluster": int(sizes.max()) if len(sizes) else 1,
        "cluster_size_histogram": [[k, histogram[k]] for k in sorted(histogram)],
    }
    if dropped is not None:
        stats["bridges_split"] = dropped
    write_json(cluster_stats_path(staging), stats)
    return stats
