"""Measure the worker runtime's per-chunk overhead with no-op chunks (not a test).

Starts one ``python -m orchestrator.worker`` subprocess, pipelines ``--runs``
no-op ``run`` messages through it with ``--in-flight`` outstanding (the first
carries the full job payload, the rest only its key, as the coordinator does)
and reports results per second and the worker's CPU time per chunk. Also times
``Worker.run`` in-process, which is the worker's share without the pipes.

    .venv/bin/python scripts/worker_speed.py [--runs 20000] [--in-flight 50]
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time
from typing import Any

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.protocol import MessageReader, encode_message, run_message
from orchestrator.worker import Worker

JOB: dict[str, Any] = {
    "key": "bench:noop",
    "name": "bench",
    "type": "noop",
    "python": None,
    "command": None,
    "params": {},
    "input": {"format": "auto", "csv": None},
    "output": None,
    "staging_dir": None,
}


def chunk(i: int) -> dict[str, Any]:
    desc = ChunkDescriptor(seq=i, kind="sequence", path=None, start=i, stop=i + 1, est_rows=1)
    return desc.to_dict()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_subprocess(runs: int, in_flight: int) -> tuple[float, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdin is not None and proc.stdout is not None
    reader = MessageReader(proc.stdout.fileno())
    while not reader.read_available():
        pass  # the "ready" message
    # Pre-encode so the measurement is the worker's cost, not this script's.
    frames = [
        encode_message(
            run_message(f"t{i}", JOB if i == 0 else {"key": JOB["key"]}, chunk(i), 1, 1, f"p{i}")
        )
        for i in range(runs)
    ]
    cpu0 = cpu_seconds(proc.pid)
    t0 = time.perf_counter()
    sent = min(in_flight, runs)
    proc.stdin.write(b"".join(frames[:sent]))
    done = 0
    while done < runs:
        select.select([reader], [], [])
        for header, _ in reader.read_available():
            if header["type"] != "result":
                continue
            if not header["ok"]:
                raise SystemExit(f"run failed: {header['error']}")
            done += 1
        if sent < runs and sent - done < in_flight:
            n = min(in_flight - (sent - done), runs - sent)
            proc.stdin.write(b"".join(frames[sent : sent + n]))
            sent += n
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(proc.pid) - cpu0
    proc.stdin.write(encode_message({"type": "shutdown"}))
    proc.wait(timeout=5)
    return runs / elapsed, cpu / runs


def in_process(runs: int) -> float:
    worker = Worker()
    worker.run(run_message("warm", JOB, chunk(0), 1, 1, "p"))
    msgs = [run_message(f"t{i}", {"key": JOB["key"]}, chunk(i), 1, 1, f"p{i}") for i in range(runs)]
    t0 = time.perf_counter()
    for msg in msgs:
        worker.run(msg)
    return (time.perf_counter() - t0) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=50)
    args = parser.parse_args()
    rate, cpu = through_subprocess(args.runs, args.in_flight)
    print(f"subprocess: {args.runs} no-op runs, {args.in_flight} in flight: {rate:,.0f} results/s")
    print(f"worker CPU per chunk (framing + run + reply): {cpu * 1e6:.1f} us")
    print(f"Worker.run in-process: {in_process(args.runs) * 1e6:.1f} us per chunk")


if __name__ == "__main__":
    main()
