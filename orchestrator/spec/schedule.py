"""Validation of ``schedule:`` cron expressions (the classic 5-field form).

We only check the expression here, so a typo is caught when the spec is
loaded instead of silently never firing; computing fire times belongs to the
scheduler. Accepted: numbers, ``*``, ranges ``a-b``, lists ``a,b``, steps
``*/n`` and ``a-b/n``, month and weekday names (``jan``..``dec``,
``sun``..``sat``, weekday 7 = Sunday) and the ``@daily``-style macros.
"""

from __future__ import annotations

import re

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# (name, low, high, names mapped to numbers)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_ITEM = re.compile(r"(?P<range>\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(?P<step>[0-9]+))?")


def _value(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    if text.isdigit():
        number = int(text)
    elif text in names:
        number = names[text]
    else:
        raise ValueError(f"{field}: '{text}' is not a number or a known name")
    if not low <= number <= high:
        raise ValueError(f"{field}: {number} is out of range {low}-{high}")
    return number


def _check_field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> None:
    for item in text.lower().split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"{field}: cannot read '{item}'")
        step = match.group("step")
        if step is not None and int(step) == 0:
            raise ValueError(f"{field}: a step must be at least 1")
        part = match.group("range")
        if part == "*":
            continue
        bounds = [_value(b, low, high, names, field) for b in part.split("-")]
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ValueError(f"{field}: range {part} goes backwards")


def cron_error(expression: str) -> str | None:
    """Why ``expression`` is not a valid cron schedule, or None when it is."""
    text = expression.strip()
    text = MACROS.get(text.lower(), text)
    fields = text.split()
    if len(fields) != 5:
        return (
            f"a cron expression has 5 fields (minute hour day-of-month month "
            f"day-of-week), this one has {len(fields)}"
        )
    for part, (field, low, high, names) in zip(fields, _FIELDS, strict=True):
        try:
            _check_field(part, field, low, high, names)
        except ValueError as exc:
            return str(exc)
    return None
