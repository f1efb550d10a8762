"""Contact steps: ``phone`` to E.164 and ``email`` normalization.

Phones go through Google's libphonenumber port (``phonenumbers``), once per
distinct value: Arrow has no kernel for numbering plans. The exception is the
bulk of North American data: with a NANP default region (US, CA, PR, ...), a
plain 10-digit ``NXXXXXXXXX`` (N = 2-9), alone or after "1" or "+1", is decided
by Arrow kernels alone (:mod:`orchestrator.standardize.nanp`), which apply the
library's own metadata patterns in the order its ``parse`` and
``is_valid_number`` apply them, so the answers are the library's
(tests/unit/test_phone_fast_path.py checks them value by value). Emails are
Arrow kernels only.

Email rules, and why the provider rules are opt-in: lower-casing the whole
address and trimming is always safe in practice (RFC 5321 lets the local part be
case-sensitive, but no large provider treats it so). ``plus: true`` drops a
``+tag`` from the local part for every domain (sub-addressing: Gmail, Outlook,
Fastmail, iCloud and most servers deliver ``ann+news@x`` to ``ann@x``); a domain
that uses "+" as a real character would be merged wrongly, so it is off by
default. ``gmail: true`` removes dots from the local part and maps
googlemail.com to gmail.com, which only Google guarantees. A value without
exactly one "@" and a dot-free-edged, non-empty local part and domain is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize import nanp
from orchestrator.standardize._arrow import as_string, map_distinct
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
_CHECKS = ("valid", "possible")
_EMAIL = r"^(?P<local>[^@\s]+)@(?P<domain>[^@\s]+\.[^@\s]+)$"


def _check_phone(options: Mapping[str, Any]) -> None:
    region = options["region"]
    if region is not None and str(region).upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise StandardizeError(
            f"step 'phone': unknown region {region!r} (use ISO codes: US, GB, DE)"
        )
    if options["require"] not in _CHECKS:
        raise StandardizeError(f"step 'phone': require must be one of {', '.join(_CHECKS)}")


def e164(text: str, region: str | None, require: str = "valid") -> str | None:
    """One phone number in E.164 (``+14155550123``), or None when it is not a number."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    ok = (
        phonenumbers.is_valid_number(parsed)
        if require == "valid"
        else phonenumbers.is_possible_number(parsed)
    )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if ok else None


_PLAIN_PHONE = r"^\s*\+?[0-9\s().\-/]+$"
_PHONE_PUNCTUATION = r"[\s().\-/]+"  # runs at once: the same result, half the cost


def collapse_phone_punctuation(text: pa.Array) -> pa.Array:
    """Drop spaces, dots, dashes, slashes and brackets from values made only of those and digits.

    libphonenumber ignores these characters when it parses, so the result is the
    same; what changes is the cost: "(415) 555-0132", "415.555.0132" and
    "4155550132" become one distinct value, parsed once. Values with anything
    else (an extension "ext. 7", letters, a second "+") are left whole for the
    library to read.
    """
    plain = pc.match_substring_regex(text, _PLAIN_PHONE)
    stripped = pc.replace_substring_regex(text, _PHONE_PUNCTUATION, "")
    return pc.if_else(plain, stripped, text)


@register("phone", {"region": "US", "require": "valid"}, check=_check_phone)
def phone(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Phone numbers to E.164 with a default region for national numbers; invalid ones null.

    Cost: plain North American numbers with a NANP region take the vectorized
    path, ~1.5 µs per row (mostly collapsing the punctuation); everything else
    pays libphonenumber's validity check, ~40-80 µs per distinct number (pure
    Python). ``require: possible`` checks only the length but keeps numbers no
    operator issues.
    """
    text = collapse_phone_punctuation(as_string(values, "phone"))
    region = None if options["region"] is None else str(options["region"]).upper()
    require = str(options["require"])

    def slow(part: pa.Array) -> pa.Array:
        return map_distinct(part, lambda v: e164(v, region, require), pa.string())

    national = nanp.national_numbers(text, region)
    ok = None if national is None else nanp.accepted(pc.drop_null(national), require)
    if national is None or ok is None:
        return slow(text)
    fast = pc.is_valid(national)
    found = pc.binary_join_element_wise("+1", pc.drop_null(national), "").cast(pa.string())
    found = pc.if_else(ok, found, pa.scalar(None, pa.string()))
    out = pc.replace_with_mask(pa.nulls(len(text), pa.string()), fast, found)
    return pc.replace_with_mask(out, pc.invert(fast), slow(text.filter(pc.invert(fast))))


@register("email", {"plus": False, "gmail": False})
def email(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Emails trimmed and lower-cased; optional +tag and Gmail dot rules; malformed ones null."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(as_string(values, "email")))
    parts = pc.extract_regex(text, pattern=_EMAIL)
    local = pc.struct_field(parts, "local")
    domain = pc.struct_field(parts, "domain")
    if options["gmail"]:
        domain = pc.replace_substring_regex(domain, r"^googlemail\.com$", "gmail.com")
    if options["plus"]:
        local = pc.replace_substring_regex(local, r"\+.*$", "")
    if options["gmail"]:
        is_gmail = pc.equal(domain, "gmail.com")
        local = pc.if_else(is_gmail, pc.replace_substring(local, ".", ""), local)
    edges_ok = pc.invert(pc.match_substring_regex(local, r"^\.|\.$|^$"))
    joined = pc.binary_join_element_wise(local, domain, "@")
    keep = pc.and_(pc.is_valid(parts), edges_ok)
    return pc.if_else(keep, joined, pa.scalar(None, joined.type))
