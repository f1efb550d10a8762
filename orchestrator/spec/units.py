"""Human units in specs: durations (``30m``, ``1h30m``) and sizes (``64MiB``).

Specs are written by people, so timeouts and chunk sizes are read the way
people write them. Parsing is exact (:class:`~fractions.Fraction`
arithmetic), so ``parse_duration(format_duration(x)) == x`` and
``parse_size(format_size(n)) == n`` hold: a value shown by the CLI can be
pasted back into a spec unchanged.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

DURATION_UNITS: dict[str, Fraction] = {
    "d": Fraction(86_400),
    "h": Fraction(3_600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}
# Binary units first: format_size prefers them (chunk sizes are usually MiB).
SIZE_UNITS: dict[str, int] = {
    "tib": 1024**4,
    "gib": 1024**3,
    "mib": 1024**2,
    "kib": 1024,
    "tb": 1000**4,
    "gb": 1000**3,
    "mb": 1000**2,
    "kb": 1000,
    "b": 1,
}
_SIZE_SPELLING = {
    "tib": "TiB",
    "gib": "GiB",
    "mib": "MiB",
    "kib": "KiB",
    "tb": "TB",
    "gb": "GB",
    "mb": "MB",
    "kb": "KB",
}

_NUMBER = r"\d+(?:\.\d+)?"
_DURATION_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|d|h|m|s)")
_SIZE = re.compile(rf"\s*({_NUMBER})\s*([kmgt]i?b|b)?\s*", re.IGNORECASE)

DURATION_HINT = "use e.g. 30s, 5m, 2h, 1h30m, 500ms or a number of seconds"
SIZE_HINT = "use e.g. 512KiB, 64MiB, 1GB or a number of bytes"


def _plain_number(value: str) -> Fraction | None:
    """A bare decimal number (``"90"``, ``"1.5"``, ``"1e-05"``), else None."""
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return Fraction(number)


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: ``30m``, ``2s``, ``1h30m``, ``500ms``, ``1d`` or a number.

    Raises :class:`ValueError` with a message fit to show to the user.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {DURATION_HINT}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"invalid duration {value!r}: must be a non-negative number")
        return float(value)
    text = value.strip()
    plain = _plain_number(text)
    if plain is not None:
        return float(plain)
    total = Fraction(0)
    position = 0
    seen: set[str] = set()
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None or match.group(2) in seen:
            raise ValueError(f"invalid duration {value!r}: {DURATION_HINT}")
        seen.add(match.group(2))
        total += Fraction(match.group(1)) * DURATION_UNITS[match.group(2)]
        position = match.end()
    if not seen:
        raise ValueError(f"invalid duration {value!r}: {DURATION_HINT}")
    return float(total)


def format_duration(seconds: float) -> str:
    """The shortest spec spelling of ``seconds`` that parses back to the same float."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format duration {seconds!r}")
    millis = round(seconds * 1000)
    if millis / 1000 != seconds:
        return repr(float(seconds))
    if millis == 0:
        return "0s"
    parts = []
    remaining = Fraction(millis, 1000)
    for unit, size in DURATION_UNITS.items():
        count = remaining // size
        if count:
            parts.append(f"{count}{unit}")
            remaining -= count * size
    return "".join(parts)


def parse_size(value: str | int) -> int:
    """Bytes in ``value``: ``64MiB``, ``1GB``, ``512KiB``, ``100`` (bytes).

    Binary (KiB, MiB...) and decimal (KB, MB...) units are both accepted,
    case-insensitively; fractions (``1.5GiB``) are rounded to whole bytes.
    Raises :class:`ValueError` with a message fit to show to the user.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"invalid size {value!r}: {SIZE_HINT}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid size {value!r}: must not be negative")
        return value
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid size {value!r}: {SIZE_HINT}")
    unit = (match.group(2) or "b").lower()
    return round(Fraction(match.group(1)) * SIZE_UNITS[unit])


def format_size(nbytes: int) -> str:
    """The spec spelling of ``nbytes`` with the largest unit that divides it exactly."""
    if nbytes < 0:
        raise ValueError(f"cannot format size {nbytes!r}")
    for unit, size in SIZE_UNITS.items():
        if unit != "b" and nbytes and nbytes % size == 0:
            return f"{nbytes // size}{_SIZE_SPELLING[unit]}"
    return str(nbytes)
