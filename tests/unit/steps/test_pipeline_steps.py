"""Every preprocessing step against a reference computed another way (plain Python,
``unicodedata``, ``phonenumbers`` called directly), on small handmade columns."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

import phonenumbers
import pyarrow as pa
import pytest

from orchestrator.standardize import StandardizeError
from orchestrator.standardize.pipeline import apply_pipeline, next_columns, parse_pipeline

TEXT = ["  Ann  Lee ", "\u00a0Bob\tSmith\n", None, "ÉMILE zola", "ﬁne\u3000ｆｕｌｌ", "x", ""]


def run(column: list[Any], *entries: Any, type_: pa.DataType | None = None) -> list[Any]:
    table = pa.table({"c": pa.array(column, type=type_)})
    return apply_pipeline(table, parse_pipeline(list(entries))).column("c").to_pylist()


def each(values: list[Any], func: Any) -> list[Any]:
    return [None if v is None else func(v) for v in values]


def test_trim_matches_str_strip() -> None:
    assert run(TEXT, {"trim": "c"}) == each(TEXT, str.strip)


def test_collapse_whitespace_matches_split_and_join() -> None:
    assert run(TEXT, {"collapse_whitespace": "c"}) == each(TEXT, lambda s: " ".join(s.split()))


@pytest.mark.parametrize("step", ["lower", "upper"])
def test_case_steps_match_python_after_nfkc(step: str) -> None:
    # Arrow maps case one character to one (Python upper-cases "ﬁ" to "FI"):
    # with nfkc first, as a cleaning list has it, both agree
    folded = each(TEXT, lambda s: unicodedata.normalize("NFKC", s))
    assert run(TEXT, {"nfkc": "c"}, {step: ["c"]}) == each(folded, getattr(str, step))


def test_title_matches_python_on_words_without_apostrophes() -> None:
    words = ["ann lee", "BOB SMITH", None, "émile zola"]
    assert run(words, {"title": "c"}) == each(words, str.title)


@pytest.mark.parametrize("form", ["NFKC", "NFC", "NFD", "NFKD"])
def test_unicode_forms_match_unicodedata(form: str) -> None:
    got = run(TEXT, {"nfkc": {"columns": "c", "form": form}})
    assert got == each(TEXT, lambda s: unicodedata.normalize(form, s))


def test_strip_accents_matches_dropping_combining_marks_on_latin_text() -> None:
    latin = ["Émile Zola", "crème brûlée", "Ñandú", "plain", None]

    def reference(s: str) -> str:
        decomposed = unicodedata.normalize("NFKD", s)
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    assert run(latin, {"strip_accents": "c"}) == each(latin, reference)


def test_null_tokens_match_a_set_lookup() -> None:
    values = ["N/A", " null ", "ok", "", "NONE", "n/a", "-", None, "value"]
    tokens = {"", "N/A", "NA", "NULL", "NONE", "NAN", "-", "--", "?", "#N/A"}
    expected = [None if v is None or v.strip().upper() in tokens else v for v in values]
    assert run(values, {"null_tokens": "*"}) == expected


def test_dates_in_several_formats_match_strptime() -> None:
    values = ["2024-02-29", "31/12/1999", "03/04/2020", "2023-02-30", "7 Mar 2021", "junk", None]
    formats = ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y"]

    def reference(s: str) -> dt.date | None:
        for fmt in formats:
            try:
                return dt.datetime.strptime(s, fmt).date()
            except ValueError:
                continue
        return None

    assert run(values, {"date": {"columns": "c", "formats": formats}}) == each(values, reference)


def test_numbers_with_locale_separators_match_a_manual_parse() -> None:
    values = ["1.234,56", "-7,5", "1 234 567,0", "12", "abc", None]

    def reference(s: str) -> float | None:
        cleaned = s.replace(" ", "").replace(".", "").replace(",", ".")
        return float(cleaned) if re.fullmatch(r"-?\d+(\.\d+)?", cleaned) else None

    got = run(values, {"number": {"columns": "c", "decimal": ",", "thousands": "."}})
    assert got == each(values, reference)


def test_cast_matches_int() -> None:
    assert run(["1", "-20", None], {"cast": {"columns": "c", "type": "int64"}}) == [1, -20, None]
    with pytest.raises(StandardizeError, match="cast"):
        run(["1", "x"], {"cast": {"columns": "c", "type": "int64"}})


def test_phone_to_e164_matches_phonenumbers_directly() -> None:
    values = ["020 7946 0018", "+44 20 7946 0018", "(020) 7946-0018", "12", "not a phone", None]

    def reference(s: str) -> str | None:
        try:
            parsed = phonenumbers.parse(s, "GB")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    got = run(values, {"phone": {"columns": "c", "region": "GB"}})
    assert got == each(values, reference)
    assert got[0] == "+442079460018"


def test_email_matches_python_string_rules() -> None:
    values = [" Ann.Lee+news@Example.COM ", "bad@", "two@@x.com", "bob@x.org", None]

    def reference(s: str) -> str | None:
        s = s.strip().lower()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", s):
            return None
        local, domain = s.split("@")
        return local.split("+")[0] + "@" + domain

    assert run(values, {"email": {"columns": "c", "plus": True}}) == each(values, reference)


def test_into_writes_a_new_column_and_keeps_the_old_one() -> None:
    table = pa.table({"p": ["+1 415 555 2671"]})
    out = apply_pipeline(table, parse_pipeline([{"phone": {"columns": "p", "into": "e164"}}]))
    assert out.to_pylist() == [{"p": "+1 415 555 2671", "e164": "+14155552671"}]


def test_table_steps_match_plain_dict_manipulation() -> None:
    rows = [{"first": "ann", "last": "lee", "n": 1}, {"first": "bob", "last": None, "n": 2}]
    entries = parse_pipeline(
        [
            {"rename": {"first": "given"}},
            {"derive": {"column": "full", "expr": "given || ' ' || upper(last)"}},
            {"derive": {"column": "twice", "expr": "n * 2"}},
            {"drop": "last"},
            {"select": ["full", "twice", "given"]},
        ]
    )
    out = apply_pipeline(pa.Table.from_pylist(rows), entries)
    expected = [
        {
            "full": None if r["last"] is None else f"{r['first']} {r['last'].upper()}",
            "twice": r["n"] * 2,
            "given": r["first"],
        }
        for r in rows
    ]
    assert out.to_pylist() == expected
    assert out.schema.field("full").type == pa.string()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("trim", "needs its columns"),
        ({"trimm": "c"}, "unknown standardization step 'trimm' (did you mean 'trim'?)"),
        ({"phone": {"columns": "c", "region": "XX"}}, "unknown region"),
        ({"lower": {"columns": "c", "locale": "tr"}}, "unknown option(s) locale"),
        ({"derive": {"column": "x", "expr": "1; DROP TABLE t"}}, "step 'derive'"),
        ({"derive": {"column": "x", "expr": "read_csv('/etc/passwd')"}}, "unsupported function"),
        ({"rename": ["a"]}, "expected a mapping"),
        ({"phone": {"columns": ["a", "b"], "into": "x"}}, "'into' names one new column"),
    ],
)
def test_bad_entries_are_refused_with_the_reason(entry: Any, message: str) -> None:
    with pytest.raises(StandardizeError) as info:
        parse_pipeline([entry])
    assert message in str(info.value) and str(info.value).startswith("step 1:")


def test_columns_are_followed_through_the_list() -> None:
    entries = parse_pipeline([{"rename": {"a": "b"}}, {"trim": "b"}, {"select": ["b"]}])
    known: list[str] | None = ["a", "z"]
    for entry in entries:
        known = next_columns(entry, known)
    assert known == ["b"]
    [trim_a] = parse_pipeline([{"trim": "a"}])
    with pytest.raises(StandardizeError, match="no column 'a' at this point"):
        next_columns(trim_a, ["b"])


def test_identity_field_lists_refuse_a_whole_table_step() -> None:
    from orchestrator.standardize import apply_steps

    with pytest.raises(StandardizeError, match="works on the whole table"):
        apply_steps(pa.array(["x"]), ["select"])
