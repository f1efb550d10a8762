"""`scripts/bench --only identity [--records N]`: jobctl identity_match beside Splink 5.

On the generator's people (``scripts/make_people``, seed 7, truth in
``cluster_id``), in one run: Splink 5 with DuckDB (2 threads;
bench/peers/identity_splink.py, its recommended settings for the same fields
and blocking rules) and jobctl ``type: identity_match`` (2 local workers, the
spec below). Both read the same file without the truth column; each one's
clusters are scored against the truth with ``jobctl eval identity``'s API.
Per contender: wall seconds from launch to exit, peak RSS of every process of
its tree (the largest and each one), pairwise/cluster/B-cubed F1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.procwatch import TreeMemory

Result = dict[str, Any]
BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SEED = 7

JOBCTL_PARAMS: dict[str, Any] = {
    "mode": "dedupe",
    "id": "person_id",
    "fields": {
        "first_name": {"standardize": ["given_name"], "compare": "jaro_winkler"},
        "last_name": {"standardize": ["name"], "compare": "jaro_winkler", "term_frequency": True},
        "dob": {"standardize": ["date"], "compare": "date"},
        "email": {"standardize": ["email"], "compare": "exact"},
        "phone": {"standardize": ["phone"], "compare": "exact"},
        "street": {"standardize": ["address"], "compare": "token_set"},
    },
    # Rules whose blocks grow with the population, not with its square (the
    # README's "Blocking at scale"): on these people [last_name_soundex,
    # dob_year] makes 18.9M pairs at 1M and 1.67B at 10M; [last_name_soundex,
    # dob] 2.3M and 27M, for 0.3% of the true pairs.
    "blocking": [
        ["last_name_soundex", "dob"],
        ["email"],
        ["phone"],
        ["first_name", {"last_name": "swapped"}, "dob_year"],
    ],
    "threshold": "auto",
}


#: row groups of the matchers' input as DuckDB writes them (pyarrow's default,
#: one group of 1Mi rows, made jobctl's prepare phase one chunk on one worker)
INPUT_ROW_GROUP_ROWS = 122_880


def people_files(records: int, data_dir: Path) -> tuple[Path, Path]:
    """The people file without the truth (what the matchers read) and the truth file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full = data_dir / f"people-{records}.parquet"
    source = data_dir / f"people-{records}-input.parquet"
    truth = data_dir / f"people-{records}-truth.parquet"
    if not full.exists():
        subprocess.run(
            [str(REPO / "scripts" / "make_people"), "--rows", str(records), "--seed", str(SEED),
             "--out", str(full)],
            check=True,
        )  # fmt: skip
    if not (source.exists() and truth.exists()):
        table = pq.read_table(full)
        pq.write_table(table.select(["person_id", "cluster_id"]), truth)
        pq.write_table(
            table.drop_columns(["cluster_id"]),
            source,
            compression="zstd",
            row_group_size=INPUT_ROW_GROUP_ROWS,
        )
    return source, truth


def _tree(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> Result:
    """Run ``argv``: wall seconds, stdout, and the peak RSS of each of its processes."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,  # its own process group: a timeout stops the whole tree
    )
    timed_out = False
    with TreeMemory(proc.pid, interval=0.2) as memory:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:  # stopped: reported as not finished
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    seconds = time.perf_counter() - started
    processes = sorted(
        ({"peak_rss_bytes": peak, "cmd": cmd[:120]} for peak, cmd in memory.peaks.values()),
        key=lambda item: -item["peak_rss_bytes"],
    )
    return {
        "exit": proc.returncode,
        "timed_out": timed_out,
        "seconds": seconds,
        "stdout": out.decode(),
        "stderr_tail": err.decode()[-3000:],
        "peak_rss_bytes": max((p["peak_rss_bytes"] for p in processes), default=0),
        "processes": processes,
    }


def _scores(clusters: Path, truth: Path) -> Result:
    from orchestrator.api.evaluate import evaluate_identity

    result = evaluate_identity(clusters, str(truth), id_column="person_id")
    doc = result.to_dict()
    return {
        "pairwise": doc["pairwise"],
        "cluster": doc["cluster"],
        "bcubed": doc["bcubed"],
        "predicted_clusters": doc["predicted_clusters"],
        "true_clusters": doc["true_clusters"],
        "missing_from_output": doc["missing_from_output"],
    }


def run_splink(source: Path, truth: Path, work: Path, timeout: float) -> Result:
    from bench.peers.env import ensure_peer_env

    python = ensure_peer_env()
    out = work / "splink-clusters.parquet"
    out.unlink(missing_ok=True)
    script = BENCH / "peers" / "identity_splink.py"
    run = _tree([str(python), str(script), "--input", str(source), "--out", str(out)], timeout)
    row: Result = {"name": "Splink 5 (DuckDB, 2 threads)", **run}
    row["command"] = (
        f"bench/.peers-venv/bin/python bench/peers/identity_splink.py --input {source.name}"
    )
    if run["exit"] == 0:
        row["splink"] = json.loads(run["stdout"].strip().splitlines()[-1])
        row["scores"] = _scores(out, truth)
    return row


def run_jobctl(source: Path, truth: Path, work: Path, timeout: float) -> Result:
    from bench import suite

    out = work / "jobctl-identity"
    for leftover in (out, out.parent / f".{out.name}.jobctl-staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    body = f"""\
    - name: bench-identity
      type: identity_match
      params: {json.dumps(JOBCTL_PARAMS)}
      input: {{path: "{source}"}}
      chunking: {{rows: 250000}}
      output: {{path: "{out}", format: parquet, mode: overwrite}}
      executor: {{local: {{workers: 2}}}}
    """
    spec = suite.write_spec("bench-identity", body)
    url = suite.store_url("postgres", "bench_identity")
    argv = [str(Path(sys.executable).parent / "jobctl"), "run", str(spec), "--db", url, "--json"]
    run = _tree(argv, timeout, env=suite.jobctl_env())
    row: Result = {"name": "jobctl identity_match (2 workers)", **run}
    row["command"] = f"jobctl run {spec.relative_to(REPO)} --db postgresql://.../bench_identity"
    if run["exit"] == 0:
        row["summary"] = json.loads((out / "_SUCCESS").read_text())
        row["scores"] = _scores(out, truth)
    return row


def scenario_identity(
    records: int, contenders: tuple[str, ...] = ("splink", "jobctl"), timeout: float = 7200.0
) -> Result:
    from bench import suite

    source, truth = people_files(records, BENCH / "data")
    work = suite.WORK / "identity"
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Result] = []
    if "splink" in contenders:
        print(f"identity: Splink on {records:,} records", flush=True)
        rows.append(run_splink(source, truth, work, timeout))
    if "jobctl" in contenders:
        print(f"identity: jobctl on {records:,} records", flush=True)
        rows.append(run_jobctl(source, truth, work, timeout))
    return {"records": records, "seed": SEED, "rows": rows}


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f}"


def markdown(result: Result) -> list[str]:
    lines = [
        f"### identity: {result['records']:,} generated people (seed {result['seed']})",
        "",
        "| contender | wall s | peak RSS GiB (largest process) | processes | pairwise F1 | cluster F1 | B-cubed F1 | command |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for row in result["rows"]:
        scores = row.get("scores")
        if row.get("timed_out"):
            cells = [f"not finished in {row['seconds']:.0f} s", "-", "-"]
        elif scores is None:
            cells = ["failed", "-", "-"]
        else:
            cells = [f"{scores[k]['f1']:.4f}" for k in ("pairwise", "cluster", "bcubed")]
        lines.append(
            f"| {row['name']} | {row['seconds']:.1f} | {_gib(row['peak_rss_bytes'])} |"
            f" {len(row['processes'])} | {' | '.join(cells)} | `{row['command']}` |"
        )
    return lines
