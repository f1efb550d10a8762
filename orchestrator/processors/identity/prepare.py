"""Phase ``prepare`` (map, one chunk per input chunk): standardize, derive keys, route.

Each record is standardized field by field (the ``standardize`` steps), every
blocking rule's key is derived from the standardized values, and the record
is emitted once per rule whose key is not null, with ``_block`` =
``"<rule>|<key>"``: the shuffle hash-partitions by ``_block``, so every record
of one block meets in one compare chunk. Each emitted row also carries every
rule's key (``_k0``, ``_k1``, ...), so the compare phase can tell that an
earlier rule already produced a pair without any global pair set. Exactly one
row per record is ``_primary`` (the first rule that blocks it, or a row of its
own when none does): term-frequency counts and the record count use those.
In link mode (``datasets.py``) the id column holds each record's key
``<dataset>/<id>`` and ``_dataset`` its dataset's index, so the compare phase
pairs records of different datasets only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import PermanentError, ProcessorError
from orchestrator.matching.config import MatchConfig, Term
from orchestrator.processors.identity.datasets import DATASET, dataset_index, record_keys
from orchestrator.processors.identity.files import (
    BLOCK,
    DATASET_INDEX,
    PRIMARY,
    RULE,
    UNBLOCKED,
    key_column,
)
from orchestrator.standardize import StandardizeError, apply_step, apply_steps

_SEP = "\x1f"


def standardized(table: pa.Table, config: MatchConfig) -> dict[str, pa.Array]:
    """Each declared field's standardized column (ProcessorError: a column is missing)."""
    missing = [n for n in (config.id, *config.names) if n not in table.column_names]
    if missing:
        raise ProcessorError(
            f"identity_match: input has no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(table.column_names)})"
        )
    out: dict[str, pa.Array] = {}
    for f in config.fields:
        try:
            out[f.name] = apply_steps(table[f.name], list(f.steps))
        except StandardizeError as exc:
            raise ProcessorError(f"identity_match: field {f.name!r}: {exc}") from None
    return out


def _term_values(term: Term, clean: dict[str, pa.Array]) -> pa.Array:
    values = clean[term.field]
    if term.derive is None:
        return pc.cast(values, pa.string())
    if term.derive.startswith("prefix"):
        return apply_step("prefix", values, {"length": int(term.derive[len("prefix") :])})
    return pc.cast(apply_step(term.derive, values), pa.string())


def rule_keys(rules: Sequence[Sequence[Term]], clean: dict[str, pa.Array]) -> list[pa.Array]:
    """Each rule's key per record (null when any of its terms is null)."""
    keys = []
    for rule in rules:
        parts: list[pa.Array] = []
        for term in rule:
            value = _term_values(term, clean)
            if term.swapped and parts:
                before = parts[-1]
                less = pc.fill_null(pc.less_equal(before, value), True)
                parts[-1] = pc.if_else(less, before, value)
                value = pc.if_else(less, value, before)
            parts.append(value)
        key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _SEP)
        keys.append(pc.if_else(pc.equal(key, ""), pa.scalar(None, pa.string()), key))
    return keys


def prepare(table: pa.Table, config: MatchConfig, path: str | None = None) -> pa.Table:
    """The rows this input chunk (of the file ``path``) sends to the shuffle
    (see the module docstring)."""
    dataset = dataset_index(config, path) if config.linking else None
    clean = standardized(table, config)
    ids = table[config.id].combine_chunks()
    if ids.null_count:
        row = int(np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False))[0])
        raise ProcessorError(f"identity_match: id column {config.id!r} is null in row {row + 1}")
    if pc.count_distinct(ids).as_py() != len(ids):  # within this chunk only (README)
        counts = pc.value_counts(ids)
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))[0]
        rows = np.flatnonzero(pc.equal(ids, repeated).to_numpy(zero_copy_only=False))[:2] + 1
        raise ProcessorError(
            f"identity_match: id {repeated.as_py()!r} of column {config.id!r} is in rows "
            f"{rows[0]} and {rows[1]} of this chunk: ids must be unique"
        )
    keys = rule_keys(config.rules, clean)
    n = table.num_rows
    has_key = np.stack([k.is_valid().to_numpy(zero_copy_only=False) for k in keys])
    first = np.where(has_key.any(axis=0), has_key.argmax(axis=0), UNBLOCKED)
    origin: dict[str, pa.Array] = {}
    if dataset is not None:
        if DATASET in table.column_names:
            raise PermanentError(
                f"identity_match: mode link adds a column {DATASET!r} and the input "
                "already has one: rename it in the input"
            )
        ids = record_keys(config, ids, dataset)
        origin[DATASET_INDEX] = pa.array(np.full(n, dataset, np.int16))
    base = {config.id: ids, **origin, **clean, **{key_column(i): k for i, k in enumerate(keys)}}
    pieces = []
    for index, key in enumerate(keys):
        rows = pa.array(np.flatnonzero(has_key[index]))
        block = pc.binary_join_element_wise(pa.scalar(str(index)), key.take(rows), "|")
        pieces.append(_rows(base, rows, block, index, first[rows.to_numpy()] == index))
    none = np.flatnonzero(first == UNBLOCKED)
    if len(none):  # counted (records, term frequencies), never paired
        rows = pa.array(none)
        block = pc.binary_join_element_wise(
            pa.scalar("-"), pc.cast(ids.take(rows), pa.string()), "|"
        )
        pieces.append(_rows(base, rows, block, UNBLOCKED, np.ones(len(none), bool)))
    if not pieces or n == 0:
        return _rows(
            base, pa.array([], pa.int64()), pa.array([], pa.string()), 0, np.zeros(0, bool)
        )
    return pa.concat_tables(pieces)


def _rows(
    base: dict[str, pa.Array], rows: pa.Array, block: pa.Array, rule: int, primary: np.ndarray
) -> pa.Table:
    columns = {name: values.take(rows) for name, values in base.items()}
    return pa.table(
        {
            BLOCK: block,
            RULE: pa.array(np.full(len(rows), rule, np.int8)),
            PRIMARY: pa.array(primary, pa.bool_()),
            **columns,
        }
    )
