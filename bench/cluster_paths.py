"""The identity cluster phase alone, both paths, on the edges of a finished run.

    .venv/bin/python bench/cluster_paths.py /tmp/idm/out --max-edges 1000000 [--workers 2]

Reads a published identity_match output (``edges/``, ``model.json``), lays
out a staging area as the planner would, then runs the one-worker cluster
chunk and the partitioned clustering (partition, star steps, finish, planned
by the planner's own functions with ``cluster_max_edges`` = ``--max-edges``),
each chunk in a fresh process (``--workers`` at a time), and prints one JSON
line per path: wall seconds, steps, chunk seconds, and the largest chunk
process's peak RSS (ru_maxrss, imports included; ``baseline_rss_mib`` is a
process that only imports). The two clusters files must be equal.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.identity import JOBCTL_PARAMS  # noqa: E402  (the bench's own spec of the job)


def chunk_main(staging: str, phase: int, index: int) -> None:
    """In the child: one chunk, then its seconds, result and peak RSS."""
    from orchestrator.matching.config import parse_config
    from orchestrator.processors.identity.cluster import cluster, trained_records
    from orchestrator.processors.identity.cluster_steps import run_step
    from orchestrator.processors.identity.files import cluster_step

    config = parse_config(json.loads(Path(staging, "params.json").read_text()))
    started = time.perf_counter()
    result = None
    if phase < 0:
        pass  # the baseline: imports only
    elif (step := cluster_step(staging, phase)) is None:
        cluster(staging, trained_records(staging), config)
    else:
        result = run_step(staging, step, index, config)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"s": time.perf_counter() - started, "result": result, "rss": rss}))


def run_chunk(staging: Path, phase: int, index: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--chunk", str(staging), str(phase), str(index)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def lay_out(out: Path, staging: Path, params: dict[str, Any]) -> None:
    from orchestrator.processors.identity.files import edges_list_path, identity_dir, write_json

    shutil.rmtree(staging, ignore_errors=True)
    identity_dir(str(staging)).mkdir(parents=True)
    parts = sorted(str(p) for p in (out / "edges").glob("part-*.parquet"))
    write_json(edges_list_path(str(staging)), {"parts": parts})
    shutil.copyfile(out / "model.json", identity_dir(str(staging)) / "model.json")
    (staging / "params.json").write_text(json.dumps(params))


def partitioned(staging: Path, max_edges: int, workers: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from orchestrator.processors.identity.files import CLUSTER, edges_list_path, read_json
    from orchestrator.strategies.base import CommittedChunk
    from orchestrator.strategies.identity_match import _next_step, _step_chunks

    parts = read_json(edges_list_path(str(staging)))["parts"]
    edges = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    partitions = max(2, -(-2 * edges // max_edges))
    step = {"step": "partition", "partitions": partitions, "edges": edges, "write": "s000"}
    chunks, phase, seq = _step_chunks(str(staging), 0, CLUSTER, step, len(parts)), CLUSTER, 0
    started, rows, steps = time.perf_counter(), [], 0
    with ThreadPoolExecutor(workers) as pool:
        while True:
            done = list(pool.map(lambda c, p=phase: run_chunk(staging, p, c.start), chunks))
            step = read_json(staging / "identity" / "cc" / f"phase-{phase:03d}.json")
            rows.append({"step": step["step"], "chunks": len(done), "max_rss": max(d["rss"] for d in done),
                         "chunk_s": round(sum(d["s"] for d in done), 2)})  # fmt: skip
            if step["step"] == "finish":
                break
            steps += step["step"] == "star"
            seq += len(chunks)
            outcomes = [
                CommittedChunk(seq + i, phase, (), 0, {"value": d["result"]})
                for i, d in enumerate(done)
            ]
            chunks = _next_step(str(staging), seq, phase, step, outcomes)
            phase += 1
    return {
        "path": "partitioned",
        "max_edges": max_edges,
        "partitions": partitions,
        "star_steps": steps,
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(max(r["max_rss"] for r in rows) / 2**20),
        "phases": [{**r, "max_rss": round(r["max_rss"] / 2**20)} for r in rows],
    }


def main() -> int:
    if sys.argv[1:2] == ["--chunk"]:
        chunk_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-edges", type=int, action="append", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cluster-paths"))
    parser.add_argument("--split-bridges", action="store_true")
    args = parser.parse_args()
    params = {**JOBCTL_PARAMS, "split_bridges": args.split_bridges}
    one = args.dir / "one"
    lay_out(args.out, one, params)
    print(json.dumps({"baseline_rss_mib": round(run_chunk(one, -1, 0)["rss"] / 2**20)}))
    started = time.perf_counter()
    fast = run_chunk(one, CLUSTER_PHASE, 0)
    print(json.dumps({"path": "one worker", "wall_s": round(time.perf_counter() - started, 2),
                      "chunk_s": round(fast["s"], 2), "peak_rss_mib": round(fast["rss"] / 2**20)}))  # fmt: skip
    reference = (one / "identity" / "clusters.arrow").read_bytes()
    for max_edges in args.max_edges:
        many = args.dir / f"many-{max_edges}"
        lay_out(args.out, many, params)
        print(json.dumps(partitioned(many, max_edges, args.workers)))
        same = (many / "identity" / "clusters.arrow").read_bytes() == reference
        stats = [json.loads((d / "identity" / "clusters.json").read_text()) for d in (one, many)]
        print(json.dumps({"same_clusters_file": same, "same_figures": stats[0] == stats[1]}))
    return 0


CLUSTER_PHASE = 4

if __name__ == "__main__":
    raise SystemExit(main())
