"""Time ``plan_job`` on a large CSV (not a test: run it by hand).

    .venv/bin/python scripts/plan_speed.py                 # generates ~1 GB in /tmp
    .venv/bin/python scripts/plan_speed.py data.csv --rows 250000

The generated file has quoted fields with commas, doubled quotes and embedded
newlines (LF and CRLF), so the quote-parity scan does real work. The planning
time is measured twice: the first run may read from disk, the second from the
page cache.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from orchestrator.planning.plan import plan_job
from orchestrator.spec.model import ChunkingSpec, InputSpec, JobSpec

DEFAULT_PATH = "/tmp/jobctl_plan_speed.csv"


def generate(path: str, target_bytes: int) -> None:
    rng = random.Random(7)
    notes = ["plain", 'said ""hello""', "a,b,c", "two\nlines", "crlf\r\ninside", ""]
    lines = []
    for i in range(40_000):
        note = rng.choice(notes)
        if any(ch in note for ch in ',"\n'):
            note = f'"{note}"'
        lines.append(f"{i},customer-{rng.randrange(10**7)},{note},{rng.random() * 1000:.4f}\r\n")
    block = "".join(lines).encode()
    with open(path, "wb") as f:
        f.write(b"id,name,note,amount\r\n")
        written = 0
        while written < target_bytes:
            f.write(block)
            written += len(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH)
    parser.add_argument("--size-mb", type=int, default=1024, help="size to generate")
    parser.add_argument("--rows", type=int, default=250_000, help="chunking.rows")
    args = parser.parse_args()

    if not os.path.exists(args.path):
        t0 = time.perf_counter()
        generate(args.path, args.size_mb * 1024 * 1024)
        print(f"generated {args.path} in {time.perf_counter() - t0:.1f}s")
    size = os.path.getsize(args.path)
    spec = JobSpec(
        name="plan-speed",
        type="noop",
        input=InputSpec(path=args.path),
        chunking=ChunkingSpec(rows=args.rows),
    )
    for attempt in ("first", "second"):
        t0 = time.perf_counter()
        plan = plan_job(spec)
        elapsed = time.perf_counter() - t0
        print(
            f"{attempt} run: {size / 1e9:.2f} GB -> {len(plan.chunks)} chunks "
            f"(~{plan.est_rows:,} rows) in {elapsed:.2f}s = {elapsed / (size / 1e9):.2f} s/GB"
        )


if __name__ == "__main__":
    main()
