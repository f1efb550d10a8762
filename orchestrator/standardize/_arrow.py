"""Arrow plumbing shared by the standardization steps.

Two helpers carry the performance promise of the package: :func:`map_distinct`
runs a per-value Python function (a library call Arrow has no kernel for) once
per *distinct* value and maps the results back with one ``take``, and
:func:`map_tokens` rewrites whitespace-separated tokens through a lookup table
without any Python loop. Everything else is small coercion so that each step
can accept what a reader hands it (plain, large or dictionary-encoded strings,
chunked arrays, numbers read from CSV).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize.errors import StandardizeError

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray


def as_array(values: ArrayLike) -> pa.Array:
    """One contiguous array: steps work on a chunk's column, which fits memory."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def as_string(values: ArrayLike, step: str) -> pa.Array:
    """The column as ``string``/``large_string``; numbers and dates are cast.

    A phone column read from CSV arrives as int64 and a dictionary-encoded column
    from Parquet: both are still text to standardize.
    """
    array = as_array(values)
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StandardizeError(
            f"step {step!r} needs a text column, got {array.type} (cannot cast: {exc})"
        ) from exc


def map_distinct(
    values: ArrayLike,
    func: Callable[[str], Any],
    out_type: pa.DataType,
) -> pa.Array:
    """Apply ``func`` to each distinct non-null value and spread the results.

    ``func`` may return None for "no value" (an unparsable phone, say). The cost
    is one hash pass plus one Python call per distinct value, which is what makes
    per-value libraries (phonenumbers, unidecode, jellyfish) affordable on
    millions of rows whose values repeat.
    """
    array = as_array(values)
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    dictionary = array.dictionary.to_pylist()
    mapped = pa.array([None if v is None else func(v) for v in dictionary], type=out_type)
    return mapped.take(array.indices)


def map_values(values: pa.Array, table: Mapping[str, str]) -> pa.Array:
    """Replace values found in ``table`` by their mapping; keep the others."""
    if not table:
        return values
    keys = pa.array(list(table.keys()), type=values.type)
    targets = pa.array(list(table.values()), type=values.type)
    where = pc.index_in(values, value_set=keys)
    return pc.coalesce(targets.take(where), values)


def map_tokens(
    values: pa.Array, table: Mapping[str, str], drop: frozenset[str] = frozenset()
) -> pa.Array:
    """Split on whitespace, map each token through ``table``, drop ``drop``, rejoin.

    Vectorized end to end: split into a list array, flatten, ``index_in`` the
    lookup, drop empty and unwanted tokens, rebuild the lists from their lengths
    and join with one space (so runs of whitespace collapse too).
    """
    lists = pc.utf8_split_whitespace(values)
    flat = pc.list_flatten(lists)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    mapped = map_values(flat, table)
    unwanted = pa.array(sorted(drop | {""}), type=flat.type)
    keep = pc.invert(pc.is_in(mapped, value_set=unwanted)).to_numpy(zero_copy_only=False)
    owners = np.repeat(np.arange(len(lengths)), lengths)
    kept_lengths = np.bincount(owners[keep], minlength=len(lengths))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(kept_lengths, out=offsets[1:])
    kept = mapped.filter(pa.array(keep))
    rebuilt = pa.ListArray.from_arrays(pa.array(offsets), kept, mask=lists.is_null())
    return pc.binary_join(rebuilt, " ")


def empty_to_null(values: pa.Array) -> pa.Array:
    """An empty string after cleaning means the value is missing."""
    return pc.if_else(pc.equal(pc.utf8_length(values), 0), pa.scalar(None, values.type), values)
