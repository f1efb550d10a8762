"""``type: validate``: check every row against a schema and rules; quarantine the rest.

Params (read and checked at validate time by ``spec/rules.py``)::

    schema: {id: {type: int64, nullable: false}, amount: float64}
    rules:
      - {rule: not_null, column: email}
      - {rule: range, column: amount, min: 0, max: 10000, on_violation: warn}
      - {rule: regex, column: email, pattern: '^[^@ ]+@[^@ ]+$'}
      - {rule: unique, column: id}            # whole dataset: a second phase
    max_reject_rate: 0.01                     # the spec may write 1%

A row is checked by the schema first (a value its declared type cannot hold,
a null in a non-nullable column); a row failing it is rejected under
``schema`` and checked no further. Then every rule is checked on the
remaining rows and every violation counted under its rule; a row is rejected
under the first ``reject`` rule it breaks, a ``warn`` rule only counts, and a
``fail`` rule that is broken fails the chunk (and so the job) naming it.
Valid rows leave with the schema's types. Rejected rows and the counts go to
``ctx.quality`` (:class:`~.validate_quarantine.Quality`), which the attempt
writes beside the part; CSV records that did not parse
(``input.csv.bad_rows: reject``) join the quarantine as ``csv_parse``.

With a ``unique`` rule the job is a map_reduce partitioned by that column:
``validate_map`` is the map step (every row goes to the shuffle with its
source file and line and whether it was already rejected, so duplicates are
counted over the whole dataset, as pandera's ``unique`` does), and
:func:`validate_unique` the reduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import PermanentError, ProcessorError
from orchestrator.processors.base import ChunkContext
from orchestrator.processors.validate_quarantine import (
    PARSE_RULE,
    Quality,
    parse_rejects,
    quarantine_rows,
    row_locations,
)
from orchestrator.processors.validate_report import merge_rule_counts
from orchestrator.processors.validate_rules import reasons, shown_values, violations
from orchestrator.processors.validate_schema import cast_column

#: Columns a map chunk adds to the rows it sends to the unique check.
SOURCE_FILE, SOURCE_WHERE = "_source_file", "_source_line_or_row"
#: ... and whether the map already quarantined the row (it still counts for unique).
ALREADY_REJECTED = "_rejected"
_CARRIED = [SOURCE_FILE, SOURCE_WHERE, ALREADY_REJECTED]
SCHEMA_RULE = "schema"


class ValidationFailed(PermanentError):
    """A rule with ``on_violation: fail`` was broken (the same data breaks it again)."""


def check_params(params: Mapping[str, Any]) -> None:
    """The spec reader checked the rules; a payload without them is not from it."""
    if not isinstance(params.get("rules"), list) and not params.get("schema"):
        raise ProcessorError("validate: params need a schema or rules (see README, Validate)")


def validate(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """Check a chunk; valid rows out, the rest quarantined. A reduce chunk (a
    shuffle partition of a job with a unique rule) gets the unique check."""
    if ctx.chunk.kind == "shuffle":
        return validate_unique(table, ctx)
    return _check_chunk(table, ctx, for_unique=False)


def validate_map(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """The map step of a validate job with a ``unique`` rule: valid rows keep
    their source file and line for the reduce's quarantine rows."""
    return _check_chunk(table, ctx, for_unique=True)


def _check_chunk(table: pa.Table, ctx: ChunkContext, *, for_unique: bool) -> pa.Table:
    params = ctx.params
    quality = Quality(rows_in=table.num_rows + len(ctx.bad_rows))
    if ctx.bad_rows:
        quality.add(parse_rejects(ctx.bad_rows))
        quality.rules[PARSE_RULE] = {
            "on_violation": "reject",
            "violations": len(ctx.bad_rows),
            "rejected": len(ctx.bad_rows),
        }
    source = ctx.chunk.path
    where: pa.Array | None = None

    def locations() -> pa.Array:
        nonlocal where
        if where is None:
            where = row_locations(ctx.chunk, ctx.csv, ctx.bad_rows, table.num_rows)
        return where

    rejected = np.zeros(table.num_rows, dtype=bool)
    typed = table
    for column, declared in (params.get("schema") or {}).items():
        if column not in table.column_names:
            raise ValidationFailed(
                f"schema: the input has no column {column!r} "
                f"(it has: {', '.join(table.column_names)})"
            )
        values = table.column(column).combine_chunks()
        target = pa.type_for_alias(declared["type"])
        cast, failed = cast_column(values, target)
        typed = typed.set_column(typed.column_names.index(column), column, cast)
        bad = failed.to_numpy(zero_copy_only=False)
        text = shown_values(values, f"is not {declared['type']}")
        null_bad = np.zeros(len(bad), dtype=bool)
        if not declared["nullable"]:
            null_bad = pc.is_null(values).to_numpy(zero_copy_only=False)
        for mask, reason in ((bad, text), (null_bad, None)):
            new = mask & ~rejected
            if not new.any():
                continue
            index = pa.array(np.flatnonzero(new))
            why = (
                reason.take(index)
                if reason is not None
                else pa.array(["is null (the schema says nullable: false)"] * len(index))
            )
            quality.add(
                quarantine_rows(
                    SCHEMA_RULE, column, why, source, locations().take(index), table.take(index)
                )
            )
            rejected |= new
            counts = quality.rules.setdefault(
                SCHEMA_RULE, {"on_violation": "reject", "violations": 0, "rejected": 0}
            )
            counts["violations"] += int(new.sum())
            counts["rejected"] += int(new.sum())
    schema_rejected = rejected.copy()
    python_path = params.get("python_path") or ()
    for rule in params.get("rules") or ():
        if rule["rule"] == "unique":
            continue  # checked across the dataset by the reduce (validate_unique)
        broken = violations(rule, typed, python_path).to_numpy(zero_copy_only=False)
        broken &= ~schema_rejected
        counts = {"on_violation": rule["on_violation"], "violations": int(broken.sum())}
        counts["rejected"] = 0
        if rule["on_violation"] == "fail" and broken.any():
            first = int(np.flatnonzero(broken)[0])
            at = locations()[first].as_py()
            place = f"{source} line/row {at}" if at is not None else f"{source} row {first + 1}"
            raise ValidationFailed(
                f"rule {rule['name']} (on_violation: fail) is broken by {counts['violations']} "
                f"row(s) of this chunk, the first at {place}"
            )
        if rule["on_violation"] == "reject":
            new = broken & ~rejected
            if new.any():
                index = pa.array(np.flatnonzero(new))
                column = rule.get("column")
                values = typed.column(column).combine_chunks().take(index) if column else None
                why = reasons(rule, values if values is not None else pa.nulls(len(index)))
                quality.add(
                    quarantine_rows(
                        rule["name"],
                        column,
                        why,
                        source,
                        locations().take(index),
                        table.take(index),
                    )
                )
                rejected |= new
                counts["rejected"] = int(new.sum())
        elif broken.any():
            ctx.logger.warning(
                "rule %s (warn): %d row(s) of chunk %d break it",
                rule["name"],
                counts["violations"],
                ctx.chunk.seq,
            )
        merge_rule_counts(quality.rules, {rule["name"]: counts})
    keep = pa.array(~rejected)
    valid = typed.filter(keep)
    n_rejected = int(rejected.sum())
    if n_rejected:
        ctx.reject(n_rejected, "validate")
    quality.rows_valid = valid.num_rows
    quality.rows_rejected = n_rejected + len(ctx.bad_rows)
    ctx.quality = quality
    if for_unique:  # every row goes on: unique is over the whole dataset
        typed = typed.append_column(SOURCE_FILE, pa.array([source] * typed.num_rows, pa.string()))
        typed = typed.append_column(SOURCE_WHERE, locations())
        return typed.append_column(ALREADY_REJECTED, pa.array(rejected))
    return valid


def validate_unique(table: pa.Table, ctx: ChunkContext) -> pa.Table:
    """The reduce of a validate job with ``unique`` rules: every row of a
    duplicated key is rejected (the partition holds all rows of its keys);
    rows the map quarantined count as occurrences but are not quarantined twice."""
    rules = [r for r in ctx.params.get("rules") or () if r["rule"] == "unique"]
    quality = Quality(rows_in=table.num_rows, phase=1)
    already = table.column(ALREADY_REJECTED).to_numpy(zero_copy_only=False)
    rejected = np.zeros(table.num_rows, dtype=bool)
    for rule in rules:
        column = rule["column"]
        values = table.column(column).combine_chunks()
        duplicated = _duplicated(values)  # over every row, quarantined by the map or not
        broken = duplicated & ~already & ~rejected
        counts = {"on_violation": rule["on_violation"], "violations": int(duplicated.sum())}
        counts["rejected"] = 0
        if rule["on_violation"] == "fail" and broken.any():
            first = int(np.flatnonzero(broken)[0])
            raise ValidationFailed(
                f"rule {rule['name']} (on_violation: fail): {counts['violations']} row(s) share a "
                f"value, e.g. {table.column(SOURCE_FILE)[first]} line/row "
                f"{table.column(SOURCE_WHERE)[first]}"
            )
        if rule["on_violation"] == "reject" and broken.any():
            index = pa.array(np.flatnonzero(broken))
            rows = table.take(index)
            quality.add(_unique_rejects(rule, rows.drop_columns([SOURCE_FILE, SOURCE_WHERE]), rows))
            rejected |= broken
            counts["rejected"] = int(broken.sum())
        elif broken.any():
            ctx.logger.warning("rule %s (warn): %d row(s)", rule["name"], counts["violations"])
        merge_rule_counts(quality.rules, {rule["name"]: counts})
    valid = table.filter(pa.array(~rejected & ~already)).drop_columns(_CARRIED)
    if rejected.any():
        ctx.reject(int(rejected.sum()), "validate: unique")
    quality.rows_valid = valid.num_rows
    quality.rows_rejected = int(rejected.sum())
    ctx.quality = quality
    return valid


def _duplicated(values: pa.Array) -> np.ndarray:
    """True for every non-null value that occurs more than once."""
    encoded = values.dictionary_encode()
    indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    counts = np.bincount(indices[valid], minlength=len(encoded.dictionary))
    return valid & (counts[indices] > 1)


def _unique_rejects(rule: Mapping[str, Any], records: pa.Table, rows: pa.Table) -> pa.Table:
    column = rule["column"]
    why = reasons(rule, rows.column(column).combine_chunks())
    pieces: list[pa.Table] = []
    files: Sequence[Any] = rows.column(SOURCE_FILE).to_pylist()
    for file in dict.fromkeys(files):
        mask = pa.array([f == file for f in files])
        pieces.append(
            quarantine_rows(
                rule["name"],
                column,
                why.filter(mask),
                file,
                rows.column(SOURCE_WHERE).combine_chunks().filter(mask),
                records.filter(mask),
            )
        )
    return pa.concat_tables(pieces)
