"""DuckDB: ``COPY (SELECT * FROM read_parquet|read_csv_auto(...)) TO ... (FORMAT PARQUET,
COMPRESSION ZSTD)`` in one process with ``SET threads = 2``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
from _common import (
    check_rows,
    data_args,
    data_result,
    default_output,
    emit,
    exit_on_signals,
    input_format,
    parquet_rows,
    remove_output,
    rusage_peak_bytes,
    version,
)


def sql_string(value: str) -> str:
    """A SQL string literal (DuckDB's COPY takes no parameters for file names)."""
    return "'" + value.replace("'", "''") + "'"


def main() -> int:
    exit_on_signals()
    ap = data_args(__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    src: Path = args.input.resolve()
    fmt = input_format(src, args.format)
    dst: Path = args.output or default_output("convert_duckdb", src, fmt)
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_output(dst)
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    copy = (
        f"COPY (SELECT * FROM {reader}({sql_string(str(src))})) "
        f"TO {sql_string(str(dst))} (FORMAT PARQUET, COMPRESSION ZSTD)"
    )
    try:
        con = duckdb.connect()
        con.execute(f"SET threads = {int(args.threads)}")
        t0 = time.perf_counter()
        con.execute(copy)
        seconds = time.perf_counter() - t0
        done_epoch = time.time()  # output complete: the end of the command's work
        con.close()
        rows = parquet_rows(dst)
        check_rows(rows, args.rows)
        rss = rusage_peak_bytes()
        result = data_result(
            "convert_duckdb",
            fmt,
            src,
            dst,
            seconds,
            rows,
            f"duckdb {version('duckdb')} in one process, SET threads = {args.threads}; "
            + copy.replace(str(src), "IN").replace(str(dst), "OUT"),
            peak_rss_bytes=rss["self"],
            peak_rss_processes={"python": rss["self"]},
            version=version("duckdb"),
            done_epoch=done_epoch,
        )
    finally:
        if not args.keep:
            remove_output(dst)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
