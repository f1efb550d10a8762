"""Identity-matching quality: pairwise, exact-cluster and B-cubed precision/recall/F1.

Everything comes from the contingency table of (predicted cluster, true
cluster) counts ``n_ij`` with row sums ``a_i`` (predicted cluster sizes) and
column sums ``b_j`` (true cluster sizes), never from enumerating pairs, so ten
million records cost one sort:

- pairwise: a pair of records is predicted linked when both share a predicted
  cluster; TP = Σ C(n_ij, 2), predicted pairs = Σ C(a_i, 2), true pairs =
  Σ C(b_j, 2). This is what Splink's and most papers' "pairwise F1" means.
- cluster: a predicted cluster counts when it equals a true cluster exactly
  (``n_ij == a_i == b_j``); precision over predicted clusters, recall over true
  clusters, singletons included.
- B-cubed (Bagga & Baldwin 1998): per record, precision = n_ij / a_i and recall
  = n_ij / b_j, averaged over records: Σ n_ij² / a_i / N and Σ n_ij² / b_j / N.

Conventions: with nothing predicted (no predicted pairs) precision is 1.0, with
nothing to find recall is 1.0; F1 is 0.0 when both are 0. A null predicted id
means the record was left unmatched (its own singleton); a null true id is an
error, since the truth must be complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from orchestrator.errors import JobctlError


class EvaluationError(JobctlError, ValueError):
    """The predicted and true ids cannot be compared (lengths differ, truth incomplete)."""


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float

    @staticmethod
    def of(hits: float, predicted: float, actual: float) -> Scores:
        precision = hits / predicted if predicted else 1.0
        recall = hits / actual if actual else 1.0
        total = precision + recall
        return Scores(precision, recall, 2 * precision * recall / total if total else 0.0)


@dataclass(frozen=True)
class IdentityScores:
    """All three families of scores plus the counts they come from."""

    pairwise: Scores
    cluster: Scores
    bcubed: Scores
    records: int
    predicted_clusters: int
    true_clusters: int
    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Ids: TypeAlias = pa.Array | pa.ChunkedArray | np.ndarray | Sequence[Any]


def _codes(values: Ids, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes for the ids (any hashable Arrow type), and a mask of nulls."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        try:
            values = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise EvaluationError(f"{what} ids are not one type of value: {exc}") from exc
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    indices = values.dictionary_encode().indices.fill_null(0)
    return indices.to_numpy(zero_copy_only=False).astype(np.int64), nulls


def _pairs(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def score_clusters(predicted: Ids, truth: Ids) -> IdentityScores:
    """Compare predicted cluster ids with true ones, record by record (same order)."""
    pred, pred_null = _codes(predicted, "predicted")
    true, true_null = _codes(truth, "true")
    if len(pred) != len(true):
        raise EvaluationError(f"{len(pred)} predicted ids but {len(true)} true ids")
    if true_null.any():
        first = int(np.flatnonzero(true_null)[0])
        raise EvaluationError(f"the truth has no cluster for record {first} (row {first + 1})")
    n = len(pred)
    if n == 0:
        perfect = Scores(1.0, 1.0, 1.0)
        return IdentityScores(perfect, perfect, perfect, 0, 0, 0, 0, 0, 0)
    if pred_null.any():  # unmatched records: each its own predicted cluster
        pred = pred.copy()
        pred[pred_null] = pred.max() + 1 + np.arange(int(pred_null.sum()))
        pred = np.unique(pred, return_inverse=True)[1].ravel()
    width = int(true.max()) + 1
    cells, n_ij = np.unique(pred * width + true, return_counts=True)
    row, col = cells // width, cells % width
    a = np.bincount(pred)  # predicted cluster sizes (every code is used)
    b = np.bincount(true)  # true cluster sizes (every code is used)
    tp = _pairs(n_ij)
    exact = int(((n_ij == a[row]) & (n_ij == b[col])).sum())
    squares = n_ij.astype(np.float64) ** 2
    precision = float((squares / a[row]).sum() / n)
    recall = float((squares / b[col]).sum() / n)
    total = precision + recall
    return IdentityScores(
        pairwise=Scores.of(tp, _pairs(a), _pairs(b)),
        cluster=Scores.of(exact, len(a), len(b)),
        bcubed=Scores(precision, recall, 2 * precision * recall / total if total else 0.0),
        records=n,
        predicted_clusters=len(a),
        true_clusters=len(b),
        predicted_pairs=_pairs(a),
        true_pairs=_pairs(b),
        true_positive_pairs=tp,
    )
