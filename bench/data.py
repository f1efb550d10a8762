"""Seeded benchmark data: a people-like Parquet file and a CSV of the same rows.

Runs in the project venv with pyarrow alone (no numpy, no downloads)::

    .venv/bin/python bench/data.py [--quick | --rows N] [--seed 42] [--dir bench/data]

Columns: ``id`` int64 (1..rows, unique), six strings (``first_name``,
``last_name``, ``email``, ``phone``, ``street``, ``city``) and ``birth_date``
date32. 10 million rows give ~400 MB of zstd Parquet and ~1.2 GB of CSV.

The Parquet file is written the way most producers write one: pyarrow's
default row-group size (no ``row_group_size`` argument). Rows are generated
and written in batches of exactly that default (1,048,576 rows in pyarrow >= 15)
so memory stays bounded and the row groups are the ones a single
``pq.write_table(whole_table)`` would have produced.

Randomness comes from ``random.Random(seed).randbytes`` turned into uint32
arrays (vectorized), so a given (rows, seed) always yields the same bytes of
data, whatever the batch boundaries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"

FULL_ROWS = 10_000_000
QUICK_ROWS = 1_000_000
DEFAULT_SEED = 42
# pyarrow's default maximum row-group length (write_table/ParquetWriter without
# row_group_size). Generation batches are this size so each batch is one group.
PYARROW_DEFAULT_ROW_GROUP = 1024 * 1024

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("birth_date", pa.date32()),
    ]
)

_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "ch",
    "cl",
    "dr",
    "fr",
    "gr",
    "kl",
    "pl",
    "pr",
    "sh",
    "st",
    "th",
    "tr",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ie", "oa", "ou", "y"]
_CODAS = ["", "", "n", "r", "s", "l", "t", "nd", "rk", "ll", "ck", "m"]
_STREET_KINDS = ["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way"]
_EPOCH_1940 = (dt.date(1940, 1, 1) - dt.date(1970, 1, 1)).days
_DATE_SPAN = (dt.date(2005, 12, 31) - dt.date(1940, 1, 1)).days + 1


def _words(rng: random.Random, count: int, syllables: tuple[int, int]) -> pa.Array:
    """``count`` distinct capitalized pseudo-words (deterministic for the rng)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        n = rng.randint(*syllables)
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(n))
        word = (word + rng.choice(_CODAS)).capitalize()
        if word not in seen:
            seen.add(word)
            out.append(word)
    return pa.array(out, pa.string())


class _Vocabulary:
    """The small dictionaries the columns are drawn from (fixed by the seed)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"jobctl-bench-vocab-{seed}")
        self.first = _words(rng, 1024, (1, 3))
        self.last = _words(rng, 4096, (2, 3))
        self.street = _words(rng, 2048, (1, 3))
        self.city = _words(rng, 700, (2, 4))
        self.street_kind = pa.array(_STREET_KINDS, pa.string())
        domains = [
            w.lower() + tld
            for w, tld in zip(
                _words(rng, 64, (2, 3)).to_pylist(),
                [".com", ".net", ".org", ".io"] * 16,
                strict=True,
            )
        ]
        self.domain = pa.array(domains, pa.string())


def _uniform(rng: random.Random, n: int, k: int) -> pa.Array:
    """n pseudo-random integers in [0, k) (uint64), vectorized: (u32 * k) >> 32."""
    buf = pa.py_buffer(rng.randbytes(4 * n))
    u32 = pa.Array.from_buffers(pa.uint32(), n, [None, buf])
    return pc.shift_right(pc.multiply(u32.cast(pa.uint64()), pa.scalar(k, pa.uint64())), 32)


def _digits(rng: random.Random, n: int, width: int) -> pa.Array:
    """n zero-padded decimal strings of ``width`` digits."""
    return pc.utf8_lpad(_uniform(rng, n, 10**width).cast(pa.string()), width, padding="0")


def _batch(vocab: _Vocabulary, seed: int, start: int, n: int) -> pa.RecordBatch:
    # One rng per batch, keyed by its first row: the data do not depend on how
    # a caller batches (as long as it uses the same batch size) and batches
    # could be produced in parallel.
    rng = random.Random(f"jobctl-bench-{seed}-{start}")
    first = vocab.first.take(_uniform(rng, n, len(vocab.first)))
    last = vocab.last.take(_uniform(rng, n, len(vocab.last)))
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first),
        ".",
        pc.utf8_lower(last),
        _uniform(rng, n, 100_000).cast(pa.string()),
        "@",
        vocab.domain.take(_uniform(rng, n, len(vocab.domain))),
        "",
    )
    phone = pc.binary_join_element_wise(
        pc.add(_uniform(rng, n, 800), pa.scalar(200, pa.uint64())).cast(pa.string()),
        _digits(rng, n, 3),
        _digits(rng, n, 4),
        "-",
    )
    street = pc.binary_join_element_wise(
        pc.add(_uniform(rng, n, 9_999), pa.scalar(1, pa.uint64())).cast(pa.string()),
        vocab.street.take(_uniform(rng, n, len(vocab.street))),
        vocab.street_kind.take(_uniform(rng, n, len(vocab.street_kind))),
        " ",
    )
    city = vocab.city.take(_uniform(rng, n, len(vocab.city)))
    days = pc.add(_uniform(rng, n, _DATE_SPAN).cast(pa.int32()), pa.scalar(_EPOCH_1940, pa.int32()))
    ids = pa.array(range(start + 1, start + n + 1), pa.int64())
    return pa.record_batch(
        [ids, first, last, email, phone, street, city, days.cast(pa.date32())], schema=SCHEMA
    )


def _metadata(rows: int, seed: int) -> dict[bytes, bytes]:
    return {b"jobctl.bench.rows": str(rows).encode(), b"jobctl.bench.seed": str(seed).encode()}


def _is_current(path: Path, rows: int, seed: int) -> bool:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return all(meta.get(k) == v for k, v in _metadata(rows, seed).items())


def make_parquet(
    path: str | Path, rows: int = FULL_ROWS, seed: int = DEFAULT_SEED, *, force: bool = False
) -> Path:
    """Write ``rows`` seeded rows to ``path`` as zstd Parquet (default row groups).

    Skips the work when ``path`` already holds the same (rows, seed). Writes to
    a temporary name and renames, so a killed run leaves no half file behind.
    """
    path = Path(path)
    if not force and _is_current(path, rows, seed):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    vocab = _Vocabulary(seed)
    schema = SCHEMA.with_metadata(_metadata(rows, seed))
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, rows, PYARROW_DEFAULT_ROW_GROUP):
            n = min(PYARROW_DEFAULT_ROW_GROUP, rows - start)
            writer.write_table(pa.Table.from_batches([_batch(vocab, seed, start, n)], schema))
    tmp.replace(path)
    return path


def make_csv(parquet_path: str | Path, csv_path: str | Path | None = None) -> Path:
    """Write the rows of ``parquet_path`` as CSV (header, streamed batch by batch).

    ``csv_path`` defaults to the Parquet path with a ``.csv`` suffix. Skips the
    work when the CSV is newer than the Parquet file.
    """
    src = Path(parquet_path)
    dst = Path(csv_path) if csv_path is not None else src.with_suffix(".csv")
    if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst
    tmp = dst.with_name(dst.name + ".tmp")
    pf = pq.ParquetFile(src)
    with pacsv.CSVWriter(tmp, pf.schema_arrow.remove_metadata()) as writer:
        for batch in pf.iter_batches(batch_size=256 * 1024):
            writer.write_batch(batch)
    tmp.replace(dst)
    return dst


def dataset_paths(rows: int, seed: int = DEFAULT_SEED, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / f"people-{rows}-s{seed}.parquet"


def ensure_dataset(
    rows: int = FULL_ROWS, seed: int = DEFAULT_SEED, data_dir: str | Path = DATA_DIR
) -> tuple[Path, Path]:
    """The (Parquet, CSV) pair for (rows, seed) under ``data_dir``, made if missing."""
    parquet = make_parquet(dataset_paths(rows, seed, Path(data_dir)), rows, seed)
    return parquet, make_csv(parquet)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows")
    ap.add_argument("--rows", type=int, default=None, help=f"default {FULL_ROWS:,}")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--dir", type=Path, default=DATA_DIR)
    ap.add_argument("--force", action="store_true", help="regenerate even if present")
    ap.add_argument("--no-csv", action="store_true")
    args = ap.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    t0 = time.perf_counter()
    parquet = make_parquet(
        dataset_paths(rows, args.seed, args.dir), rows, args.seed, force=args.force
    )
    t1 = time.perf_counter()
    md = pq.ParquetFile(parquet).metadata
    print(
        f"{parquet}: {md.num_rows:,} rows, {md.num_row_groups} row groups, "
        f"{parquet.stat().st_size / 1e6:.0f} MB ({t1 - t0:.1f} s)",
        file=sys.stderr,
    )
    if not args.no_csv:
        if args.force:
            parquet.with_suffix(".csv").unlink(missing_ok=True)
        csv = make_csv(parquet)
        t2 = time.perf_counter()
        print(f"{csv}: {csv.stat().st_size / 1e6:.0f} MB ({t2 - t1:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
