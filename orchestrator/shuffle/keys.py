"""Shuffle keys: normalization and one stable row hash for every process of an installation.

A row's partition is ``hash(key) % P`` and, when a partition is split further,
its sub-partition is ``(hash(key) // P) % S``: one 64-bit hash decides both, so
a split never moves a key out of its partition and every row of a key stays in
one reduce chunk.

The hash is polars ``DataFrame.hash_rows`` with the fixed seed
:data:`HASH_SEED` over the key columns after :func:`hash_ready` (integers
widened to int64, floats to float64, dictionaries decoded), so an ``int32`` id
in one Parquet file and an ``int64`` id in another land in the same partition.
polars documents the hash as stable within one polars version, not across
versions: :data:`HASH_ID` names the version, map outputs record it and the
reduce planner refuses to mix map outputs hashed by different versions
(hosts of one installation share one version).

Normalization (``normalize: [lower, trim]``) is applied to the key before it
is hashed and again by the reduce step that compares keys, so ``" Ann@X.org"``
and ``"ann@x.org"`` meet in one partition; the rows themselves are not changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import ProcessorError

#: The seed of the row hash; changing it changes every partition assignment.
HASH_SEED = 0x6A6F6263  # "jobc"


def _polars_version() -> str:
    """polars' version without importing it: the coordinator plans a reduce
    from this module and never hashes, and importing polars costs it 0.3 s
    before the first chunk can be leased."""
    from importlib import metadata

    try:
        return metadata.version("polars")
    except metadata.PackageNotFoundError:  # installed under another distribution name
        import polars as pl

        return str(pl.__version__)


#: Which hash produced a map output (recorded, compared before a reduce is planned).
HASH_ID = f"polars-{_polars_version()}-hash_rows-{HASH_SEED}"

#: Key normalizations, applied in the order given (string columns only).
NORMALIZERS: dict[str, str] = {
    "lower": "lower case (Unicode)",
    "upper": "upper case (Unicode)",
    "trim": "strip leading and trailing white space",
    "collapse_spaces": "runs of white space become one space",
    "digits": "keep only the digits 0-9 (phone numbers)",
    "alnum": "keep only letters and digits",
}


class ShuffleKeyError(ProcessorError):
    """A shuffle key names a column the rows do not have, or cannot be normalized."""


def _normalize_array(arr: pa.ChunkedArray, steps: Sequence[str], column: str) -> pa.ChunkedArray:
    if not steps:
        return arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        if pa.types.is_string_view(arr.type):
            arr = arr.cast(pa.large_string())
        else:
            raise ShuffleKeyError(
                f"key column {column!r} is {arr.type}; normalize applies to strings"
            )
    for step in steps:
        if step == "lower":
            arr = pc.utf8_lower(arr)
        elif step == "upper":
            arr = pc.utf8_upper(arr)
        elif step == "trim":
            arr = pc.utf8_trim_whitespace(arr)
        elif step == "collapse_spaces":
            arr = pc.replace_substring_regex(arr, r"\s+", " ")
        elif step == "digits":
            arr = pc.replace_substring_regex(arr, r"[^0-9]+", "")
        elif step == "alnum":
            arr = pc.replace_substring_regex(arr, r"[^\p{L}\p{N}]+", "")
        else:
            raise ShuffleKeyError(
                f"unknown normalization {step!r} (use one of {', '.join(NORMALIZERS)})"
            )
    return arr


def key_table(table: pa.Table, keys: Sequence[str], normalize: Sequence[str] = ()) -> pa.Table:
    """The key columns of ``table``, normalized: what is hashed and compared."""
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        have = ", ".join(table.column_names)
        raise ShuffleKeyError(
            f"key column(s) {', '.join(missing)} not in the rows (columns: {have})"
        )
    return pa.table(
        {k: _normalize_array(table.column(k), normalize, k) for k in keys},
    )


def hash_ready(keys: pa.Table) -> pa.Table:
    """Key columns in the types the hash sees, so equal values hash equally
    whatever width or encoding each input file chose."""
    columns = {}
    for name, col in zip(keys.column_names, keys.columns, strict=True):
        t = col.type
        if pa.types.is_dictionary(t):
            col, t = col.cast(t.value_type), t.value_type
        if pa.types.is_integer(t) and t != pa.uint64():
            col = col.cast(pa.int64())
        elif pa.types.is_floating(t):
            col = col.cast(pa.float64())
        elif pa.types.is_string(t) or pa.types.is_string_view(t):
            col = col.cast(pa.large_string())
        elif pa.types.is_binary(t):
            col = col.cast(pa.large_binary())
        columns[name] = col
    return pa.table(columns)


def row_hashes(keys: pa.Table) -> pa.Array:
    """The stable uint64 hash of each row of ``keys`` (see module docstring)."""
    if keys.num_rows == 0:
        return pa.array([], pa.uint64())
    import polars as pl  # here: see _polars_version

    frame = pl.from_arrow(hash_ready(keys), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    arr = frame.hash_rows(seed=HASH_SEED).to_arrow()
    return arr.cast(pa.uint64()) if arr.type != pa.uint64() else arr


def partition_ids(hashes: pa.Array, partitions: int) -> pa.Array:
    """``hash % partitions`` as uint32."""
    return pc.cast(_mod(hashes, partitions), pa.uint32())


def sub_partition_ids(hashes: pa.Array, partitions: int, subs: int) -> pa.Array:
    """``(hash // partitions) % subs``: the split of one partition into ``subs``."""
    return pc.cast(_mod(pc.divide(hashes, pa.scalar(partitions, pa.uint64())), subs), pa.uint32())


def _mod(values: pa.Array, n: int) -> pa.Array:
    """``values % n`` for uint64 (pyarrow has no modulo kernel: v - (v // n) * n)."""
    divisor = pa.scalar(n, pa.uint64())
    return pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))
