"""The vectorized NANP path of ``phone`` gives libphonenumber's answer, value by value."""

from __future__ import annotations

import re

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.standardize import nanp
from orchestrator.standardize.contact import e164, phone

NANP = list(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
REQUIRES = ("valid", "possible")


def check(values: list[str | None], region: str | None, require: str) -> None:
    got = phone(pa.array(values, pa.string()), {"region": region, "require": require})
    expected = [None if v is None else e164(v, region, require) for v in values]
    wrong = [(v, g, e) for v, g, e in zip(values, got.to_pylist(), expected, strict=True) if g != e]
    assert not wrong, wrong[:10]


def random_digits(seed: int, count: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(9, 13, count)
    digits = rng.integers(0, 10, (count, 12)).astype(str)
    body = ["".join(row[:n]) for row, n in zip(digits, lengths, strict=True)]
    prefixes = np.array(["", "+", "+1", "1"])[rng.integers(0, 4, count)]
    return [p + b for p, b in zip(prefixes, body, strict=True)]


def area_code_sweep() -> list[str]:
    """Every 3-digit area code with exchanges of each kind, in the three plain forms."""
    exchanges = ("000", "100", "123", "199", "200", "555", "911", "976", "999")
    national = [f"{a:03d}{e}{s}" for a in range(200, 1000) for e in exchanges for s in ("0123",)]
    return [f + n for n in national for f in ("", "1", "+1")]


def example_numbers() -> list[str]:
    """Each NANP region's example of each number type: valid numbers of every region."""
    out = []
    for region in NANP:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                out.append(str(number.national_number))
    return sorted(set(out))


def test_the_fast_path_is_taken() -> None:
    assert nanp.rules() is not None
    national = nanp.national_numbers(pa.array(["4155550123", "14155550123", "+14155550123"]), "US")
    assert national is not None and national.to_pylist() == ["4155550123"] * 3
    assert nanp.national_numbers(pa.array(["4155550123"]), "GB") is None
    assert nanp.national_numbers(pa.array(["4155550123"]), None) is None


@pytest.mark.parametrize("require", REQUIRES)
def test_random_digit_strings(require: str) -> None:
    check([*random_digits(1, 8000), None], "US", require)


@pytest.mark.parametrize("require", REQUIRES)
def test_every_area_code_and_exchange_kind(require: str) -> None:
    check(area_code_sweep(), "US", require)


@pytest.mark.parametrize("region", NANP)
def test_every_nanp_default_region(region: str) -> None:
    examples = example_numbers()
    values = random_digits(NANP.index(region), 300) + examples + ["1" + n for n in examples]
    values += ["+1" + n for n in examples[::3]] + area_code_sweep()[::97]
    for require in REQUIRES:
        check(values, region, require)


@pytest.mark.parametrize("region", ["US", "CA", "PR", "GB", "DE", None])
def test_punctuation_other_regions_and_nulls(region: str | None) -> None:
    values = [
        "(415) 555-0123", "415.555.0123", "+1 415 555 0123", "1-415-555-0123", "415/555/0123",
        " 4155550123", "4155550123 ", "415 555 0123 ext. 7", "4155550123x12", "+1+4155550123",
        "++14155550123", "1 (268) 464-1234", "+44 20 7946 0958", "020 7946 0958", "030 901820",
        "+49 30 901820", "ABC 555 0123", "1800FLOWERS", "", None, "011 44 20 7946 0958",
        "+1 (809) 234-5678", "8092345678", "+1 684 274 1234", "+1310 1234",
    ]  # fmt: skip
    for require in REQUIRES:
        check(values + random_digits(7, 300), region, require)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "+", "+1", "1", "+1 ", "1-", "("]),
            st.text(alphabet="0123456789", min_size=9, max_size=12),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["US", "CA", "JM", "DO", "GB"]),
    st.sampled_from(REQUIRES),
)
def test_hypothesis_digit_strings(parts: list[tuple[str, str]], region: str, require: str) -> None:
    check([p + d for p, d in parts], region, require)


def test_metadata_patterns_mean_the_same_in_re2_and_python() -> None:
    table = nanp.rules()
    assert table is not None
    sample = sorted({v[-10:] for v in area_code_sweep() + example_numbers()})
    numbers = pa.array(sample)
    for rule in table:
        patterns = [p for p in (rule.leading, rule.general, rule.types) if p is not None]
        for pattern in patterns:
            re2 = pc.match_substring_regex(numbers, pattern).to_pylist()
            python = [re.search(pattern, n) is not None for n in sample]
            assert re2 == python, (rule.region, pattern)
