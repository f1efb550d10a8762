"""Address steps: ``address`` (a normalized one-line form) and ``address_parts``.

``address`` transliterates, lower-cases, turns punctuation into spaces, and
expands the usual abbreviations word by word (st → street, ave → avenue,
apt/ste/# → unit, n → north ...), so "12 Main St., Apt #4" and "12 main street
unit 4" become the same string. All Arrow kernels except the transliteration
(per distinct value). "st" always means street, never saint: a matcher compares
both sides the same way, so the choice only has to be consistent.

``address_parts`` splits a normalized street line into house number, street,
unit and postcode (and city, which only the CRF parser finds). The default
parser is one RE2 pattern, vectorized, fit for street lines like the ones
above; ``parser: usaddress`` runs the ``usaddress`` CRF model per distinct value
for free-form US addresses (install ``jobctl[address]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from unidecode import unidecode

from orchestrator.standardize._arrow import as_string, empty_to_null, map_distinct, map_tokens
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register

ABBREVIATIONS: dict[str, str] = {
    "st": "street", "str": "street", "ave": "avenue", "av": "avenue", "rd": "road",
    "blvd": "boulevard", "dr": "drive", "ln": "lane", "ct": "court", "pl": "place",
    "sq": "square", "ter": "terrace", "terr": "terrace", "hwy": "highway",
    "pkwy": "parkway", "cir": "circle", "trl": "trail", "cres": "crescent",
    "cl": "close", "gdns": "gardens", "mt": "mount", "ft": "fort", "sta": "station",
    "n": "north", "s": "south", "e": "east", "w": "west", "ne": "northeast",
    "nw": "northwest", "se": "southeast", "sw": "southwest",
    "apt": "unit", "apartment": "unit", "ste": "unit", "suite": "unit", "#": "unit",
    "no": "unit", "fl": "floor", "flr": "floor", "bldg": "building",
}  # fmt: skip
"""Word → expansion applied by ``address`` (USPS-style street suffixes, directions, units)."""

PARTS = ("house_number", "street", "unit", "city", "postcode")
_PATTERN = (
    r"^(?:(?P<house_number>\d+[a-z]?)\s+)?(?P<street>.*?)"
    r"(?:\s+unit\s+(?P<unit>[a-z0-9]+))?(?:\s+(?P<postcode>\d{5}(?:\s?\d{4})?))?$"
)
_PARSERS = ("regex", "usaddress")
_STRUCT = pa.struct([(part, pa.string()) for part in PARTS])


def normalize_address(values: pa.Array) -> pa.Array:
    """The one-line form ``address`` produces; empty → null."""
    text = pc.utf8_normalize(values, form="NFKC")
    text = map_distinct(text, unidecode, text.type)
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"['`]", "")
    text = pc.replace_substring_regex(text, "#", " # ")
    text = pc.replace_substring_regex(text, r"[^a-z0-9#]+", " ")
    text = map_tokens(text, ABBREVIATIONS)
    text = pc.replace_substring_regex(text, r"\bunit(?: unit)+\b", "unit")
    return empty_to_null(text)


@register("address")
def address(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Addresses as one normalized line: transliterated, lower case, abbreviations expanded."""
    return normalize_address(as_string(values, "address"))


def _check_parts(options: Mapping[str, Any]) -> None:
    if options["parser"] not in _PARSERS:
        raise StandardizeError(f"step 'address_parts': parser must be one of {', '.join(_PARSERS)}")
    if options["part"] is not None and options["part"] not in PARTS:
        raise StandardizeError(f"step 'address_parts': part must be one of {', '.join(PARTS)}")
    if options["parser"] == "usaddress":
        try:
            import usaddress  # noqa: F401
        except ImportError:
            raise StandardizeError(
                "step 'address_parts': parser usaddress needs the usaddress package "
                "(pip install 'jobctl[address]')"
            ) from None


def _regex_parts(text: pa.Array) -> pa.StructArray:
    found = pc.extract_regex(text, pattern=_PATTERN)
    fields = {part: empty_to_null(pc.struct_field(found, part)) for part in PARTS if part != "city"}
    fields["city"] = pa.nulls(len(text), pa.string())
    arrays = [pc.cast(fields[part], pa.string()) for part in PARTS]
    return pa.StructArray.from_arrays(arrays, names=list(PARTS), mask=pc.invert(pc.is_valid(found)))


_USADDRESS_LABELS = {
    "AddressNumber": "house_number",
    "StreetNamePreDirectional": "street",
    "StreetNamePreModifier": "street",
    "StreetNamePreType": "street",
    "StreetName": "street",
    "StreetNamePostType": "street",
    "StreetNamePostDirectional": "street",
    "OccupancyIdentifier": "unit",
    "PlaceName": "city",
    "ZipCode": "postcode",
}


def _usaddress_one(text: str) -> dict[str, str | None]:
    import usaddress

    pieces: dict[str, list[str]] = {part: [] for part in PARTS}
    for token, label in usaddress.parse(text):
        part = _USADDRESS_LABELS.get(label)
        if part is not None:
            pieces[part].append(token.strip(",.#"))
    return {part: " ".join(words) or None for part, words in pieces.items()}


@register("address_parts", {"parser": "regex", "part": None}, check=_check_parts)
def address_parts(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Split an address into house_number, street, unit, city, postcode (struct or one ``part``)."""
    text = normalize_address(as_string(values, "address_parts"))
    if options["parser"] == "usaddress":
        parts: pa.Array = map_distinct(text, _usaddress_one, _STRUCT)
    else:
        parts = _regex_parts(text)
    if options["part"] is not None:
        return pc.struct_field(parts, options["part"])
    return parts
