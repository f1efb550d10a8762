"""``mode: link``: which dataset a record comes from, and the record's key.

A link job names its datasets and the files each holds
(``datasets: {crm: data/crm/*.parquet, billing: data/billing.csv}``, globs
resolved against the spec's folder at validate); the job's input covers them
all. A record's dataset is that of the file its chunk reads (the first glob
that matches), and its key is ``<dataset>/<id>`` (``crm/17``): ids need to be
unique within their dataset only, not across datasets. That key is the id
every later phase sees (pairs, edges, clusters), and ``entity_id`` is the
smallest key of the record's cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import PermanentError
from orchestrator.matching.config import MatchConfig

#: the output column naming each record's dataset (link mode)
DATASET = "dataset"


def dataset_index(config: MatchConfig, path: str | None) -> int:
    """The dataset of the file ``path`` (PermanentError: no dataset holds it)."""
    index = config.dataset_of(path or "")
    if index is None:
        listed = ", ".join(f"{name}: {pattern}" for name, pattern in config.datasets)
        raise PermanentError(
            f"identity_match: input file {path} is in none of params.datasets ({listed})"
        )
    return index


def record_keys(config: MatchConfig, ids: pa.Array, dataset: int) -> pa.Array:
    """``<dataset>/<id>`` for each id of one dataset's chunk."""
    name = config.datasets[dataset][0]
    return pc.binary_join_element_wise(pa.scalar(name), pc.cast(ids, pa.string()), "/")


def unmatched_files(config: MatchConfig, paths: Sequence[str]) -> list[str]:
    """What is wrong with how ``paths`` (the job's input files) fall into the
    datasets: a file no dataset holds, a dataset that holds no file."""
    problems = []
    held = [0] * len(config.datasets)
    for path in paths:
        index = config.dataset_of(path)
        if index is None:
            problems.append(f"input file {path} is in none of params.datasets")
        else:
            held[index] += 1
    for (name, pattern), count in zip(config.datasets, held, strict=True):
        if not count:
            problems.append(f"dataset {name!r} ({pattern}) matches none of the job's input files")
    return problems
