"""Phase ``entities`` (one chunk per input chunk): the input rows with their entity.

Each input row keeps every column it had and gains ``entity_id`` (the smallest
id of its cluster; its own id when it matched nothing) and ``cluster_size``.
In link mode it also gains ``dataset`` (its dataset's name), and ids are
record keys ``<dataset>/<id>`` (``datasets.py``), so ``entity_id`` is one
too. The datasets then need the same columns: one output has one schema.
The clusters file holds only linked records, so memory is bounded by those,
not by the dataset's rows.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.matching.config import MatchConfig
from orchestrator.processors.identity.datasets import DATASET, dataset_index, record_keys
from orchestrator.processors.identity.files import clusters_path, read_arrow


@lru_cache(maxsize=2)
def _clusters(path: str, stamp: float) -> pa.Table:
    return read_arrow(Path(path)).combine_chunks()


def entities(table: pa.Table, config: MatchConfig, staging: str, source: str | None) -> pa.Table:
    """``table`` (a chunk of the input file ``source``) with each row's entity."""
    path = clusters_path(staging)
    clusters = _clusters(str(path), path.stat().st_mtime)
    ids = table[config.id].combine_chunks()
    if config.linking:
        dataset = dataset_index(config, source)
        ids = record_keys(config, ids, dataset)
        name = pa.array([config.datasets[dataset][0]] * len(ids), pa.string())
        table = table.append_column(DATASET, name)
    if clusters.num_rows:
        where = pc.index_in(ids, value_set=clusters["id"].cast(ids.type))
        entity = pc.coalesce(clusters["entity_id"].cast(ids.type).take(where), ids)
        size = pc.fill_null(clusters["cluster_size"].take(where), 1)
    else:
        entity, size = ids, pa.array([1] * len(ids), pa.int64())
    return table.append_column("entity_id", entity).append_column(
        "cluster_size", pc.cast(size, pa.int64())
    )
