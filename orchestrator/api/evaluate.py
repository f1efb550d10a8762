"""``jobctl eval identity``: score a clustered output against the true entities.

The output is what an identity job (or any other matcher) wrote: a folder of
Parquet or CSV parts, or one file, with a cluster column (``entity_id`` by
default) and, when the truth is a separate file, a record id column. The truth
is either a column of the same rows (``--truth cluster_id``) or a file mapping
record id to true entity. Only the columns needed are read; the scores come
from :func:`orchestrator.evaluation.identity.score_clusters`.

A record of the truth file that the output lacks counts as left unmatched (its
own predicted cluster), so a matcher cannot raise its precision by dropping
records; how many there were is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestrator.errors import JobctlError
from orchestrator.evaluation.identity import EvaluationError, IdentityScores, score_clusters

_SUFFIXES = (".parquet", ".csv")


class EvaluateInputError(JobctlError):
    """The output or the truth cannot be read or lacks what the evaluation needs."""


@dataclass(frozen=True)
class IdentityEvaluation:
    """The scores and where they come from."""

    output: str
    cluster_column: str
    truth: str
    truth_column: str
    id_column: str | None
    missing_from_output: int
    scores: IdentityScores

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "cluster_column": self.cluster_column,
            "truth": self.truth,
            "truth_column": self.truth_column,
            "id_column": self.id_column,
            "missing_from_output": self.missing_from_output,
            **self.scores.to_dict(),
        }


def _parts(path: Path) -> list[Path]:
    """The data files of ``path``: itself, or the Parquet/CSV parts directly in the
    folder (names starting with ``_`` or ``.`` such as ``_SUCCESS`` skipped, and
    subfolders, such as an identity job's ``edges/``)."""
    if not path.exists():
        raise EvaluateInputError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    found = sorted(
        part
        for part in path.iterdir()
        if part.is_file()
        and part.suffix.lower() in _SUFFIXES
        and not part.name.startswith(("_", "."))
    )
    if not found:
        raise EvaluateInputError(f"{path}: no .parquet or .csv parts in this folder")
    return found


def _columns_of(part: Path) -> list[str]:
    if part.suffix.lower() == ".csv":
        with pacsv.open_csv(part) as reader:
            return list(reader.schema.names)
    return list(pq.read_schema(part).names)


def _read_part(part: Path, columns: list[str]) -> pa.Table:
    try:
        names = _columns_of(part)
        missing = [column for column in columns if column not in names]
        if missing:
            raise EvaluateInputError(
                f"{part}: no column {', '.join(repr(c) for c in missing)}"
                f" (it has: {', '.join(names)})"
            )
        if part.suffix.lower() == ".csv":
            options = pacsv.ConvertOptions(include_columns=columns)
            return pacsv.read_csv(part, convert_options=options)
        return pq.read_table(part, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise EvaluateInputError(f"{part}: cannot be read: {exc}") from exc


def _read(path: Path, columns: list[str]) -> pa.Table:
    tables = [_read_part(part, columns) for part in _parts(path)]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise EvaluateInputError(f"{path}: the parts' columns differ in type: {exc}") from exc


def _check_unique(table: pa.Table, column: str, where: Path) -> None:
    ids = table.column(column)
    if ids.null_count:
        raise EvaluateInputError(f"{where}: the id column {column!r} has empty values")
    if len(ids.unique()) != len(ids):
        counts = ids.value_counts()
        repeated = next(item["values"] for item in counts.to_pylist() if item["counts"] > 1)
        raise EvaluateInputError(f"{where}: id {repeated!r} appears more than once in {column!r}")


def _truth_file_column(path: Path, id_column: str, truth_column: str | None) -> str:
    if truth_column:
        return truth_column
    others = [name for name in _columns_of(_parts(path)[0]) if name != id_column]
    if len(others) != 1:
        raise EvaluateInputError(
            f"{path}: say which column holds the true entity (--truth-column);"
            f" it has: {', '.join(others) or 'nothing besides the id'}"
        )
    return others[0]


def evaluate_identity(
    output: Path,
    truth: str,
    *,
    id_column: str | None = None,
    cluster_column: str = "entity_id",
    truth_column: str | None = None,
) -> IdentityEvaluation:
    """Score the clusters in ``output`` against ``truth``: a column of the same
    rows, or (when ``truth`` names an existing file or folder) a file mapping
    ``id_column`` to the true entity in ``truth_column``."""
    truth_path = Path(truth)
    if not truth_path.exists():  # a column of the output's own rows
        table = _read(output, [cluster_column, truth])
        if table.num_rows == 0:
            raise EvaluateInputError(f"{output}: no records")
        scores = _score(table.column(cluster_column), table.column(truth))
        return IdentityEvaluation(str(output), cluster_column, truth, truth, id_column, 0, scores)
    if not id_column:
        raise EvaluateInputError(
            f"--truth {truth} is a file: name the record id column both share with --id"
        )
    column = _truth_file_column(truth_path, id_column, truth_column)
    predicted = _read(output, [id_column, cluster_column])
    if predicted.num_rows == 0:
        raise EvaluateInputError(f"{output}: no records")
    actual = _read(truth_path, [id_column, column])
    _check_unique(predicted, id_column, output)
    _check_unique(actual, id_column, truth_path)
    try:
        predicted = predicted.cast(
            pa.schema([(id_column, actual.schema.field(id_column).type), predicted.schema[1]])
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EvaluateInputError(
            f"the id column {id_column!r} has different types in {output} and {truth_path}: {exc}"
        ) from exc
    joined = actual.rename_columns([id_column, "__truth"]).join(
        predicted.rename_columns([id_column, "__predicted"]), id_column, join_type="full outer"
    )
    unknown = joined.filter(joined.column("__truth").is_null())
    if unknown.num_rows:
        first = unknown.column(id_column)[0].as_py()
        raise EvaluateInputError(
            f"{unknown.num_rows} id(s) of {output} not found in {truth_path}"
            f" (column {id_column!r}), e.g. {first!r}"
        )
    missing = joined.column("__predicted").null_count
    scores = _score(joined.column("__predicted"), joined.column("__truth"))
    return IdentityEvaluation(
        str(output), cluster_column, str(truth_path), column, id_column, missing, scores
    )


def _score(predicted: pa.ChunkedArray, truth: pa.ChunkedArray) -> IdentityScores:
    try:
        return score_clusters(predicted, truth)
    except EvaluationError as exc:
        raise EvaluateInputError(str(exc)) from exc
