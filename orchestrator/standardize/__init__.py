"""Vectorized standardization of Arrow columns, by step name.

The preprocessing ``steps:`` of any job (:mod:`.pipeline`) and the ``standardize:`` list of an
identity-matching field both resolve names through :mod:`.registry`. Importing
this package registers every step; see :data:`STEPS` for the names.
"""

from __future__ import annotations

from orchestrator.standardize import (
    address,
    contact,
    dates,
    keys,
    names,
    numbers,
    table_steps,
    text,
)
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import (
    STEPS,
    Step,
    apply_step,
    apply_steps,
    get_step,
    parse_steps,
    resolve_options,
)

__all__ = [
    "STEPS",
    "StandardizeError",
    "Step",
    "address",
    "apply_step",
    "apply_steps",
    "contact",
    "dates",
    "get_step",
    "keys",
    "names",
    "numbers",
    "parse_steps",
    "resolve_options",
    "table_steps",
    "text",
]
