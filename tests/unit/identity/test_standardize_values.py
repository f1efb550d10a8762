"""Dates, numbers, phones and emails against references computed another way."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.standardize import StandardizeError, apply_step, parse_steps
from orchestrator.standardize.dates import default_formats


def run(step: str, values: list[object], **options: object) -> list[object]:
    return apply_step(step, pa.array(values), options).to_pylist()


def test_dates_in_several_formats_handwritten() -> None:
    values = [
        "1980-05-17", "1980/05/17", "19800517", "05/17/1980", "17.05.1980", "17 May 1980",
        "May 17, 1980", "may 17 1980", "17-MAY-1980", " 1980-5-7 ", None, "", "yesterday",
    ]  # fmt: skip
    may17 = dt.date(1980, 5, 17)
    assert run("date", values) == [may17] * 9 + [dt.date(1980, 5, 7), None, None, None]


def test_impossible_dates_are_null_not_rolled_over() -> None:
    values = ["2023-02-29", "2024-02-29", "2023-04-31", "2023-13-01", "31 Apr 2020", "0000-01-01"]
    assert run("date", values) == [None, dt.date(2024, 2, 29), None, None, None, None]
    assert run("date", ["12-03-20"]) == [None]  # two-digit years only by an explicit format
    assert run("date", ["80-05-17"], formats=["%y-%m-%d"]) == [dt.date(1980, 5, 17)]


def test_dayfirst_and_bounds() -> None:
    assert run("date", ["03/04/2020"]) == [dt.date(2020, 3, 4)]
    assert run("date", ["03/04/2020"], dayfirst=True) == [dt.date(2020, 4, 3)]
    bounded = run(
        "date", ["1850-01-01", "1990-01-01", "2090-01-01"], min="1900-01-01", max="2030-12-31"
    )
    assert bounded == [None, dt.date(1990, 1, 1), None]
    assert run("date", [dt.date(2001, 2, 3), None]) == [dt.date(2001, 2, 3), None]
    with pytest.raises(StandardizeError, match="not supported"):
        parse_steps([{"date": {"formats": ["%Y-%j"]}}])
    with pytest.raises(StandardizeError, match="ISO date"):
        parse_steps([{"date": {"min": "yesterday"}}])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1000, 1, 1)), min_size=1, max_size=20))
def test_every_default_format_round_trips_python_strftime(dates: list[dt.date]) -> None:
    for fmt in default_formats(dayfirst=False):
        if "%m/%d" in fmt or "%m-%d" in fmt or "%d/%m" in fmt or "%d-%m" in fmt:
            # Numeric day/month: ambiguous when both are <= 12; check its own format alone.
            written = [d.strftime(fmt) for d in dates]
            assert run("date", written, formats=[fmt]) == dates
        else:
            assert run("date", [d.strftime(fmt) for d in dates]) == dates


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1900, 2100), st.integers(0, 14), st.integers(0, 33))))
def test_impossible_ymd_are_null_like_python_date(triples: list[tuple[int, int, int]]) -> None:
    written = [f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in triples]
    expected: list[dt.date | None] = []
    for y, m, d in triples:
        try:
            expected.append(dt.date(y, m, d))
        except ValueError:
            expected.append(None)
    assert run("date", written) == expected


def test_numbers_with_locale_separators() -> None:
    values = ["1,234.56", " -1,234 ", "(12.50)", "$1,000", "€ 3.5", "1e3", "abc", "", None, "1.2.3"]
    assert run("number", values) == [
        1234.56,
        -1234.0,
        -12.5,
        1000.0,
        3.5,
        1000.0,
        None,
        None,
        None,
        None,
    ]
    de = ["1.234,56", "1 234,5", "1\u00a0234,5", "12", "-0,5"]
    assert run("number", de, decimal=",") == [1234.56, 1234.5, 1234.5, 12.0, -0.5]
    assert run("number", ["1'234.5"]) == [1234.5]
    assert run("number", ["1,234", "1.5", "x"], type="int64") == [1234, None, None]
    assert run("number", [3, None]) == [3.0, None]
    with pytest.raises(StandardizeError, match="decimal"):
        parse_steps([{"number": {"decimal": ";"}}])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.decimals(min_value=-(10**9), max_value=10**9, places=2), max_size=20))
def test_numbers_equal_python_formatted_values(values: list[object]) -> None:
    english = [f"{v:,.2f}" for v in values]
    german = [s.replace(",", "_").replace(".", ",").replace("_", ".") for s in english]
    expected = [float(v) for v in values]  # type: ignore[arg-type]
    assert run("number", english) == expected
    assert run("number", german, decimal=",") == expected


PHONES = [
    "(415) 555-0132", "415.555.0132", "+1 415 555 0132", "001 415 555 0132", "4155550132",
    "+44 20 7946 0958", "020 7946 0958", "+49 30 901820", "12", "not a phone", "",
    "+1 800 FLOWERS", "202-555-0143 ext. 7",
]  # fmt: skip


@pytest.mark.parametrize("region", ["US", "GB", "DE"])
def test_phone_equals_phonenumbers_called_directly(region: str) -> None:
    samples = list(PHONES)
    for other in ("US", "GB", "DE", "FR", "JP", "BR"):
        example = phonenumbers.example_number(other)
        samples.append(
            phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        )
        samples.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL))
    expected: list[str | None] = []
    for text in samples:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            expected.append(None)
            continue
        ok = phonenumbers.is_valid_number(number)
        expected.append(
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None
        )
    assert run("phone", samples, region=region) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "+", "+1 ", "1 ", "+44 ", "0", "+49 (0)"]),
            st.lists(
                st.tuples(st.integers(0, 9), st.sampled_from(["", " ", "-", ".", "(", ")", "/"])),
                min_size=6,
                max_size=12,
            ),
            st.sampled_from(["", " ext. 7", " x12", "#"]),
        ),
        max_size=15,
    ),
    st.sampled_from(["US", "GB", "DE"]),
)
def test_phone_punctuation_shortcut_equals_phonenumbers_on_raw_text(
    parts: list[tuple[str, list[tuple[int, str]], str]], region: str
) -> None:
    samples = [head + "".join(f"{d}{sep}" for d, sep in body) + tail for head, body, tail in parts]
    assert run("phone", samples, region=region) == [e164_direct(s, region) for s in samples]


def e164_direct(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_phone_handwritten_and_numeric_input() -> None:
    assert run("phone", ["(415) 555-0132", "020 7946 0958", None]) == ["+14155550132", None, None]
    assert run("phone", ["020 7946 0958"], region="gb") == ["+442079460958"]
    assert run("phone", [4155550132, None]) == ["+14155550132", None]
    assert run("phone", ["415 555 01"], require="possible") == [None]


def test_email_normalization() -> None:
    values = [
        "  Ann.Lee@Example.COM ", "ann.lee+news@example.com", "A.n.N+x@GoogleMail.com",
        "no-at-sign", "two@@example.com", "@example.com", "ann@localhost", ".ann@x.org", None,
    ]  # fmt: skip
    assert run("email", values) == [
        "ann.lee@example.com", "ann.lee+news@example.com", "a.n.n+x@googlemail.com",
        None, None, None, None, None, None,
    ]  # fmt: skip
    assert run("email", values[:3], plus=True) == [
        "ann.lee@example.com", "ann.lee@example.com", "a.n.n@googlemail.com",
    ]  # fmt: skip
    assert run("email", values[:3], plus=True, gmail=True) == [
        "ann.lee@example.com", "ann.lee@example.com", "ann@gmail.com",
    ]  # fmt: skip
