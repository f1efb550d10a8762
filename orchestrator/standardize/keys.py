"""Derived keys for blocking and comparison: phonetic codes, prefixes, year.

Phonetic codes come from ``jellyfish`` (one call per distinct value: Arrow has
no phonetic kernels); prefixes and years are Arrow kernels. Phonetic encoders
expect cleaned names, so put ``name`` before them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jellyfish
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize._arrow import as_string, empty_to_null, map_distinct
from orchestrator.standardize.dates import date as parse_date_step
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register, resolve_options


def _phonetic(step: str, encode: Callable[[str], str]) -> None:
    def run(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
        text = empty_to_null(pc.utf8_trim_whitespace(as_string(values, step)))
        return empty_to_null(map_distinct(text, encode, pa.string()))

    run.__doc__ = f"The {step} code of each value (jellyfish.{encode.__name__})."
    register(step)(run)


_phonetic("soundex", jellyfish.soundex)
_phonetic("metaphone", jellyfish.metaphone)
_phonetic("nysiis", jellyfish.nysiis)
_phonetic("match_rating", jellyfish.match_rating_codex)


def _check_prefix(options: Mapping[str, Any]) -> None:
    length = options["length"]
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise StandardizeError("step 'prefix': length must be a positive integer")


@register("prefix", {"length": 3}, check=_check_prefix)
def prefix(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """The first ``length`` characters (a cheap blocking key on names)."""
    text = as_string(values, "prefix")
    return empty_to_null(pc.utf8_slice_codeunits(text, 0, int(options["length"])))


@register("year")
def year(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """The year (int32) of a date, timestamp or date text (parsed as the ``date`` step does)."""
    if not (pa.types.is_date(values.type) or pa.types.is_timestamp(values.type)):
        values = parse_date_step(values, resolve_options("date", None))
    return pc.cast(pc.year(values), pa.int32())
