"""Synthetic people with known truth: the ground for identity-matching tests and benches.

Each true person (``cluster_id``) appears 1..k times (Zipf-distributed), and each
copy after the first is corrupted the ways real identity data is: typos
(substitution, deletion, insertion), adjacent transpositions, phonetic
misspellings, nicknames, first/last swapped, missing fields, a changed address
or phone, other date and phone formats, case and whitespace noise. People are
grouped in households that share an address, often with different surnames.
A mailbox is personal: an email address is a name form, a number below
:data:`EMAIL_NUMBERS` and a domain, so distinct people rarely share one even at
tens of millions (with two-digit numbers, 1,064 people shared one address at
10M, and email blocks grew with the square of the size); a changed address
takes a number above that range, never the person's own.

Generation is vectorized (numpy and Arrow kernels, no per-row Python) and runs
block by block: block ``b`` draws from ``default_rng([seed, b])`` and holds
:data:`BLOCK_ROWS` rows, so memory is bounded by the block, any size can be
written, and a larger run extends a smaller one block by block. Copies of a
person stay within one block (rows are shuffled inside it), a simplification
that does not matter to a matcher that blocks by key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestrator.datagen import pools
from orchestrator.standardize.names import nicknames

BLOCK_ROWS = 250_000
"""Rows generated per block (bounded memory; a run's rows are a prefix of the stream)."""
#: email numbers of a person are drawn below this (a changed email: above it)
EMAIL_NUMBERS = 100_000

_WIDTH = 32  # characters per name in the edit matrix


@dataclass(frozen=True)
class Corruption:
    """Probabilities, per duplicate copy, of each kind of damage. The first copy is clean."""

    typo: float = 0.20
    transpose: float = 0.05
    phonetic: float = 0.05
    nickname: float = 0.15
    swap_names: float = 0.03
    missing: float = 0.06
    moved: float = 0.12
    new_phone: float = 0.12
    new_email: float = 0.08
    dob_typo: float = 0.03
    household_share: float = 0.30
    household_same_surname: float = 0.5
    dup_exponent: float = 2.2
    max_copies: int = 30


SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("dob", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("postcode", pa.string()),
        ("cluster_id", pa.int64()),
    ]
)

PHONETIC = [
    ("ph", "f"), ("f", "ph"), ("ck", "k"), ("c", "k"), ("k", "c"), ("ie", "y"), ("y", "ie"),
    ("ou", "ow"), ("ei", "ie"), ("s", "z"), ("ll", "l"), ("tt", "t"), ("th", "t"),
    ("ee", "ea"), ("an", "en"), ("er", "ar"),
]  # fmt: skip


def _zipf_weights(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


class _Pools:
    """The value pools as Arrow arrays with their draw weights (built once)."""

    def __init__(self) -> None:
        self.given = pa.array(pools.words(pools.GIVEN_NAMES))
        self.given_p = _zipf_weights(len(self.given), 0.7)
        self.surname = pa.array(pools.surnames())
        self.surname_p = _zipf_weights(len(self.surname), 0.5)
        self.street = pa.array(pools.words(pools.STREET_NAMES))
        self.street_long = pa.array([full for full, _ in pools.STREET_TYPES])
        self.street_short = pa.array([short for _, short in pools.STREET_TYPES])
        self.city = pa.array(pools.words(pools.CITIES))
        self.domain = pa.array(pools.EMAIL_DOMAINS)
        self.area = np.array(pools.AREA_CODES)
        reverse: dict[str, str] = {}
        for nick, formal in sorted(nicknames().items()):
            reverse.setdefault(formal, nick)
        self.nick_formal = pa.array(list(reverse))
        self.nick_short = pa.array(list(reverse.values()))
        self.accent_plain = pa.array(list(pools.ACCENTED))
        self.accent_marked = pa.array(list(pools.ACCENTED.values()))


def _s(values: np.ndarray | pa.Array) -> pa.Array:
    """Integers as strings."""
    return pc.cast(pa.array(values), pa.string())


def _pick(rng: np.random.Generator, mask_p: float, n: int) -> np.ndarray:
    return rng.random(n) < mask_p


def _where(mask: np.ndarray, yes: pa.Array, no: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), yes, no)


def _edit(rng: np.random.Generator, names: pa.Array, mask: np.ndarray, transpose: bool) -> pa.Array:
    """Apply one random character edit to each masked name, vectorized on a code-point matrix."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return names
    text = np.array(names.take(pa.array(rows)).to_pylist(), dtype=f"<U{_WIDTH}")
    mat = text.view(np.uint32).reshape(rows.size, _WIDTH).copy()
    length = (mat != 0).sum(axis=1)
    ok = length >= 2
    cols = np.arange(_WIDTH)
    letters = rng.integers(ord("a"), ord("z") + 1, rows.size).astype(np.uint32)
    if transpose:
        pos = (rng.random(rows.size) * np.maximum(length - 1, 1)).astype(np.int64)
        left, right = mat[np.arange(rows.size), pos], mat[np.arange(rows.size), pos + 1]
        idx = np.flatnonzero(ok)
        mat[idx, pos[idx]], mat[idx, pos[idx] + 1] = right[idx], left[idx]
    else:
        op = rng.integers(0, 3, rows.size)
        pos = (rng.random(rows.size) * length).astype(np.int64)
        padded = np.concatenate([mat, np.zeros((rows.size, 1), np.uint32)], axis=1)
        deleted = np.take_along_axis(padded, cols + (cols >= pos[:, None]), axis=1)
        inserted = np.take_along_axis(mat, np.maximum(cols - (cols > pos[:, None]), 0), axis=1)
        inserted[np.arange(rows.size), pos] = letters
        substituted = mat.copy()
        substituted[np.arange(rows.size), pos] = letters
        choice = np.where(
            op[:, None] == 0, substituted, np.where(op[:, None] == 1, deleted, inserted)
        )
        mat = np.where(ok[:, None], choice, mat)
    edited = pa.array(mat.view(f"<U{_WIDTH}").ravel().tolist(), pa.string())
    full = np.zeros(len(names), dtype=np.int64)
    full[rows] = np.arange(rows.size)
    return _where(mask, edited.take(pa.array(full)), names)


def _phonetic(rng: np.random.Generator, names: pa.Array, mask: np.ndarray) -> pa.Array:
    """One sound-alike spelling change (ph→f, ck→k, ie→y ...) in each masked name."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return names
    subset = names.take(pa.array(rows))
    rule = rng.integers(0, len(PHONETIC), rows.size)
    for index, (pattern, replacement) in enumerate(PHONETIC):
        changed = pc.replace_substring(subset, pattern, replacement, max_replacements=1)
        subset = _where(rule == index, changed, subset)
    full = np.zeros(len(names), dtype=np.int64)
    full[rows] = np.arange(rows.size)
    return _where(mask, subset.take(pa.array(full)), names)


def _nickname(pool: _Pools, names: pa.Array) -> pa.Array:
    return pc.coalesce(pool.nick_short.take(pc.index_in(names, pool.nick_formal)), names)


def _accents(pool: _Pools, names: pa.Array, mask: np.ndarray) -> pa.Array:
    marked = pc.coalesce(pool.accent_marked.take(pc.index_in(names, pool.accent_plain)), names)
    return _where(mask, marked, names)


def _addresses(rng: np.random.Generator, pool: _Pools, n: int) -> pa.StructArray:
    """``n`` fresh addresses: street line (two spellings of its type), city, postcode."""
    number = _s(rng.integers(1, 10_000, n))
    name = pc.utf8_title(pool.street.take(pa.array(rng.integers(0, len(pool.street), n))))
    kind = pa.array(rng.integers(0, len(pool.street_long), n))
    unit = pc.binary_join_element_wise(pa.scalar("Apt"), _s(rng.integers(1, 40, n)), " ")
    has_unit = _pick(rng, 0.15, n)
    parts_long = [number, name, pool.street_long.take(kind)]
    parts_short = [number, name, pool.street_short.take(kind)]
    long_line = pc.binary_join_element_wise(*parts_long, " ")
    short_line = pc.binary_join_element_wise(*parts_short, " ")
    long_line = _where(has_unit, pc.binary_join_element_wise(long_line, unit, " "), long_line)
    short_line = _where(has_unit, pc.binary_join_element_wise(short_line, unit, " "), short_line)
    city_idx = rng.integers(0, len(pool.city), n)
    postcode = pc.utf8_lpad(_s(10_000 + city_idx * 300 + rng.integers(0, 300, n)), 5, "0")
    city = pc.utf8_title(pool.city.take(pa.array(city_idx)))
    return pa.StructArray.from_arrays(
        [long_line, short_line, city, postcode],
        names=["street", "street_short", "city", "postcode"],
    )


def _styled(rng: np.random.Generator, names: pa.Array, n: int) -> pa.Array:
    """Title case mostly, some upper or lower case, a little stray whitespace."""
    style = rng.random(n)
    out = _where(style < 0.12, pc.utf8_upper(names), pc.utf8_title(names))
    out = _where(style > 0.92, names, out)
    padded = pc.binary_join_element_wise(pa.scalar(" "), out, pa.scalar(" "), "")
    return _where(_pick(rng, 0.03, n), padded, out)


def _dob_text(rng: np.random.Generator, days: np.ndarray, dup: np.ndarray) -> pa.Array:
    """Dates as text: ISO for first copies, other formats for some duplicates."""
    distinct, inverse = np.unique(days, return_inverse=True)
    stamps = pc.cast(pa.array(distinct.astype(np.int32), pa.date32()), pa.timestamp("s"))
    back = pa.array(inverse)
    texts = [pc.strftime(stamps, format=f).take(back) for f in ("%Y-%m-%d", "%m/%d/%Y", "%d %b %Y")]
    which = np.where(dup, rng.choice(3, len(days), p=[0.8, 0.15, 0.05]), 0)
    return pc.choose(pa.array(which.astype(np.int8)), *texts)


def _emails(
    rng: np.random.Generator,
    pool: _Pools,
    first: pa.Array,
    last: pa.Array,
    number: np.ndarray,
    domain: np.ndarray,
    dup: np.ndarray,
) -> pa.Array:
    first = pc.replace_substring_regex(first, "[^a-z]", "")
    last = pc.replace_substring_regex(last, "[^a-z]", "")
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    no = _s(number)
    local = pc.choose(
        pa.array((number % 3).astype(np.int8)),
        pc.binary_join_element_wise(first, ".", last, no, ""),
        pc.binary_join_element_wise(initial, last, no, ""),
        pc.binary_join_element_wise(first, no, ""),
    )
    address = pc.binary_join_element_wise(local, pool.domain.take(pa.array(domain)), "@")
    return _where(dup & _pick(rng, 0.05, len(dup)), pc.utf8_upper(address), address)


def _phones(
    rng: np.random.Generator, area: np.ndarray, line: np.ndarray, dup: np.ndarray
) -> pa.Array:
    a, ex = _s(area), _s(line // 10_000)
    sub = pc.utf8_lpad(_s(line % 10_000), 4, "0")
    variants = [
        pc.binary_join_element_wise("(", a, ") ", ex, "-", sub, ""),
        pc.binary_join_element_wise(a, ex, sub, "-"),
        pc.binary_join_element_wise("+1", a, ex, sub, " "),
        pc.binary_join_element_wise(a, ex, sub, ""),
        pc.binary_join_element_wise(a, ex, sub, "."),
    ]
    which = np.where(dup, rng.integers(0, len(variants), len(line)), 0)
    return pc.choose(pa.array(which.astype(np.int8)), *variants)


def _block(pool: _Pools, seed: int, block: int, rows: int, start: int, c: Corruption) -> pa.Table:
    """``rows`` people of block ``block``; ids (person and cluster) start at ``start``."""
    rng = np.random.default_rng([seed, block])
    counts = np.minimum(rng.zipf(c.dup_exponent, rows), c.max_copies)
    ends = np.cumsum(counts)
    entities = int(np.searchsorted(ends, rows) + 1)
    counts = counts[:entities]
    counts[-1] -= int(ends[entities - 1] - rows)

    # One true person per entity; a share of them join another's household.
    first = pool.given.take(pa.array(rng.choice(len(pool.given), entities, p=pool.given_p)))
    last_idx = rng.choice(len(pool.surname), entities, p=pool.surname_p)
    household = np.arange(entities)
    shares = np.flatnonzero(_pick(rng, c.household_share, entities))
    household[shares] = rng.integers(0, entities, shares.size)
    same = shares[_pick(rng, c.household_same_surname, shares.size)]
    last_idx[same] = last_idx[household[same]]
    last = pool.surname.take(pa.array(last_idx))
    epoch = dt.date(1970, 1, 1)
    low, high = (dt.date(1930, 1, 1) - epoch).days, (dt.date(2006, 1, 1) - epoch).days
    days = rng.integers(low, high, entities)
    email_no = rng.integers(1, EMAIL_NUMBERS, entities)
    email_domain = rng.integers(0, len(pool.domain), entities)
    phone_area = pool.area[rng.integers(0, len(pool.area), entities)]
    phone_line = rng.integers(2_000_000, 9_999_999, entities)
    home = _addresses(rng, pool, entities).take(pa.array(household))

    # Copies of each entity; every copy but the first may be damaged.
    owner = np.repeat(np.arange(entities), counts)
    dup = np.ones(rows, dtype=bool)
    dup[np.r_[0, np.cumsum(counts)[:-1]]] = False
    take = pa.array(owner)
    first_r, last_r = first.take(take), last.take(take)
    first_r = _where(dup & _pick(rng, c.nickname, rows), _nickname(pool, first_r), first_r)
    for names in ("first", "last"):
        value = first_r if names == "first" else last_r
        value = _edit(rng, value, dup & _pick(rng, c.typo, rows), transpose=False)
        value = _edit(rng, value, dup & _pick(rng, c.transpose, rows), transpose=True)
        value = _phonetic(rng, value, dup & _pick(rng, c.phonetic, rows))
        first_r, last_r = (value, last_r) if names == "first" else (first_r, value)
    accent = _pick(rng, 0.5, rows)
    first_r, last_r = _accents(pool, first_r, accent), _accents(pool, last_r, accent)
    swap = dup & _pick(rng, c.swap_names, rows)
    first_r, last_r = _where(swap, last_r, first_r), _where(swap, first_r, last_r)

    days_r = days[owner]
    shifted = dup & _pick(rng, c.dob_typo, rows)
    days_r = np.where(shifted, days_r + rng.choice([-1, 1, 30, -30, 365, -365, 3650], rows), days_r)
    address_r = _where(
        dup & _pick(rng, c.moved, rows), _addresses(rng, pool, rows), home.take(take)
    )
    short = dup & _pick(rng, 0.3, rows)
    street = _where(
        short, pc.struct_field(address_r, "street_short"), pc.struct_field(address_r, "street")
    )
    new_line = rng.integers(2_000_000, 9_999_999, rows)
    line_r = np.where(dup & _pick(rng, c.new_phone, rows), new_line, phone_line[owner])
    email_r = np.where(
        dup & _pick(rng, c.new_email, rows),
        rng.integers(EMAIL_NUMBERS, 10 * EMAIL_NUMBERS, rows),
        email_no[owner],
    )

    columns = {
        "first_name": _styled(rng, first_r, rows),
        "last_name": _styled(rng, last_r, rows),
        "dob": _dob_text(rng, days_r, dup),
        "email": _emails(
            rng, pool, first.take(take), last.take(take), email_r, email_domain[owner], dup
        ),
        "phone": _phones(rng, phone_area[owner], line_r, dup),
        "street": street,
        "city": pc.struct_field(address_r, "city"),
        "postcode": pc.struct_field(address_r, "postcode"),
    }
    for column in ("first_name", "dob", "email", "phone", "street"):
        chance = c.missing / 3 if column == "first_name" else c.missing
        gone = dup & _pick(rng, chance, rows)
        columns[column] = _where(gone, pa.nulls(rows, pa.string()), columns[column])
    order = pa.array(rng.permutation(rows))
    arrays = [pa.array(np.arange(start, start + rows, dtype=np.int64))]
    arrays += [columns[name].take(order) for name in SCHEMA.names[1:-1]]
    arrays.append(pa.array(start + owner.astype(np.int64)).take(order))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def generate(
    rows: int,
    seed: int,
    corruption: Corruption | None = None,
    block_rows: int = BLOCK_ROWS,
) -> Iterator[pa.Table]:
    """``rows`` people for ``seed``, one table per block of ``block_rows``.

    Every full block is the same whatever ``rows`` is: a larger run extends a
    smaller one block by block (only the last, partial block differs).
    """
    pool = _Pools()
    c = corruption or Corruption()
    block = 0
    while block * block_rows < rows:
        start = block * block_rows
        yield _block(pool, seed, block, min(block_rows, rows - start), start, c)
        block += 1


def write_people(
    path: Path,
    rows: int,
    seed: int,
    truth_column: str | None = "cluster_id",
    corruption: Corruption | None = None,
) -> int:
    """Write ``rows`` people to a Parquet file (one row group per block); return the row count.

    ``truth_column`` names the true entity id column, or None to leave it out.
    """
    schema = SCHEMA if truth_column else SCHEMA.remove(SCHEMA.get_field_index("cluster_id"))
    if truth_column and truth_column != "cluster_id":
        schema = schema.set(
            schema.get_field_index("cluster_id"), pa.field(truth_column, pa.int64())
        )
    written = 0
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for table in generate(rows, seed, corruption):
            if not truth_column:
                table = table.drop_columns(["cluster_id"])
            writer.write_table(table.rename_columns(schema.names), row_group_size=BLOCK_ROWS)
            written += table.num_rows
    tmp.replace(path)
    return written
