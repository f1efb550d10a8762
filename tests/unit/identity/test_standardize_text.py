"""Text steps against Python's own str methods and unicodedata, and the registry."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unidecode import unidecode

from orchestrator.standardize import STEPS, StandardizeError, apply_step, apply_steps, parse_steps
from orchestrator.standardize._arrow import map_distinct

# Arrow applies Unicode's simple (one-to-one) case mapping, Python the full one
# (İ → i̇, ŉ → ʼN), and Arrow's Unicode tables may be newer than Python's (Unicode 16
# gave ƛ an upper case): compare on Latin-1 and Latin Extended-A, where the two coincide.
ALPHABET = st.characters(
    codec="utf-8",
    categories=("Lu", "Ll", "Nd", "Zs", "Po", "Pd"),
    max_codepoint=0x017F,
).filter(lambda c: len(c.lower()) == 1 and len(c.upper()) == 1) | st.sampled_from(
    ["\t", "\n", " ", "Ω", "ж", "Ж", "σ", "\u00a0", "\u2003"]
)
TEXTS = st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=12)), max_size=30)


def run(step: str, values: list[str | None], **options: object) -> list[object]:
    return apply_step(step, pa.array(values, pa.string()), options).to_pylist()


@settings(max_examples=60, deadline=None)
@given(TEXTS)
def test_case_and_whitespace_steps_equal_python_str_methods(values: list[str | None]) -> None:
    assert run("trim", values) == [None if v is None else v.strip() for v in values]
    assert run("lower", values) == [None if v is None else v.lower() for v in values]
    assert run("upper", values) == [None if v is None else v.upper() for v in values]
    assert run("collapse_whitespace", values) == [
        None if v is None else " ".join(v.split()) for v in values
    ]


# characters this Python's Unicode tables know (Arrow's may be newer: U+1E030,
# added in Unicode 15, normalizes there and is unassigned in Python 3.11's)
KNOWN = st.characters(exclude_categories=("Cn", "Cs"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(KNOWN, max_size=10)), max_size=30))
def test_nfkc_equals_unicodedata(values: list[str | None]) -> None:
    for form in ("NFKC", "NFC", "NFD", "NFKD"):
        expected = [None if v is None else unicodedata.normalize(form, v) for v in values]  # type: ignore[arg-type]
        assert run("nfkc", values, form=form) == expected


def test_nfkc_folds_compatibility_forms() -> None:
    assert run("nfkc", ["ﬁle", "Ｔｏｋｙｏ", "Ⅻ", "e\u0301"]) == ["file", "Tokyo", "XII", "é"]


def test_strip_accents_transliterates() -> None:
    got = run("strip_accents", ["José", "Straße", "Øre", "Москва", "北京", None])
    assert got == ["Jose", "Strasse", "Ore", "Moskva", "Bei Jing ", None]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=0xC0, max_codepoint=0x17F), max_size=8)))
def test_strip_accents_of_latin_letters_equals_dropping_combining_marks(values: list[str]) -> None:
    # Reference another way: decompose, drop combining marks. Both agree wherever
    # the decomposition leaves plain ASCII (letters like ß or Ø have none).
    for value, got in zip(values, run("strip_accents", values), strict=True):
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c)
        )
        if stripped.isascii():
            assert got == stripped
        else:
            assert got == unidecode(value)


def test_title() -> None:
    assert run("title", ["ada LOVELACE", "o'neil"]) == ["Ada Lovelace", "O'Neil"]


def test_null_tokens_default_and_custom() -> None:
    values = ["", " ", "N/A", "n/a", " NULL ", "none", "x", None, "NaN", "-", "0"]
    expected = [None, None, None, None, None, None, "x", None, None, None, "0"]
    assert run("null_tokens", values) == expected
    assert run("null_tokens", ["unknown", "UNKNOWN", "N/A"], tokens=["unknown"]) == [
        None,
        None,
        "N/A",
    ]
    assert run("null_tokens", ["unknown", "UNKNOWN"], tokens=["unknown"], case_sensitive=True) == [
        None,
        "UNKNOWN",
    ]


def test_registry_names_spec_steps() -> None:
    for name in ("trim", "lower", "nfkc", "strip_accents", "null_tokens", "date", "phone"):
        assert name in STEPS
    for name in ("email", "name", "address", "soundex", "metaphone", "nysiis", "year"):
        assert name in STEPS
    assert all(step.summary for step in STEPS.values())


def test_parse_steps_forms_and_errors() -> None:
    parsed = parse_steps(["trim", {"date": {"dayfirst": True}}, {"lower": None}])
    assert [name for name, _ in parsed] == ["trim", "date", "lower"]
    assert parsed[1][1]["dayfirst"] is True
    with pytest.raises(StandardizeError, match="unknown standardization step 'trimm'"):
        parse_steps(["trimm"])
    with pytest.raises(StandardizeError, match="unknown option"):
        parse_steps([{"phone": {"regoin": "US"}}])
    with pytest.raises(StandardizeError, match="unknown region"):
        parse_steps([{"phone": {"region": "XX"}}])
    with pytest.raises(StandardizeError, match="as a name or as"):
        parse_steps([{"trim": None, "lower": None}])


def test_apply_steps_chains_and_accepts_chunked_dictionary_and_numbers() -> None:
    chunked = pa.chunked_array([["  N/A ", " Ada  "], [None, "GRACE"]])
    assert apply_steps(chunked, ["null_tokens", "collapse_whitespace", "lower"]).to_pylist() == [
        None,
        "ada",
        None,
        "grace",
    ]
    encoded = pa.array(["  x", "y ", "  x"]).dictionary_encode()
    assert apply_step("trim", encoded).to_pylist() == ["x", "y", "x"]
    assert apply_step("trim", pa.array([1, None, 3])).to_pylist() == ["1", None, "3"]
    with pytest.raises(StandardizeError, match="needs a text column"):
        apply_step("trim", pa.array([[1]]))


def test_map_distinct_calls_once_per_distinct_value() -> None:
    calls: list[str] = []

    def shout(value: str) -> str:
        calls.append(value)
        return value.upper()

    values = pa.array(["a", "b", None, "a", "b", "a"] * 1000)
    assert map_distinct(values, shout, pa.string()).to_pylist()[:6] == [
        "A",
        "B",
        None,
        "A",
        "B",
        "A",
    ]
    assert sorted(calls) == ["a", "b"]
