"""Comparison levels: how much two values of one field agree, as a small integer.

Levels follow one convention for every kind: 0 = null (either side missing: no
evidence), 1 = disagree (none of the thresholds met), then one level per
threshold from loosest to tightest, and for fuzzy kinds a top level for exact
equality. Higher is more agreement, so the pattern code of a pair and its match
weight read the same way whatever the field.

String similarity is ``rapidfuzz.process.cpdist`` (pairwise, C++, one call for
all pairs of a block); exact, date and numeric distances are Arrow/numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import distance, fuzz, process

from orchestrator.errors import JobctlError

NULL_LEVEL = 0
ELSE_LEVEL = 1


class ComparisonError(JobctlError, ValueError):
    """An unknown comparison kind or thresholds that do not fit it."""


# kind -> (scorer, "similarity" or "distance", default thresholds loosest first)
_FUZZY: dict[str, tuple[Any, str, tuple[float, ...]]] = {
    "jaro_winkler": (distance.JaroWinkler.normalized_similarity, "similarity", (0.88, 0.94)),
    "jaro": (distance.Jaro.normalized_similarity, "similarity", (0.88, 0.94)),
    "levenshtein": (distance.Levenshtein.distance, "distance", (2, 1)),
    "damerau_levenshtein": (distance.DamerauLevenshtein.distance, "distance", (2, 1)),
    "token_set": (fuzz.token_set_ratio, "similarity", (80.0, 90.0)),
}
_NUMERIC_DEFAULTS: dict[str, tuple[float, ...]] = {
    "date": (365.0, 31.0, 1.0),
    "numeric": (10.0, 1.0),
}
KINDS = ("exact", *_FUZZY, *_NUMERIC_DEFAULTS)


@dataclass(frozen=True)
class Comparison:
    """One field's comparison: its kind and thresholds (loosest first).

    For similarities a level is met when ``score >= threshold``; for distances
    (edit distances, days between dates, numeric difference) when
    ``distance <= threshold``.
    """

    kind: str
    thresholds: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ComparisonError(f"unknown comparison {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind == "exact" and self.thresholds:
            raise ComparisonError("comparison 'exact' takes no thresholds")
        if not self.thresholds and self.kind != "exact":
            object.__setattr__(self, "thresholds", self.default_thresholds(self.kind))
        ordered = sorted(self.thresholds, reverse=self.measures_distance)
        if list(self.thresholds) != ordered or len(set(self.thresholds)) != len(self.thresholds):
            raise ComparisonError(
                f"comparison {self.kind!r}: thresholds must be distinct and go from loosest "
                f"to tightest ({'falling' if self.measures_distance else 'rising'}), "
                f"got {list(self.thresholds)}"
            )

    @staticmethod
    def default_thresholds(kind: str) -> tuple[float, ...]:
        if kind in _FUZZY:
            return _FUZZY[kind][2]
        return _NUMERIC_DEFAULTS.get(kind, ())

    @property
    def measures_distance(self) -> bool:
        return self.kind in _NUMERIC_DEFAULTS or (
            self.kind in _FUZZY and _FUZZY[self.kind][1] == "distance"
        )

    @property
    def level_count(self) -> int:
        """null, else, one per threshold, exact."""
        return 3 + len(self.thresholds)

    def level_names(self) -> list[str]:
        word = "<=" if self.measures_distance else ">="
        return ["null", "else", *(f"{self.kind} {word} {t:g}" for t in self.thresholds), "exact"]

    def levels(
        self, left: pa.Array | pa.ChunkedArray, right: pa.Array | pa.ChunkedArray
    ) -> np.ndarray:
        """The level (uint8) of each pair ``left[i]``, ``right[i]``."""
        left, right = _contiguous(left), _contiguous(right)
        if len(left) != len(right):
            raise ComparisonError(f"{len(left)} left values but {len(right)} right values")
        null = (left.is_null().to_numpy(zero_copy_only=False)) | (
            right.is_null().to_numpy(zero_copy_only=False)
        )
        equal = pc.fill_null(pc.equal(left, right), False).to_numpy(zero_copy_only=False)
        score = self._scores(left, right, null) if self.thresholds else None
        return self._levels_from(score, equal, null)

    def _levels_from(
        self, score: np.ndarray | None, equal: np.ndarray, null: np.ndarray
    ) -> np.ndarray:
        """Levels from each pair's score (None: no thresholds), equality and nulls."""
        out = np.full(len(equal), ELSE_LEVEL, dtype=np.uint8)
        if score is not None:
            for index, threshold in enumerate(self.thresholds):
                met = score <= threshold if self.measures_distance else score >= threshold
                out[met] = ELSE_LEVEL + 1 + index
        out[equal] = self.level_count - 1
        out[null] = NULL_LEVEL
        return out

    def levels_of_pairs(
        self, values: pa.Array | pa.ChunkedArray, left: np.ndarray, right: np.ndarray
    ) -> np.ndarray:
        """The level of each pair ``values[left[i]]``, ``values[right[i]]``.

        The same as ``levels(values.take(left), values.take(right))`` without
        copying a string per pair: the column is dictionary-encoded once, pairs
        compare codes, and only distinct unequal code pairs are scored.
        """
        values = _contiguous(values)
        if self.kind in _NUMERIC_DEFAULTS:
            return self.levels(values.take(pa.array(left)), values.take(pa.array(right)))
        encoded = values.dictionary_encode()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        a, b = codes[np.asarray(left, np.int64)], codes[np.asarray(right, np.int64)]
        null = (a < 0) | (b < 0)
        equal = (a == b) & ~null
        score = None
        if self.thresholds:
            scored = ~null & ~equal
            score = np.full(len(a), np.inf if self.measures_distance else -np.inf)
            score[scored] = _code_pair_scores(
                pc.cast(encoded.dictionary, pa.string()),
                a[scored],
                b[scored],
                _FUZZY[self.kind][0],
            )
        return self._levels_from(score, equal, null)

    def _scores(self, left: pa.Array, right: pa.Array, null: np.ndarray) -> np.ndarray:
        if self.kind in _FUZZY:
            return _distinct_pair_scores(left, right, _FUZZY[self.kind][0])
        if self.kind == "date":
            a = pc.cast(pc.cast(left, pa.date32()), pa.int32())
            b = pc.cast(pc.cast(right, pa.date32()), pa.int32())
        else:
            a, b = pc.cast(left, pa.float64()), pc.cast(right, pa.float64())
        diff = pc.abs(pc.subtract(pc.cast(a, pa.float64()), pc.cast(b, pa.float64())))
        return np.where(null, np.inf, pc.fill_null(diff, np.inf).to_numpy(zero_copy_only=False))


def _distinct_pair_scores(left: pa.Array, right: pa.Array, scorer: Any) -> np.ndarray:
    """``scorer`` of each pair, computed once per distinct (left, right) value pair.

    Blocked pairs repeat value pairs a lot (first names, cities), so both sides
    are encoded against one dictionary, the distinct code pairs scored in one
    ``cpdist`` call and the scores spread back.
    """
    n = len(left)
    both = pa.concat_arrays(
        [
            pc.fill_null(pc.cast(left, pa.string()), ""),
            pc.fill_null(pc.cast(right, pa.string()), ""),
        ]
    ).dictionary_encode()
    codes = both.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    width = max(len(both.dictionary), 1)
    # a hash table, not a sort: Arrow's dictionary encoding of the pair codes
    pairs = pa.array(codes[:n] * width + codes[n:]).dictionary_encode()
    distinct = pairs.dictionary.to_numpy()
    inverse = pairs.indices.to_numpy(zero_copy_only=False)
    a = both.dictionary.take(pa.array(distinct // width)).to_pylist()
    b = both.dictionary.take(pa.array(distinct % width)).to_pylist()
    scores = np.asarray(process.cpdist(a, b, scorer=scorer, workers=1), dtype=np.float64)
    return scores[inverse]


def _code_pair_scores(
    dictionary: pa.Array, a: np.ndarray, b: np.ndarray, scorer: Any
) -> np.ndarray:
    """``scorer`` of ``dictionary[a[i]]`` vs ``dictionary[b[i]]``, once per distinct code pair."""
    if not len(a):
        return np.zeros(0, np.float64)
    width = max(len(dictionary), 1)
    pairs = pa.array(a * width + b).dictionary_encode()  # a hash table, not a sort
    distinct = pairs.dictionary.to_numpy()
    left = dictionary.take(pa.array(distinct // width)).to_pylist()
    right = dictionary.take(pa.array(distinct % width)).to_pylist()
    scores = np.asarray(process.cpdist(left, right, scorer=scorer, workers=1), dtype=np.float64)
    return scores[pairs.indices.to_numpy(zero_copy_only=False)]


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)
    return values


def compare_fields(
    comparisons: Sequence[Comparison],
    left: Sequence[pa.Array | pa.ChunkedArray],
    right: Sequence[pa.Array | pa.ChunkedArray],
) -> np.ndarray:
    """Levels of every field for every pair, shape (pairs, fields) (see also
    :func:`compare_pairs`, the same by row indexes without copying values)."""
    columns = [c.levels(a, b) for c, a, b in zip(comparisons, left, right, strict=True)]
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0), np.uint8)


def compare_pairs(
    comparisons: Sequence[Comparison],
    columns: Sequence[pa.Array | pa.ChunkedArray],
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray:
    """Levels of every field for the row pairs (``left[i]``, ``right[i]``) of ``columns``."""
    levels = [c.levels_of_pairs(v, left, right) for c, v in zip(comparisons, columns, strict=True)]
    return np.stack(levels, axis=1) if levels else np.zeros((len(left), 0), np.uint8)
