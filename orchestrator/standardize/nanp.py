"""North American numbers (country calling code 1) decided by Arrow kernels alone.

libphonenumber costs tens of µs per number in pure Python; for the plain NANP
forms its answer is fixed by the numbering-plan metadata, which this module
turns into RE2 patterns once per process. The forms, and what the library does
with them when the default region's calling code is 1 (``phonenumberutil.parse``):

- ``NXXXXXXXXX`` (10 digits, N = 2-9): no IDD (NANP's is ``011``), no leading
  "1" to take as the country code, and no national prefix to strip (the
  prefixes for parsing are "1" or a 7-digit-only ``(...\\d{6})$``), so the
  national number is the value itself.
- ``1NXXXXXXXXX``: the 11 digits are too long for the region, so the "1" is
  taken as the country code and the rest is the national number.
- ``+1NXXXXXXXXX``: country code 1 whatever the region; the national number is
  the 10 digits.

:func:`national_numbers` checks those assumptions against the metadata and
returns None where they do not hold (everything then takes the slow path).

Validity mirrors ``is_valid_number``: the region is the first of
``COUNTRY_CODE_TO_REGION_CODE[1]`` whose ``leading_digits`` prefix the number
(or, without leading digits, that validates it), and the number is valid iff
that region's ``_number_type_helper`` finds a type: the general description and
one of the type descriptions (mobile only where it differs from fixed line)
match in full, each only where its ``possible_length`` allows 10 digits.
Possibility depends on the length alone, so one library call decides it for all.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata

LENGTH = 10
_FORMS = r"^(?:\+1|1)?(?P<national>[2-9][0-9]{9})$"
_TYPES = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
    "pager", "uan", "voicemail", "fixed_line",
)  # fmt: skip
# Digits, \d, classes, groups, alternation and counts: RE2 and Python's re agree.
_SIMPLE = re.compile(r"[0-9\\d\[\]()?:|{},\-]+")
_PREFIX_FOR_PARSING = re.compile(r"(?:\(\[?[0-9\-]+\]?\\d\{6\}\)\$\|)?1")


class Rule(NamedTuple):
    """One NANP region as ``is_valid_number`` sees a 10-digit national number."""

    region: str
    leading: str | None  # RE2 prefix pattern, or None: the region claims what it validates
    general: str  # anchored
    types: str | None  # anchored union of the type patterns, or None: no type fits


def _anchored(patterns: list[str]) -> str | None:
    return "^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$" if patterns else None


def _fits(desc: object) -> str | None:
    """The pattern of a description that can match a 10-digit number, else None."""
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = getattr(desc, "possible_length", ())
    if not pattern or (lengths and LENGTH not in lengths):
        return None
    if not _SIMPLE.fullmatch(pattern):
        raise ValueError(pattern)
    return str(pattern)


def _parses_plainly(region: str) -> bool:
    """The three forms parse to their 10 digits for this default region (see the module)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code != 1:
        return False
    general = meta.general_desc
    if general is None:
        return False
    return (
        bool(re.fullmatch(r"0[0-9]*", meta.international_prefix or ""))
        and bool(_PREFIX_FOR_PARSING.fullmatch(meta.national_prefix_for_parsing or ""))
        and max(general.possible_length, default=LENGTH + 1) <= LENGTH
        and LENGTH + 1 not in general.possible_length_local_only
    )


@functools.cache
def rules() -> tuple[Rule, ...] | None:
    """Every NANP region in lookup order, or None if a pattern is beyond this module."""
    out = []
    try:
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
            meta = PhoneMetadata.metadata_for_region(region)
            if meta is None:
                continue
            general = _fits(meta.general_desc)
            types = [_fits(getattr(meta, name)) for name in _TYPES]
            if not meta.same_mobile_and_fixed_line_pattern:
                types.append(_fits(meta.mobile))
            leading = meta.leading_digits
            if leading is not None and not _SIMPLE.fullmatch(leading):
                return None
            out.append(
                Rule(
                    region,
                    None if leading is None else f"^(?:{leading})",
                    "^$" if general is None else f"^(?:{general})$",
                    _anchored([t for t in types if t is not None]),
                )
            )
    except ValueError:
        return None
    return tuple(out)


@functools.cache
def _eligible(region: str) -> bool:
    main = phonenumbers.region_code_for_country_code(1)
    return (
        phonenumbers.country_code_for_region(region) == 1
        and _parses_plainly(region)
        and _parses_plainly(main)
    )


def national_numbers(text: pa.Array, region: str | None) -> pa.Array | None:
    """The 10-digit national number of each value in a fast form, null elsewhere.

    None when ``region`` is not a NANP region whose metadata fits the module's
    reading of ``parse`` (all values then go to libphonenumber).
    """
    if region is None or not _eligible(region):
        return None
    return pc.struct_field(pc.extract_regex(text, _FORMS), "national")


@functools.cache
def _possible() -> bool:
    number = phonenumbers.PhoneNumber(country_code=1, national_number=2 * 10 ** (LENGTH - 1))
    return bool(phonenumbers.is_possible_number(number))


def _match(values: pa.Array, pattern: str | None) -> np.ndarray:
    if pattern is None:
        return np.zeros(len(values), dtype=bool)
    return pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False)


def _validates(values: pa.Array, rule: Rule) -> np.ndarray:
    ok = _match(values, rule.general)
    if ok.any():
        ok[ok] = _match(values.filter(pa.array(ok)), rule.types)
    return ok


def accepted(national: pa.Array, require: str) -> pa.Array | None:
    """Whether each national number (non-null, 10 digits) passes ``require``.

    None when the metadata has a pattern this module does not translate.
    """
    if require != "valid":
        return pa.array(np.full(len(national), _possible()))
    table = rules()
    if table is None:
        return None
    verdict = np.zeros(len(national), dtype=bool)
    rows = np.arange(len(national))
    left = national
    for rule in table:
        if not len(left):
            break
        if rule.leading is None:
            claimed = _validates(left, rule)
            verdict[rows[claimed]] = True
        else:
            claimed = _match(left, rule.leading)
            mine = rows[claimed]
            verdict[mine] = _validates(left.filter(pa.array(claimed)), rule)
        keep = pa.array(~claimed)
        left, rows = left.filter(keep), rows[~claimed]
    return pa.array(verdict)
