"""Person-name steps: ``name``, ``given_name``, ``nickname``, ``initials``.

``name`` is the standardization a matcher wants for a name field: NFKC, then
transliteration to ASCII (unidecode, per distinct value), lower case,
apostrophes dropped (O'Brien → obrien) and other punctuation turned into spaces
(Mary-Jane → mary jane), whitespace collapsed, titles and suffixes (mr, dr,
jr, iii ...) dropped, and optionally initials dropped and nicknames mapped.
``given_name`` is ``name`` with the nickname table on (bob → robert): use it for
first names, not for surnames, where "Bill" or "Ted" is a family name.

The nickname table ships with the package (``data/nicknames.csv``, whose header
says where it comes from).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from unidecode import unidecode

from orchestrator.standardize._arrow import as_string, empty_to_null, map_distinct, map_tokens
from orchestrator.standardize.registry import register

TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "fr"}
    | {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"}
)
"""Tokens ``name`` drops as titles or generational suffixes (after punctuation is removed)."""

SINGLE_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


@functools.cache
def nicknames() -> dict[str, str]:
    """The shipped nickname table, nickname → formal given name (lower-case ASCII)."""
    text = (
        resources.files("orchestrator.standardize")
        .joinpath("data/nicknames.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["nickname"].strip(): row["name"].strip() for row in rows}


def clean_name(values: pa.Array) -> pa.Array:
    """ASCII, lower case, no punctuation, single spaces; empty → null."""
    text = pc.utf8_normalize(values, form="NFKC")
    text = map_distinct(text, unidecode, text.type)
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"['`]", "")
    text = pc.replace_substring_regex(text, r"[^a-z0-9]+", " ")
    return pc.utf8_trim_whitespace(text)


def _name(values: pa.Array, options: Mapping[str, Any], step: str) -> pa.Array:
    text = clean_name(as_string(values, step))
    if options["titles"]:
        stripped = map_tokens(text, {}, drop=TITLES)
        text = pc.coalesce(empty_to_null(stripped), text)
    if options["initials"] == "drop":
        without = map_tokens(text, {}, drop=SINGLE_LETTERS)
        text = pc.coalesce(empty_to_null(without), text)
    if options["nicknames"]:
        text = map_tokens(text, nicknames())
    return empty_to_null(text)


_NAME_OPTIONS = {"titles": True, "initials": "keep", "nicknames": False}


@register("name", _NAME_OPTIONS)
def name(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Person names: transliterated, lower case, no punctuation or titles (nicknames optional)."""
    return _name(values, options, "name")


@register("given_name", {**_NAME_OPTIONS, "nicknames": True})
def given_name(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """First names: ``name`` plus the nickname table (bob → robert, liz → elizabeth)."""
    return _name(values, options, "given_name")


@register("nickname")
def nickname(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Map each word found in the nickname table to its formal name; expects cleaned names."""
    return map_tokens(as_string(values, "nickname"), nicknames())


@register("initials")
def initials(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """The first letter of each word ("john ronald reuel" → "jrr")."""
    text = pc.utf8_trim_whitespace(as_string(values, "initials"))
    return empty_to_null(pc.replace_substring_regex(text, r"(\S)\S*\s*", r"\1"))
