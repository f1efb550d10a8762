"""GNU Parallel: N no-op jobs (``true``) with 2 job slots and a joblog.

    seq N | parallel -j2 --joblog FILE true

The whole command is timed (start of ``seq`` to exit of ``parallel``); the
joblog is the durable record and is checked for N successful entries.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time

from _common import (
    WORK_DIR,
    dispatch_args,
    dispatch_result,
    emit,
    exit_on_signals,
    log,
    popen_group,
    stop_group,
)


def parallel_version() -> str:
    out = subprocess.run(
        ["parallel", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    return out.splitlines()[0] if out else "?"


def main() -> int:
    exit_on_signals()
    args = dispatch_args(__doc__.splitlines()[0]).parse_args()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK_DIR, prefix="parallel-") as tmp:
        joblog = f"{tmp}/joblog"
        shell = f"seq {args.n} | parallel -j{args.workers} --joblog {shlex.quote(joblog)} true"
        t0 = time.perf_counter()
        proc = popen_group(
            ["bash", "-c", shell],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, err = proc.communicate(timeout=args.timeout)
            seconds = time.perf_counter() - t0
        finally:
            stop_group(proc, grace=2)  # seq/parallel/true left behind by a timeout
        if proc.returncode != 0:
            log(err.decode(errors="replace")[-2000:])
            raise SystemExit(f"parallel exited {proc.returncode}")
        with open(joblog) as f:
            rows = f.read().splitlines()[1:]
        ok = sum(1 for r in rows if r.split("\t")[6] == "0")
        if ok != args.n:
            raise SystemExit(f"joblog has {ok} successful jobs of {args.n}")
    emit(
        dispatch_result(
            "gnu_parallel",
            args.n,
            seconds,
            f"{parallel_version()}: the shell pipeline, timed as a whole",
            shell=shell.replace(joblog, "FILE"),
            version=parallel_version(),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
