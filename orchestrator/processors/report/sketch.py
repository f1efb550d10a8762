"""One column's profile as a mergeable summary: built per chunk, merged in a final phase.

Every figure is either exact and additive (rows, nulls, min, max, sums,
string lengths) or kept in an Apache DataSketches sketch that merges across
chunks with known error bounds:

- distinct values: the exact set of 64-bit value hashes while it holds at
  most :data:`EXACT_DISTINCT` values (exact, as DuckDB's ``count(DISTINCT)``),
  and an HLL sketch (lg_k :data:`HLL_LG_K`, ~1.6% relative error) beyond;
- quantiles and histogram bins of numbers: a KLL sketch (k :data:`KLL_K`,
  exact while it holds every value, ~1.3% normalized rank error beyond);
- top values and string patterns: frequent-items sketches (exact counts while
  fewer than ~0.75 * 2**:data:`FREQ_LG` distinct items were seen; bounds
  beyond), fed a chunk's :data:`TOP_FEED` most frequent values.

Serialized as JSON with the sketches' own byte formats in base64: data, never
pickled objects.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.shuffle.keys import key_table, row_hashes

EXACT_DISTINCT = 4096
HLL_LG_K = 12
KLL_K = 200
FREQ_LG = 10
#: Most frequent values of a chunk fed to its top-values sketch (a column of
#: unique ids would otherwise cost one sketch update per row); the count of
#: the first value left out bounds how much any value's count may be short.
TOP_FEED = 4096
#: Characters of a value's pattern kept ("Aa-99" for "Ab-12").
PATTERN_CHARS = 24

#: Report only items certainly above the sketch's error: in a column of unique
#: ids no value is "frequent", rather than every one an upper-bound guess.
_FREQ = ds.frequent_items_error_type.NO_FALSE_POSITIVES


def kind_of(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    return "other"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


@dataclass
class ColumnSummary:
    """What is known of one column so far (a chunk's, or several merged)."""

    name: str
    type: str
    kind: str
    rows: int = 0
    nulls: int = 0
    exact: set[int] | None = field(default_factory=set)
    hll: Any = field(default_factory=lambda: ds.hll_sketch(HLL_LG_K))
    top: Any = field(default_factory=lambda: ds.frequent_strings_sketch(FREQ_LG))
    #: most a value's count may be short by: what chunks left out of ``top``
    top_slack: int = 0
    min: Any = None
    max: Any = None
    total: float | int = 0
    kll: Any = None
    len_min: int | None = None
    len_max: int | None = None
    len_total: int = 0
    patterns: Any = None

    # -- building from a chunk ---------------------------------------------

    @classmethod
    def of(cls, name: str, column: pa.ChunkedArray) -> ColumnSummary:
        s = cls(name=name, type=str(column.type), kind=kind_of(column.type))
        s.rows = len(column)
        s.nulls = column.null_count
        values = column.drop_null()
        if len(values) == 0:
            return s
        hashes = pc.unique(row_hashes(key_table(pa.table({"v": values}), ["v"])))
        for h in hashes.to_pylist():
            s.hll.update(h)
        if len(hashes) <= EXACT_DISTINCT:
            s.exact = set(hashes.to_pylist())
        else:
            s.exact = None
        counts = pc.value_counts(values)
        if len(counts) > TOP_FEED:  # feed the most frequent; the rest bound the undercount
            order = pc.array_sort_indices(counts.field("counts"), order="descending")
            s.top_slack = int(counts.field("counts")[order[TOP_FEED].as_py()].as_py())
            counts = counts.take(order[:TOP_FEED])
        for value, n in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        ):
            s.top.update(_label(value), n)
        if s.kind in ("number", "temporal", "string", "bool"):
            low_high = pc.min_max(values)
            s.min, s.max = _plain(low_high["min"].as_py()), _plain(low_high["max"].as_py())
        if s.kind == "number":
            floats = np.array(values.cast(pa.float64()).to_numpy(), dtype=np.float64)  # writable
            total = pc.sum(values).as_py()
            s.total = int(total) if pa.types.is_integer(values.type) else float(total)
            s.kll = ds.kll_doubles_sketch(KLL_K)
            s.kll.update(floats)
        if s.kind == "string":
            lengths = pc.utf8_length(values)
            mm = pc.min_max(lengths)
            s.len_min, s.len_max = mm["min"].as_py(), mm["max"].as_py()
            s.len_total = int(pc.sum(lengths).as_py())
            s.patterns = ds.frequent_strings_sketch(FREQ_LG)
            shapes = pc.value_counts(pattern_of(values))
            for value, n in zip(
                shapes.field("values").to_pylist(),
                shapes.field("counts").to_pylist(),
                strict=True,
            ):
                s.patterns.update(value, n)
        return s

    # -- merging -------------------------------------------------------------

    def merge(self, other: ColumnSummary) -> None:
        if other.type != self.type:
            raise ValueError(
                f"column {self.name}: {self.type} in one chunk, {other.type} in another"
            )
        self.rows += other.rows
        self.nulls += other.nulls
        if self.exact is not None and other.exact is not None:
            self.exact |= other.exact
            if len(self.exact) > EXACT_DISTINCT:
                self.exact = None
        else:
            self.exact = None
        union = ds.hll_union(HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        self.hll = union.get_result()
        self.top.merge(other.top)
        self.top_slack += other.top_slack
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
            self.max = other.max if self.max is None else max(self.max, other.max)
        self.total += other.total
        if other.kll is not None:
            if self.kll is None:
                self.kll = ds.kll_doubles_sketch(KLL_K)
            self.kll.merge(other.kll)
        if other.len_min is not None and other.len_max is not None:
            low, high = self.len_min, self.len_max
            self.len_min = other.len_min if low is None else min(low, other.len_min)
            self.len_max = other.len_max if high is None else max(high, other.len_max)
            self.len_total += other.len_total
        if other.patterns is not None:
            if self.patterns is None:
                self.patterns = ds.frequent_strings_sketch(FREQ_LG)
            self.patterns.merge(other.patterns)

    # -- what is known ---------------------------------------------------------

    @property
    def values(self) -> int:
        return self.rows - self.nulls

    def distinct(self) -> tuple[int, bool]:
        """(distinct non-null values, exact?)."""
        if self.exact is not None:
            return len(self.exact), True
        return round(self.hll.get_estimate()), False

    def top_values(self, n: int = 10) -> list[tuple[str, int, bool]]:
        return [(v, c, exact and not self.top_slack) for v, c, exact in _top(self.top, n)]

    def top_patterns(self, n: int = 8) -> list[tuple[str, int, bool]]:
        return _top(self.patterns, n) if self.patterns is not None else []

    def quantiles(self, ranks: tuple[float, ...]) -> list[float] | None:
        if self.kll is None or self.kll.is_empty():
            return None
        return [float(self.kll.get_quantile(r)) for r in ranks]

    def histogram(self, bins: int = 20) -> list[tuple[float, float, int]] | None:
        """``bins`` equal-width bins over [min, max]: (low, high, rows), from the
        KLL sketch (exact while it holds every value)."""
        if self.kll is None or self.kll.is_empty() or self.min is None:
            return None
        low, high = float(self.min), float(self.max)
        if high <= low:
            return [(low, high, self.values)]
        width = (high - low) / bins
        edges = [low + width * i for i in range(1, bins)]
        masses = self.kll.get_pmf(edges, False)  # (edge_i-1, edge_i]... ; last to +inf
        counts = [round(m * self.kll.n) for m in masses]
        return [(low + width * i, low + width * (i + 1), counts[i]) for i in range(bins)]

    @property
    def quantiles_exact(self) -> bool:
        return self.kll is not None and not self.kll.is_estimation_mode()

    # -- serialized form ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "rows": self.rows,
            "nulls": self.nulls,
            "exact": sorted(self.exact) if self.exact is not None else None,
            "hll": _b64(self.hll.serialize_compact()),
            "top": _b64(self.top.serialize()),
            "top_slack": self.top_slack,
            "min": self.min,
            "max": self.max,
            "total": self.total,
            "kll": _b64(self.kll.serialize()) if self.kll is not None else None,
            "len": [self.len_min, self.len_max, self.len_total],
            "patterns": _b64(self.patterns.serialize()) if self.patterns is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSummary:
        s = cls(name=d["name"], type=d["type"], kind=d["kind"], rows=d["rows"], nulls=d["nulls"])
        s.exact = set(d["exact"]) if d["exact"] is not None else None
        s.hll = ds.hll_sketch.deserialize(_unb64(d["hll"]))
        s.top = ds.frequent_strings_sketch.deserialize(_unb64(d["top"]))
        s.top_slack = int(d["top_slack"])
        s.min, s.max, s.total = d["min"], d["max"], d["total"]
        if d["kll"] is not None:
            s.kll = ds.kll_doubles_sketch.deserialize(_unb64(d["kll"]))
        s.len_min, s.len_max, s.len_total = d["len"]
        if d["patterns"] is not None:
            s.patterns = ds.frequent_strings_sketch.deserialize(_unb64(d["patterns"]))
        return s


def pattern_of(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each string's shape, of its first :data:`PATTERN_CHARS` characters:
    letters become ``A``/``a`` (upper/lower), digits ``9``, white space a
    space, the rest is kept ("Ab-12" -> "Aa-99"). ASCII text is mapped byte by
    byte through a table (a regex pass per class costs ~100x more); other text
    goes through Unicode-aware regexes."""
    shape = pc.utf8_slice_codeunits(values, 0, PATTERN_CHARS)
    if not (pa.types.is_string(shape.type) or pa.types.is_large_string(shape.type)):
        shape = shape.cast(pa.large_string())
    pieces = [
        _ascii_shape(piece) if pc.all(pc.string_is_ascii(piece)).as_py() else _unicode_shape(piece)
        for piece in shape.chunks
    ]
    return pa.chunked_array(pieces, type=shape.type)


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint8)
    table[ord("A") : ord("Z") + 1] = ord("A")
    table[ord("a") : ord("z") + 1] = ord("a")
    table[ord("0") : ord("9") + 1] = ord("9")
    for space in b" \t\n\r\x0b\x0c":
        table[space] = ord(" ")
    return table


_SHAPE_BYTES = _byte_table()


def _ascii_shape(piece: pa.Array) -> pa.Array:
    validity, offsets, data = piece.buffers()
    if data is None or len(piece) == 0:
        return piece
    mapped = pa.py_buffer(_SHAPE_BYTES[np.frombuffer(data, dtype=np.uint8)].tobytes())
    cls = pa.LargeStringArray if pa.types.is_large_string(piece.type) else pa.StringArray
    return cls.from_buffers(len(piece), offsets, mapped, validity, piece.null_count, piece.offset)


def _unicode_shape(piece: pa.Array) -> pa.Array:
    shape = pc.replace_substring_regex(piece, r"\p{Lu}", "A")
    shape = pc.replace_substring_regex(shape, r"\p{Ll}|\p{Lo}|\p{Lt}|\p{Lm}", "a")
    shape = pc.replace_substring_regex(shape, r"\p{Nd}", "9")
    return pc.replace_substring_regex(shape, r"\s", " ")


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_plain(value))


def _plain(value: Any) -> Any:
    """A JSON-able form: dates and times as ISO text, decimals as float."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _top(sketch: Any, n: int) -> list[tuple[str, int, bool]]:
    """The ``n`` most frequent items: (value, count, exact?)."""
    items = sketch.get_frequent_items(_FREQ)
    items.sort(key=lambda item: (-item[1], item[0]))
    return [(value, int(est), lb == ub) for value, est, lb, ub in items[:n]]
