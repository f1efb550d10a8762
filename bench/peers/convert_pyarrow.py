"""One pyarrow process: convert Parquet or CSV to zstd Parquet, streaming.

Parquet input: read row group by row group (``ParquetFile.read_row_group``),
write each as a row group of the output. CSV input: ``pyarrow.csv.open_csv``
streams record batches (types inferred), gathered into row groups of pyarrow's
default size (1,048,576 rows) before writing. pyarrow may use its own thread
pool (the machine's cores) inside the one process, as it does by default.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
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

ROW_GROUP = 1024 * 1024  # pyarrow's default max row-group length


def convert_parquet(src: Path, dst: Path) -> int:
    pf = pq.ParquetFile(src)
    rows = 0
    with pq.ParquetWriter(dst, pf.schema_arrow, compression="zstd") as writer:
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i)
            writer.write_table(table)
            rows += table.num_rows
    return rows


def convert_csv(src: Path, dst: Path) -> int:
    reader = pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=16 << 20))
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(dst, reader.schema, compression="zstd") as writer:

        def flush() -> None:
            nonlocal pending, pending_rows
            if pending:
                writer.write_table(pa.Table.from_batches(pending, reader.schema))
            pending, pending_rows = [], 0

        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= ROW_GROUP:
                flush()
        flush()
    return rows


def main() -> int:
    exit_on_signals()
    args = data_args(__doc__.splitlines()[0]).parse_args()
    src: Path = args.input.resolve()
    fmt = input_format(src, args.format)
    dst: Path = args.output or default_output("convert_pyarrow", src, fmt)
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_output(dst)
    try:
        t0 = time.perf_counter()
        rows = (convert_parquet if fmt == "parquet" else convert_csv)(src, dst)
        seconds = time.perf_counter() - t0
        done_epoch = time.time()  # output complete: the end of the command's work
        if parquet_rows(dst) != rows:
            raise SystemExit(f"{dst}: row count differs from the {rows} rows read")
        check_rows(rows, args.rows)
        rss = rusage_peak_bytes()
        result = data_result(
            "convert_pyarrow",
            fmt,
            src,
            dst,
            seconds,
            rows,
            f"pyarrow {version('pyarrow')} in one process: "
            + (
                "ParquetFile.read_row_group(i) -> ParquetWriter(compression='zstd')"
                if fmt == "parquet"
                else "pyarrow.csv.open_csv (16 MiB blocks) -> ParquetWriter(compression='zstd'),"
                " 1Mi-row row groups"
            ),
            peak_rss_bytes=rss["self"],
            peak_rss_processes={"python": rss["self"]},
            version=version("pyarrow"),
            done_epoch=done_epoch,
        )
    finally:
        if not args.keep:
            remove_output(dst)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
