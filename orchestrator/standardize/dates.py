"""The ``date`` step: text in several formats to ``date32``, impossible dates to null.

Arrow's ``strptime`` parses each format vectorized but is lenient in two ways
that matter for identity data: it rolls 30 February over to 2 March and lets
``%Y`` match a two-digit year. So each format is also translated to an RE2
pattern that must match the whole value, and the parsed day of month must equal
the written one; a value failing either check (or dated year 0) is null, never a
shifted date.
The first format (in order) that parses a value wins, which is how ``dayfirst``
decides 03/04/2020.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.standardize._arrow import as_string
from orchestrator.standardize.errors import StandardizeError
from orchestrator.standardize.registry import register

ISO_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
MONTHFIRST_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%d/%m/%Y", "%d-%m-%Y")
DAYFIRST_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%m/%d/%Y", "%m-%d-%Y")
WORD_FORMATS = (
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
)

_DIRECTIVES = {
    "Y": r"(?:\d{4})",
    "y": r"(?:\d{2})",
    "m": r"(?:\d{1,2})",
    "d": r"(?P<day>\d{1,2})",
    "b": r"(?:[A-Za-z]{3})",
    "B": r"(?:[A-Za-z]{3,9})",
}
_RE2_SPECIAL = set(r"\.^$|?*+()[]{}")


def default_formats(dayfirst: bool) -> list[str]:
    """ISO first, then numeric day/month in the order ``dayfirst`` asks, then month names."""
    middle = DAYFIRST_FORMATS if dayfirst else MONTHFIRST_FORMATS
    return [*ISO_FORMATS, *middle, *WORD_FORMATS]


def format_pattern(fmt: str) -> str:
    """The RE2 pattern matching exactly what ``fmt`` may parse, with the day as a group."""
    out: list[str] = ["^"]
    index = 0
    seen_day = False
    while index < len(fmt):
        char = fmt[index]
        if char == "%":
            if index + 1 >= len(fmt):
                raise StandardizeError(f"date format {fmt!r} ends with a lone %")
            code = fmt[index + 1]
            if code == "%":
                out.append("%")
            elif code in _DIRECTIVES:
                if code == "d":
                    if seen_day:
                        raise StandardizeError(f"date format {fmt!r} has %d twice")
                    seen_day = True
                out.append(_DIRECTIVES[code])
            else:
                supported = ", ".join(f"%{c}" for c in _DIRECTIVES)
                raise StandardizeError(
                    f"date format {fmt!r}: %{code} is not supported (use {supported})"
                )
            index += 2
            continue
        out.append("\\" + char if char in _RE2_SPECIAL else char)
        index += 1
    if not seen_day:
        raise StandardizeError(f"date format {fmt!r} has no day (%d)")
    out.append("$")
    return "".join(out)


def _bound(value: Any, name: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise StandardizeError(f"step 'date': {name} must be an ISO date, got {value!r}") from None


def _check(options: Mapping[str, Any]) -> None:
    formats = options["formats"]
    if formats is not None:
        if not isinstance(formats, list | tuple) or not formats:
            raise StandardizeError("step 'date': formats must be a non-empty list")
        for fmt in formats:
            format_pattern(str(fmt))
    _bound(options["min"], "min")
    _bound(options["max"], "max")


def parse_dates(text: pa.Array, formats: Sequence[str]) -> pa.Array:
    """Parse ``text`` trying ``formats`` in order; values no format fits exactly are null."""
    clean = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    result = pa.nulls(len(clean), pa.date32())
    for fmt in formats:
        pieces = pc.extract_regex(clean, pattern=format_pattern(fmt))
        written_day = pc.cast(pc.struct_field(pieces, "day"), pa.int64(), safe=False)
        fits = pc.is_valid(pieces)
        candidate = pc.if_else(fits, clean, pa.scalar(None, clean.type))
        parsed = pc.strptime(candidate, format=fmt, unit="s", error_is_null=True)
        same_day = pc.and_(
            pc.equal(pc.day(parsed), pc.if_else(fits, written_day, None)),
            pc.greater_equal(pc.year(parsed), 1),  # no year 0 in the proleptic Gregorian calendar
        )
        parsed_date = pc.if_else(same_day, pc.cast(parsed, pa.date32()), None)
        result = pc.coalesce(result, parsed_date)
    return result


@register(
    "date",
    {"formats": None, "dayfirst": False, "min": None, "max": None},
    check=_check,
)
def date(values: pa.Array, options: Mapping[str, Any]) -> pa.Array:
    """Dates written in several formats to date32; impossible or out-of-range dates become null."""
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        result = pc.cast(values, pa.date32())
    else:
        formats = options["formats"] or default_formats(bool(options["dayfirst"]))
        result = parse_dates(as_string(values, "date"), [str(f) for f in formats])
    low, high = _bound(options["min"], "min"), _bound(options["max"], "max")
    if low is not None:
        result = pc.if_else(pc.less(result, pa.scalar(low, pa.date32())), None, result)
    if high is not None:
        result = pc.if_else(pc.greater(result, pa.scalar(high, pa.date32())), None, result)
    return result
