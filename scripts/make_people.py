"""Write seeded synthetic people with known truth to a Parquet file.

Usage: scripts/make_people --rows 1M --seed 7 --out people.parquet [--truth-column cluster_id]

The same seed and row count give the same bytes; a larger run extends a smaller
one in blocks of 250,000 rows. Prints one line: rows written, seconds, output path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from orchestrator.datagen.people import write_people

_SUFFIX = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def row_count(text: str) -> int:
    """``1000``, ``10_000``, ``250k``, ``1M``, ``1.5M``."""
    clean = text.strip().lower().replace("_", "")
    scale = _SUFFIX.get(clean[-1:], 1)
    number = clean[:-1] if scale != 1 else clean
    try:
        value = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--rows must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=row_count, required=True, help="rows to write (1M, 250k)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet file")
    parser.add_argument(
        "--truth-column",
        default="cluster_id",
        help="name of the true entity id column; empty to leave it out (default cluster_id)",
    )
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = write_people(args.out, args.rows, args.seed, args.truth_column or None)
    print(f"{rows} rows in {time.perf_counter() - started:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
