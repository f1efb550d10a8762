"""Dask dataframe: ``read_parquet``/``read_csv`` -> ``to_parquet(compression="zstd")``
on a LocalCluster of 2 single-threaded worker processes.

Dask's defaults otherwise (partitioning, dtypes). The clock runs from building
the graph to the end of ``to_parquet``; the cluster is up before it starts.
Peak RSS is the exact high-water mark (VmHWM) of this process and of every
descendant (the nanny and worker processes), polled from /proc and read once
more before the cluster shuts down.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from _common import (
    TreePeakRss,
    check_rows,
    data_args,
    data_result,
    default_output,
    emit,
    exit_on_signals,
    input_format,
    parquet_rows,
    remove_output,
    version,
)


def main() -> int:
    exit_on_signals()
    ap = data_args(__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    src: Path = args.input.resolve()
    fmt = input_format(src, args.format)
    dst: Path = args.output or default_output("convert_dask", src, fmt)
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_output(dst)
    try:
        with (
            TreePeakRss() as peaks,
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.wait_for_workers(args.workers, timeout=60)
            t0 = time.perf_counter()
            df = dd.read_parquet(src) if fmt == "parquet" else dd.read_csv(src)
            partitions = df.npartitions
            df.to_parquet(dst, compression="zstd", write_index=False)
            seconds = time.perf_counter() - t0
            done_epoch = time.time()  # output complete: the end of the command's work
            peaks.sample()  # before the workers exit and their VmHWM is gone
        rows = parquet_rows(dst)
        check_rows(rows, args.rows)
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        result = data_result(
            "convert_dask",
            fmt,
            src,
            dst,
            seconds,
            rows,
            f"dask {version('dask')} LocalCluster(n_workers={args.workers}, threads_per_worker=1,"
            f" processes=True); dd.{reader}(IN) ({partitions} partitions)"
            ".to_parquet(OUT_DIR, compression='zstd', write_index=False)",
            peak_rss_bytes=peaks.max(),
            peak_rss_processes=peaks.report(),
            version=version("dask"),
            done_epoch=done_epoch,
        )
    finally:
        if not args.keep:
            remove_output(dst)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
