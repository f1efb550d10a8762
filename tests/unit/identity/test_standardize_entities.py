"""Names, addresses and derived keys: handwritten cases and independent references."""

from __future__ import annotations

import jellyfish
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.standardize import StandardizeError, apply_step, apply_steps, parse_steps
from orchestrator.standardize.address import PARTS
from orchestrator.standardize.names import nicknames


def run(step: str, values: list[object], **options: object) -> list[object]:
    return apply_step(step, pa.array(values), options).to_pylist()


def test_name_cleaning() -> None:
    values = [
        "  José-María ", "O'Brien", "Dr. Ada Lovelace, PhD", "ZOË", "  ", None, "Mr",
        "Jean‐Luc", "Ｍａｒｙ", "van der Berg", "J.R.R. Tolkien",
    ]  # fmt: skip
    assert run("name", values) == [
        "jose maria", "obrien", "ada lovelace", "zoe", None, None, "mr",
        "jean luc", "mary", "van der berg", "j r r tolkien",
    ]  # fmt: skip
    assert run("name", ["Dr Who"], titles=False) == ["dr who"]
    assert run("name", ["Ada B. Lovelace", "J."], initials="drop") == ["ada lovelace", "j"]


def test_given_name_maps_nicknames_and_name_does_not() -> None:
    values = ["Bob", "BILL", "Liz", "Peggy", "Mary Jo", "Robert", "Bobbie", "Mary-Kate"]
    assert run("given_name", values) == [
        "robert", "william", "elizabeth", "margaret", "mary jo", "robert", "bobbie",
        "mary catherine",
    ]  # fmt: skip
    assert run("name", ["Bob"]) == ["bob"]
    assert run("nickname", ["bob", "ted smith", None]) == ["robert", "edward smith", None]


def test_nickname_table_is_well_formed() -> None:
    table = nicknames()
    assert len(table) >= 150
    for nick, formal in table.items():
        assert nick.isascii() and nick == nick.lower() and nick.isalpha(), nick
        assert formal.isascii() and formal == formal.lower() and formal.isalpha(), formal
        assert formal not in table, f"{nick} -> {formal} is itself a nickname"
    assert table["bob"] == "robert" and table["bill"] == "william" and table["liz"] == "elizabeth"


def test_initials() -> None:
    assert run("initials", ["john ronald reuel", "ada", " ", None]) == ["jrr", "a", None, None]


def test_address_normalization() -> None:
    values = [
        "12 Main St., Apt #4", "12 main street unit 4", "12 MAIN ST APT 4", "221B Baker Street",
        "5 N. Elm Ave Ste 200", "1 Rue de l'Église", "  ", None, "PO Box 7",
    ]  # fmt: skip
    assert run("address", values) == [
        "12 main street unit 4", "12 main street unit 4", "12 main street unit 4",
        "221b baker street", "5 north elm avenue unit 200", "1 rue de leglise", None, None,
        "po box 7",
    ]  # fmt: skip


def test_address_parts_regex() -> None:
    got = run("address_parts", ["12 Main St., Apt #4 62704", "221B Baker Street", "Elm Rd", None])
    rows = [
        ("12", "main street", "4", None, "62704"),
        ("221b", "baker street", None, None, None),
        (None, "elm road", None, None, None),
    ]
    assert got == [dict(zip(PARTS, row, strict=True)) for row in rows] + [None]
    assert run("address_parts", ["12 Main St Apt 4"], part="unit") == ["4"]
    with pytest.raises(StandardizeError, match="part must be"):
        parse_steps([{"address_parts": {"part": "zip"}}])


def test_address_parts_usaddress() -> None:
    pytest.importorskip("usaddress")
    got = run("address_parts", ["12 Main St., Apt #4, Springfield IL 62704"], parser="usaddress")
    assert got == [
        dict(zip(PARTS, ("12", "main street", "4", "springfield", "62704"), strict=True))
    ]


def american_soundex(word: str) -> str:
    """Textbook American Soundex, written independently of jellyfish."""
    codes = {
        c: d
        for d, letters in enumerate(["aeiouyhw", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r"])
        for c in letters
    }
    word = "".join(c for c in word.lower() if c.isalpha())
    out = word[0].upper()
    last = codes[word[0]]
    for char in word[1:]:
        code = codes[char]
        if code and code != last:
            out += str(code)
        if char not in "hw":
            last = code
    return (out + "000")[:4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10), max_size=30))
def test_soundex_equals_textbook_algorithm(words: list[str]) -> None:
    assert run("soundex", words) == [american_soundex(w) for w in words]


def test_phonetic_keys_known_values_and_per_value_library() -> None:
    assert run("soundex", ["robert", "rupert", "tymczak", "pfister", "", None]) == [
        "R163", "R163", "T522", "P236", None, None
    ]  # fmt: skip
    names = ["catherine", "kathryn", "knight", "schmidt", "smith", "smyth"]
    assert run("metaphone", names) == [jellyfish.metaphone(n) for n in names]
    assert run("nysiis", names) == [jellyfish.nysiis(n) for n in names]
    assert run("match_rating", names) == [jellyfish.match_rating_codex(n) for n in names]
    assert run("nysiis", ["smith", "schmit"]) == ["SNAT", "SNAT"]


def test_prefix_and_year() -> None:
    assert run("prefix", ["lovelace", "al", "", None]) == ["lov", "al", None, None]
    assert run("prefix", ["lovelace"], length=1) == ["l"]
    assert run("year", ["1980-05-17", "17 May 1981", "bad", None]) == [1980, 1981, None, None]
    with pytest.raises(StandardizeError, match="positive integer"):
        parse_steps([{"prefix": {"length": 0}}])


def test_identity_field_chain_name_then_soundex() -> None:
    values = pa.array(["  Smith ", "SMYTHE", "N/A"])
    assert apply_steps(values, ["null_tokens", "name", "soundex"]).to_pylist() == [
        "S530",
        "S530",
        None,
    ]
