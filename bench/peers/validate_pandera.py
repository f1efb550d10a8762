"""pandera (polars backend) in one process: validate an orders Parquet file with the
bench's six rules and write the valid rows to zstd Parquet.

The rules are the ones ``bench/validate_bench.py`` gives jobctl: email not null
and matching a pattern, amount in [0, 10000], status in a set, zip of length
5, id unique over the whole file. ``drop_invalid_rows=True`` with
``lazy=True`` keeps the rows that pass every check, as jobctl's output does;
pandera's ``unique`` reports every row of a duplicated id, as jobctl's does.
Polars may use its own thread pool (the machine's cores) inside the process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandera.polars as pa
import polars as pl
from _common import (
    data_args,
    data_result,
    default_output,
    emit,
    exit_on_signals,
    parquet_rows,
    remove_output,
    rusage_peak_bytes,
    version,
)

EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]+$"
STATUSES = ["new", "paid", "shipped", "cancelled"]


def schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "id": pa.Column(pl.Int64, unique=True),
            "email": pa.Column(pl.Utf8, nullable=False, checks=pa.Check.str_matches(EMAIL)),
            "amount": pa.Column(pl.Float64, nullable=True, checks=pa.Check.in_range(0, 10_000)),
            "status": pa.Column(pl.Utf8, nullable=True, checks=pa.Check.isin(STATUSES)),
            "zip": pa.Column(pl.Utf8, nullable=True, checks=pa.Check.str_length(5, 5)),
        },
        drop_invalid_rows=True,
    )


def main() -> int:
    exit_on_signals()
    args = data_args(__doc__.splitlines()[0]).parse_args()
    src: Path = args.input.resolve()
    dst: Path = args.output or default_output("validate_pandera", src, "parquet")
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_output(dst)
    try:
        t0 = time.perf_counter()
        frame = pl.read_parquet(src)
        rows = frame.height
        valid = schema().validate(frame, lazy=True)
        valid.write_parquet(dst, compression="zstd")
        seconds = time.perf_counter() - t0
        done_epoch = time.time()
        if parquet_rows(dst) != valid.height:
            raise SystemExit(f"{dst}: row count differs from the {valid.height} valid rows")
        rss = rusage_peak_bytes()
        result = data_result(
            "validate_pandera",
            "parquet",
            src,
            dst,
            seconds,
            rows,
            f"pandera {version('pandera')} (polars {version('polars')}) in one process: "
            "pl.read_parquet -> DataFrameSchema(6 rules, drop_invalid_rows=True)"
            ".validate(lazy=True) -> write_parquet(zstd)",
            valid_rows=valid.height,
            rejected_rows=rows - valid.height,
            peak_rss_bytes=rss["self"],
            peak_rss_processes={"python": rss["self"]},
            version=version("pandera"),
            done_epoch=done_epoch,
        )
    finally:
        if not args.keep:
            remove_output(dst)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
