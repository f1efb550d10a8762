"""Phase ``cluster`` (one chunk): connected components of the edges of every partition.

Union-find as vectorized min-label propagation (``matching/clusters.py``) over
the edge list loaded into this one worker: the ids of the records that have an
edge are ranked (sorted distinct values), so a component's label is its
smallest id, which is the record's ``entity_id`` (stable: the same records give
the same id, whichever partition or run found the edges). Memory bound:
measured at about 100 bytes per edge on top of the worker (3.7M edges of 1M
generated people: 370 MiB more, 4 s), so past :data:`MAX_EDGES` (about
1.6 GiB) the chunk fails with a message instead of outgrowing a 2 GiB worker.
An iterative label-propagation phase for edge lists that do not fit one
worker is not built: 10M people (~37M edges) need it.

Writes ``identity/clusters.arrow`` (``id``, ``entity_id``, ``cluster_size`` of
every linked record) and ``identity/clusters.json`` (clusters, sizes).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.errors import ProcessorError
from orchestrator.matching.clusters import connected_components
from orchestrator.processors.identity.files import (
    cluster_stats_path,
    clusters_path,
    edges_list_path,
    read_json,
    write_arrow,
    write_json,
)

MAX_EDGES = 15_000_000


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


def cluster(staging: str, records: int) -> dict[str, Any]:
    """Cluster every edge part the planner listed; write the clusters; their figures."""
    parts = read_json(edges_list_path(staging))["parts"]
    tables = [pq.read_table(p, columns=["id_l", "id_r"]) for p in parts]
    edges = sum(t.num_rows for t in tables)
    if edges > MAX_EDGES:
        raise ProcessorError(
            f"identity_match: {edges} edges exceed what one worker clusters ({MAX_EDGES}); "
            "raise the threshold or tighten the blocking rules"
        )
    if tables and edges:
        table = pa.concat_tables(tables).combine_chunks()
        clusters = components(table["id_l"].combine_chunks(), table["id_r"].combine_chunks())
    else:
        clusters = pa.table(
            {
                "id": pa.array([], pa.int64()),
                "entity_id": pa.array([], pa.int64()),
                "cluster_size": pa.array([], pa.int64()),
            }
        )
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
    write_json(cluster_stats_path(staging), stats)
    return stats
