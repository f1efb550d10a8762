"""The one table of standardization steps, by the name a spec writes.

Both the preprocessing ``steps:`` of every job and the ``standardize: [...]``
list of an identity-matching field resolve names here, so a name means the same
thing everywhere. A step is a function ``(pa.Array, options) -> pa.Array`` with
declared option defaults: unknown options are refused when the spec is read,
before any chunk runs.

A few steps work on the whole table instead of one column (``rename``,
``select``, ``drop``, ``derive``: :mod:`.table_steps`); they live in the same
table with ``scope="table"`` and take ``(pa.Table, options) -> pa.Table``. A
per-column list (an identity field's ``standardize:``) refuses them by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from orchestrator.standardize._arrow import ArrayLike, as_array
from orchestrator.standardize.errors import StandardizeError

StepFunc = Callable[[pa.Array, Mapping[str, Any]], pa.Array]
TableStepFunc = Callable[[pa.Table, Any], pa.Table]
#: A whole-table step's argument check: the spec's value in, the canonical value out.
ArgumentCheck = Callable[[Any], Any]
OptionCheck = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Step:
    """A named step, its option defaults and an optional early option check."""

    name: str
    func: StepFunc
    defaults: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    check: OptionCheck | None = None
    #: ``column``: ``func`` maps one column; ``table``: ``table_func`` maps the table
    scope: str = "column"
    table_func: TableStepFunc | None = None
    table_check: ArgumentCheck | None = None


STEPS: dict[str, Step] = {}


def register(
    name: str, defaults: Mapping[str, Any] | None = None, check: OptionCheck | None = None
) -> Callable[[StepFunc], StepFunc]:
    """Add a step to :data:`STEPS` under ``name`` (its docstring's first line is the summary)."""

    def wrap(func: StepFunc) -> StepFunc:
        if name in STEPS:
            raise RuntimeError(f"standardization step {name!r} registered twice")
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        STEPS[name] = Step(name, func, dict(defaults or {}), summary, check)
        return func

    return wrap


def register_table(name: str, check: ArgumentCheck) -> Callable[[TableStepFunc], TableStepFunc]:
    """Add a whole-table step to :data:`STEPS`; ``check`` reads the spec's argument
    (a mapping, a list, a name) into the canonical one the step gets."""

    def wrap(func: TableStepFunc) -> TableStepFunc:
        if name in STEPS:
            raise RuntimeError(f"standardization step {name!r} registered twice")
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        STEPS[name] = Step(
            name, _not_a_column_step, {}, summary, None, "table", func, table_check=check
        )
        return func

    return wrap


def _not_a_column_step(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    raise StandardizeError("a whole-table step cannot run on one column")


def get_step(name: str, scope: str | None = "column") -> Step:
    """The step called ``name``; ``scope`` (None: any) refuses a step of the other kind."""
    step = STEPS.get(name)
    if step is None or (scope is not None and step.scope != scope):
        known = ", ".join(sorted(n for n, s in STEPS.items() if scope in (None, s.scope)))
        if step is not None:
            raise StandardizeError(
                f"step {name!r} works on the whole table, not on one column (column steps: {known})"
            )
        hint = suggest_name(name, [n for n, s in STEPS.items() if scope in (None, s.scope)])
        raise StandardizeError(f"unknown standardization step {name!r}{hint} (known: {known})")
    return step


def suggest_name(word: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def resolve_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The step's defaults overlaid with ``options``; unknown keys are an error."""
    step = get_step(name)
    given = dict(options or {})
    unknown = sorted(set(given) - set(step.defaults))
    if unknown:
        allowed = ", ".join(sorted(step.defaults)) or "none"
        raise StandardizeError(
            f"step {name!r}: unknown option(s) {', '.join(unknown)} (allowed: {allowed})"
        )
    merged = {**step.defaults, **given}
    if step.check is not None:
        step.check(merged)
    return merged


StepEntry = str | Mapping[str, Mapping[str, Any] | None]


def parse_steps(entries: Sequence[StepEntry]) -> list[tuple[str, dict[str, Any]]]:
    """Read a spec's step list: each entry is ``name`` or ``{name: {option: value}}``."""
    parsed: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            get_step(entry)
            parsed.append((entry, resolve_options(entry, None)))
        elif isinstance(entry, Mapping) and len(entry) == 1:
            ((name, options),) = entry.items()
            get_step(str(name))
            if options is not None and not isinstance(options, Mapping):
                raise StandardizeError(f"step {index + 1} ({name!r}): options must be a mapping")
            parsed.append((str(name), resolve_options(str(name), options)))
        else:
            raise StandardizeError(
                f"step {index + 1}: write a step as a name or as {{name: {{options}}}}, "
                f"got {entry!r}"
            )
    return parsed


def apply_step(name: str, values: ArrayLike, options: Mapping[str, Any] | None = None) -> pa.Array:
    """Run one step on one column."""
    merged = resolve_options(name, options)
    return get_step(name).func(as_array(values), merged)


def apply_steps(values: ArrayLike, entries: Sequence[StepEntry]) -> pa.Array:
    """Run a spec's step list on one column, in order."""
    array = as_array(values)
    for name, options in parse_steps(entries):
        array = get_step(name).func(array, options)
    return array
