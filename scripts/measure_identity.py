"""Measure one ``type: identity_match`` run on generated people: time, memory, F1.

Usage: .venv/bin/python scripts/measure_identity.py --rows 1M [--workers 2] [--dir /tmp/idm]

Writes (once per size and seed) ``people-<rows>.parquet`` with
``scripts/make_people``'s generator, runs ``jobctl run`` on the embedded
SQLite store with the README's example spec, samples the peak RSS of the
coordinator and of every worker (bench/procwatch.py), and prints one JSON
line: rows, wall seconds, peak RSS, pairwise/cluster/B-cubed F1 against the
generator's truth, and the job's summary figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procwatch import TreeMemory  # noqa: E402
from orchestrator.datagen.people import write_people  # noqa: E402
from orchestrator.evaluation.identity import score_clusters  # noqa: E402
from scripts.make_people import row_count  # noqa: E402

SPEC = """version: 1
jobs:
  - name: people
    type: identity_match
    params:
      mode: dedupe
      id: person_id
      fields:
        first_name: {{standardize: [given_name], compare: jaro_winkler}}
        last_name:  {{standardize: [name], compare: jaro_winkler, term_frequency: true}}
        dob:        {{standardize: [date], compare: date}}
        email:      {{standardize: [email], compare: exact}}
        phone:      {{standardize: [phone], compare: exact}}
        street:     {{standardize: [address], compare: token_set}}
      blocking: [[last_name_soundex, dob_year], [email], [phone], [first_name, last_name: swapped]]
      threshold: auto
    input: {{path: {input}}}
    chunking: {{rows: {chunk_rows}}}
    output: {{path: out/, format: parquet, mode: overwrite}}
    executor: {{local: {{workers: {workers}}}}}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=row_count, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/identity-measure"))
    args = parser.parse_args()
    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"people-{args.rows}-{args.seed}.parquet"
    if not data.exists():
        write_people(data, args.rows, args.seed, "cluster_id")
    (work / "jobs.yaml").write_text(
        SPEC.format(input=data, chunk_rows=args.chunk_rows, workers=args.workers)
    )
    shutil.rmtree(work / "state", ignore_errors=True)
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(work / "state"),
        "XDG_STATE_HOME": str(work / "state"),
    }
    env.pop("JOBCTL_DATABASE_URL", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "jobctl"), "run", "jobs.yaml"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(out, err, file=sys.stderr)
        return 1
    manifest = json.loads((work / "out" / "_SUCCESS").read_text())
    entities = pa.concat_tables(
        [
            pq.read_table(work / "out" / p["file"], columns=["entity_id", "cluster_id"])
            for p in manifest["parts"]
        ]
    )
    scores = score_clusters(entities["entity_id"], entities["cluster_id"])
    summary = manifest["summary"]["identity_match"]
    mem = memory.summary()
    workers = sorted(
        (peak for pid, (peak, cmd) in memory.peaks.items() if "orchestrator.worker" in cmd),
        reverse=True,
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "workers": args.workers,
                "wall_s": round(wall, 1),
                "coordinator_peak_rss_mib": round(mem["coordinator_peak_rss"] / 2**20),
                "worker_peak_rss_mib": [round(w / 2**20) for w in workers],
                "pairwise": vars(scores.pairwise),
                "cluster": vars(scores.cluster),
                "bcubed": vars(scores.bcubed),
                "pairs_compared": summary["pairs_compared"],
                "edges": summary["edges"],
                "clusters": summary["clusters"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
