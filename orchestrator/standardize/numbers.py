"""The ``number`` step: numbers written with locale separators to float64 or int64.

All Arrow kernels: currency signs and grouping characters are removed, the
decimal mark becomes ".", accounting negatives "(12.50)" become "-12.50", and
only what then looks like a number is cast; anything else is null (never an
error that kills the chunk).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize._arrow import as_string
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register

GROUPING_SPACES = (" ", "\u00a0", "\u202f", "'", "\u2019")
"""Grouping marks removed whatever the locale: spaces (also no-break) and apostrophes (Swiss)."""

_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_TYPES = {"float64": pa.float64(), "int64": pa.int64()}


def _check(options: Mapping[str, Any]) -> None:
    if options["decimal"] not in (".", ","):
        raise StandardizeError("step 'number': decimal must be '.' or ','")
    thousands = options["thousands"]
    if thousands is not None and (thousands == options["decimal"] or len(str(thousands)) != 1):
        raise StandardizeError("step 'number': thousands must be one character, not the decimal")
    if options["type"] not in _TYPES:
        raise StandardizeError(f"step 'number': type must be one of {', '.join(_TYPES)}")


@register(
    "number",
    {"decimal": ".", "thousands": None, "type": "float64"},
    check=_check,
)
def number(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Numbers such as "1.234,56", "1 234,56", "$1,234.56" or "(12)" to numbers; the rest null."""
    out_type = _TYPES[options["type"]]
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.cast(values, out_type, safe=False)
    text = pc.utf8_trim_whitespace(as_string(values, "number"))
    decimal = options["decimal"]
    thousands = options["thousands"] or ("," if decimal == "." else ".")
    text = pc.replace_substring_regex(text, r"\p{Sc}", "")
    for mark in (*GROUPING_SPACES, thousands):
        text = pc.replace_substring(text, mark, "")
    if decimal == ",":
        text = pc.replace_substring(text, ",", ".")
    text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"-\1")
    text = pc.replace_substring_regex(text, r"^([+-]?)\s*", r"\1")
    ok = pc.match_substring_regex(text, _NUMBER)
    numeric = pc.cast(pc.if_else(ok, text, pa.scalar(None, text.type)), pa.float64())
    if out_type == pa.int64():
        whole = pc.equal(pc.floor(numeric), numeric)
        numeric = pc.if_else(whole, numeric, None)
    return pc.cast(numeric, out_type, safe=False)
