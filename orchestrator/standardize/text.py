"""Text cleaning steps: whitespace, case, Unicode form, accents, null tokens.

Each is an Arrow kernel except ``strip_accents``: Arrow has no transliteration,
so it calls ``unidecode`` once per distinct value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from unidecode import unidecode

from orchestrator.standardize._arrow import as_string, map_distinct
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register

DEFAULT_NULL_TOKENS = ("", "N/A", "NA", "NULL", "NONE", "NAN", "-", "--", "?", "#N/A")
"""What ``null_tokens`` treats as missing by default (compared trimmed, case-insensitively)."""

UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


@register("trim")
def trim(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Remove leading and trailing whitespace (Unicode-aware)."""
    return pc.utf8_trim_whitespace(as_string(values, "trim"))


@register("collapse_whitespace")
def collapse_whitespace(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Turn every run of whitespace (no-break and other Unicode spaces too) into one space; trim."""
    text = as_string(values, "collapse_whitespace")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"[\s\p{Zs}]+", " "))


@register("lower")
def lower(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Lower-case (Unicode)."""
    return pc.utf8_lower(as_string(values, "lower"))


@register("upper")
def upper(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Upper-case (Unicode)."""
    return pc.utf8_upper(as_string(values, "upper"))


@register("title")
def title(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Title-case each word (Unicode)."""
    return pc.utf8_title(as_string(values, "title"))


def _check_form(options: Mapping[str, Any]) -> None:
    if str(options["form"]).upper() not in UNICODE_FORMS:
        raise StandardizeError(f"step 'nfkc': form must be one of {', '.join(UNICODE_FORMS)}")


@register("nfkc", {"form": "NFKC"}, check=_check_form)
def nfkc(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Unicode normalization (NFKC by default: ligatures, full-width forms and the like folded)."""
    return pc.utf8_normalize(as_string(values, "nfkc"), form=str(options["form"]).upper())


@register("strip_accents")
def strip_accents(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Transliterate to ASCII with unidecode (é→e, ß→ss, Ø→O, Москва→Moskva)."""
    text = as_string(values, "strip_accents")
    return map_distinct(text, unidecode, text.type)


def _check_tokens(options: Mapping[str, Any]) -> None:
    tokens = options["tokens"]
    if not isinstance(tokens, list | tuple) or not all(isinstance(t, str) for t in tokens):
        raise StandardizeError("step 'null_tokens': tokens must be a list of strings")


@register(
    "null_tokens",
    {"tokens": list(DEFAULT_NULL_TOKENS), "case_sensitive": False},
    check=_check_tokens,
)
def null_tokens(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Make placeholder values ("", "N/A", "NULL" ...) null; other values are kept unchanged."""
    text = as_string(values, "null_tokens")
    probe = pc.utf8_trim_whitespace(text)
    tokens = [t.strip() for t in options["tokens"]]
    if not options["case_sensitive"]:
        probe = pc.utf8_upper(probe)
        tokens = [t.upper() for t in tokens]
    hit = pc.is_in(probe, value_set=pa.array(tokens, type=text.type))
    return pc.if_else(hit, pa.scalar(None, text.type), text)
