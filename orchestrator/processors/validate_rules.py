"""The rules of ``type: validate``: reading them, and checking a table against them.

A rule is a mapping in ``params.rules``; :func:`parse_rule` turns it into its
canonical form (defaults filled, arguments checked) when the spec is read, so
a worker never meets a malformed rule. :func:`violations` checks one rule on
a table, vectorized, and answers a boolean mask (True: the row breaks the
rule); :func:`reasons` says why, row by row, for the rows a rule rejected.

Like pandera and Great Expectations, a rule on a column ignores nulls (that
is ``not_null``'s job, or the schema's ``nullable: false``), and an
``expression`` rule passes when its value is NULL (SQL CHECK semantics).

This module imports nothing of the spec, so the spec reader can use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import ProcessorError

#: Rule kinds and the arguments each takes besides rule/name/column/on_violation.
RULE_ARGS: dict[str, tuple[str, ...]] = {
    "not_null": (),
    "unique": (),
    "range": ("min", "max"),
    "min": ("value",),
    "max": ("value",),
    "regex": ("pattern",),
    "in_set": ("values",),
    "length": ("min", "max"),
    "date": ("formats",),
    "foreign_key": ("reference", "reference_column"),
    "expression": ("expr",),
    "python": ("python",),
}
#: Rules that need a column (``expression`` and ``python`` may name one for ``_column``).
COLUMN_RULES = frozenset(RULE_ARGS) - {"expression", "python"}
ON_VIOLATION = ("reject", "fail", "warn")
#: Characters of a value shown in a reason.
SHOWN = 60

Check = Callable[[pa.Table], pa.Array]


class RuleError(ProcessorError):
    """A rule the spec cannot have (the spec reader adds file:line)."""


def parse_rule(raw: Any, index: int) -> dict[str, Any]:
    """The canonical form of rule ``index`` (0-based) of a spec."""
    if not isinstance(raw, Mapping):
        raise RuleError("write a rule as a mapping, e.g. {rule: not_null, column: email}")
    kind = raw.get("rule")
    if kind not in RULE_ARGS:
        raise RuleError(f"unknown rule {kind!r} (known: {', '.join(RULE_ARGS)})")
    allowed = {"rule", "name", "column", "on_violation", *RULE_ARGS[kind]}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RuleError(
            f"rule {kind}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    column = raw.get("column")
    if kind in COLUMN_RULES and (not isinstance(column, str) or not column):
        raise RuleError(f"rule {kind}: name its column (column: ...)")
    if column is not None and not isinstance(column, str):
        raise RuleError(f"rule {kind}: column must be a name")
    on_violation = raw.get("on_violation", "reject")
    if on_violation not in ON_VIOLATION:
        raise RuleError(f"rule {kind}: on_violation must be one of {', '.join(ON_VIOLATION)}")
    name = raw.get("name") or (f"{kind}:{column}" if column else f"{kind}#{index + 1}")
    if not isinstance(name, str):
        raise RuleError(f"rule {kind}: name must be text")
    rule: dict[str, Any] = {
        "rule": kind,
        "name": name,
        "column": column,
        "on_violation": on_violation,
    }
    rule.update(_arguments(kind, raw))
    return rule


def _number(value: Any, what: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{what} must be a number, got {value!r}")
    return value


def _arguments(kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "range":
        low, high = _number(raw.get("min"), "range: min"), _number(raw.get("max"), "range: max")
        if low is None and high is None:
            raise RuleError("rule range: set min, max or both")
        if low is not None and high is not None and low > high:
            raise RuleError(f"rule range: min {low} is above max {high}")
        return {"min": low, "max": high}
    if kind in ("min", "max"):
        value = _number(raw.get("value"), f"{kind}: value")
        if value is None:
            raise RuleError(f"rule {kind}: set value")
        return {"min": value, "max": None} if kind == "min" else {"min": None, "max": value}
    if kind == "length":
        low, high = raw.get("min"), raw.get("max")
        for v in (low, high):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise RuleError("rule length: min and max are character counts (integers >= 0)")
        if low is None and high is None:
            raise RuleError("rule length: set min, max or both")
        return {"min": low, "max": high}
    if kind == "regex":
        pattern = raw.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise RuleError("rule regex: set pattern (an RE2 regular expression)")
        try:
            pc.match_substring_regex(pa.array([""]), pattern)
        except pa.ArrowInvalid as exc:
            raise RuleError(f"rule regex: bad pattern {pattern!r}: {exc}") from None
        return {"pattern": pattern}
    if kind == "in_set":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise RuleError("rule in_set: set values (a non-empty list)")
        return {"values": list(values)}
    if kind == "date":
        from orchestrator.standardize.dates import default_formats, format_pattern
        from orchestrator.standardize.errors import StandardizeError

        formats = raw.get("formats") or default_formats(False)
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise RuleError("rule date: formats must be a list of strptime formats")
        try:
            for fmt in formats:
                format_pattern(fmt)
        except StandardizeError as exc:
            raise RuleError(f"rule date: {exc}") from None
        return {"formats": list(formats)}
    if kind == "foreign_key":
        reference = raw.get("reference")
        if not isinstance(reference, str) or not reference:
            raise RuleError("rule foreign_key: set reference (a CSV or Parquet file)")
        ref_column = raw.get("reference_column") or raw.get("column")
        return {"reference": reference, "reference_column": ref_column}
    if kind == "expression":
        from orchestrator.standardize.errors import StandardizeError
        from orchestrator.standardize.expressions import compile_expression

        try:
            compiled = compile_expression(str(raw.get("expr") or ""), "rule expression")
        except StandardizeError as exc:
            raise RuleError(str(exc)) from None
        return {"expr": compiled.text}
    if kind == "python":
        ref = raw.get("python")
        if not isinstance(ref, str) or ":" not in ref:
            raise RuleError("rule python: set python: package.module:function")
        return {"python": ref}
    return {}


def rule_columns(rule: Mapping[str, Any]) -> list[str]:
    """The input columns a rule reads (for the spec's column check)."""
    if rule["rule"] == "expression":
        from orchestrator.standardize.expressions import compile_expression

        return list(compile_expression(rule["expr"]).columns)
    return [rule["column"]] if rule.get("column") else []


def violations(rule: Mapping[str, Any], table: pa.Table, python_path: Sequence[str]) -> pa.Array:
    """True where a row breaks ``rule`` (never null)."""
    kind = rule["rule"]
    if kind in ("expression", "python"):
        ok = _expression(rule, table) if kind == "expression" else _python(rule, table, python_path)
        return pc.fill_null(pc.invert(ok), False)
    values = _column(table, rule["column"], kind)
    if kind == "not_null":
        return pc.is_null(values)
    if kind in ("range", "min", "max"):
        bad = _outside(values, rule["min"], rule["max"], kind)
    elif kind == "length":
        bad = _outside(pc.utf8_length(_text(values)), rule["min"], rule["max"], kind)
    elif kind == "regex":
        bad = pc.invert(pc.match_substring_regex(_text(values), rule["pattern"]))
    elif kind == "in_set":
        value_set = pa.array(rule["values"])
        if value_set.type != values.type:
            try:
                value_set = value_set.cast(values.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values, value_set = _text(values), value_set.cast(pa.string())
        bad = pc.invert(pc.is_in(values, value_set=value_set))
    elif kind == "date":
        bad = pc.is_null(_dates(values, rule["formats"]))
    elif kind == "foreign_key":
        keys = reference_keys(rule["reference"], rule["reference_column"])
        probe = values if values.type == keys.type else _text(values)
        bad = pc.invert(pc.is_in(probe, value_set=keys if probe is values else _text(keys)))
    else:
        raise RuleError(f"rule {kind} is not checked per chunk")
    return pc.and_(pc.is_valid(values), pc.fill_null(bad, False))


def _column(table: pa.Table, name: str, kind: str) -> pa.Array:
    if name not in table.column_names:
        raise ProcessorError(
            f"rule {kind}: no column {name!r} (the table has: {', '.join(table.column_names)})"
        )
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


def _outside(values: pa.Array, low: Any, high: Any, kind: str) -> pa.Array:
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        if pa.types.is_decimal(values.type):
            values = pc.cast(values, pa.float64())
        else:
            raise ProcessorError(
                f"rule {kind} needs a number column, got {values.type} "
                "(declare its type in the schema, e.g. amount: float64)"
            )
    below = pc.less(values, low) if low is not None else None
    above = pc.greater(values, high) if high is not None else None
    if below is None:
        assert above is not None
        return above
    return below if above is None else pc.or_(below, above)


def _dates(values: pa.Array, formats: Sequence[str]) -> pa.Array:
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return values
    from orchestrator.standardize.dates import parse_dates

    return parse_dates(_text(values), list(formats))


def _expression(rule: Mapping[str, Any], table: pa.Table) -> pa.Array:
    from orchestrator.standardize.expressions import compile_expression, evaluate

    result = evaluate(compile_expression(rule["expr"]), table)
    if not pa.types.is_boolean(result.type):
        raise ProcessorError(
            f"rule {rule['name']}: expression {rule['expr']!r} gives {result.type}, not true/false"
        )
    return result


def _python(rule: Mapping[str, Any], table: pa.Table, python_path: Sequence[str]) -> pa.Array:
    func = _load(rule["python"], tuple(python_path))
    result = func(table)
    array = pa.array(result, type=pa.bool_()) if not isinstance(result, pa.Array) else result
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) != table.num_rows or not pa.types.is_boolean(array.type):
        raise ProcessorError(
            f"rule {rule['name']}: {rule['python']} must return one bool per row "
            f"({table.num_rows}), got {len(array)} values of {array.type}"
        )
    return array


@functools.cache
def _load(ref: str, python_path: tuple[str, ...]) -> Callable[[pa.Table], Any]:
    from orchestrator.processors.python_callable import load_callable

    return load_callable(ref, list(python_path))  # type: ignore[return-value]


@functools.cache
def reference_keys(path: str, column: str) -> pa.Array:
    """The distinct keys of a foreign key's reference file, read once per process."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=[column])
    else:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    if column not in table.column_names:
        raise ProcessorError(f"foreign_key reference {path} has no column {column!r}")
    return pc.unique(table.column(column).combine_chunks())


def reasons(rule: Mapping[str, Any], values: pa.Array | None) -> pa.Array:
    """Why each of ``values`` (the rule's column, on the rows it rejected) broke ``rule``."""
    kind = rule["rule"]
    suffix = {
        "not_null": "is null",
        "range": f"is outside [{_bound(rule.get('min'))}, {_bound(rule.get('max'))}]",
        "min": f"is below {rule.get('min')}",
        "max": f"is above {rule.get('max')}",
        "length": f"has a length outside [{_bound(rule.get('min'))}, {_bound(rule.get('max'))}]",
        "regex": f"does not match {rule.get('pattern')}",
        "in_set": f"is not one of {_shown_set(rule.get('values') or [])}",
        "date": f"is not a date in {', '.join(rule.get('formats') or [])}",
        "foreign_key": f"is not in {rule.get('reference_column')} of {rule.get('reference')}",
        "expression": f"{rule.get('expr')} is false",
        "python": f"{rule.get('python')} returned false",
        "unique": "occurs more than once",
    }[kind]
    if values is None or kind in ("not_null", "expression", "python"):
        count = len(values) if values is not None else 0
        return pa.array([suffix] * count, pa.string())
    return shown_values(values, suffix)


def shown_values(values: pa.Array, suffix: str) -> pa.Array:
    """``value '<v>' <suffix>`` for each value (cut to :data:`SHOWN` characters)."""
    text = pc.utf8_slice_codeunits(_text(values), 0, SHOWN)
    quoted = pc.binary_join_element_wise("value '", text, "' " + suffix, "")
    return pc.fill_null(quoted, "value null " + suffix)


def _bound(value: Any) -> str:
    return "-inf" if value is None else str(value)


def _shown_set(values: Sequence[Any]) -> str:
    shown = ", ".join(map(str, values[:10]))
    return f"[{shown}{', ...' if len(values) > 10 else ''}]"
