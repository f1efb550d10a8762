"""`scripts/bench`: jobctl side by side with its peers, in one run on one machine.

Every scenario runs its contenders interleaved (A B C A B C ...) for several
rounds and reports medians, so a slow moment of the machine hits everyone.
Before each contender runs, the bench waits until the disk has written what
the previous one left dirty (:func:`settle_disk`): otherwise that writeback
lands in the next contender's time, and most of all in jobctl's, whose parts
and store commits wait for the disk (fsync) where the peers' writes do not.
The conversions also read their input into the page cache first
(:func:`warm_file`, untimed): this VM evicts a file's cached pages within
minutes even with memory free, and the contender that reads it first in a
round - jobctl, always - would otherwise pay for reading it from disk.
Results go to ``bench/results/<date>.json`` and a Markdown table
``bench/results/<date>.md`` that the README embeds. Every row names the
exact command it timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procwatch import TreeMemory  # noqa: E402

WORK = REPO / "bench" / "work"
DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"
JOBCTL = str(Path(sys.executable).parent / "jobctl")
PG_SERVER = os.environ.get("JOBCTL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

Result = dict[str, Any]


# -- helpers ------------------------------------------------------------------


def pg_database(name: str) -> str:
    """A fresh PostgreSQL database on the bench server; returns its URL."""
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_SERVER.rsplit("/", 1)[0]
    return f"{base}/{name}"


def store_url(backend: str, tag: str) -> str:
    if backend == "postgres":
        return pg_database(f"bench_{tag}")
    path = WORK / f"{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def jobctl_env() -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(WORK / "xdg-data")
    env["XDG_STATE_HOME"] = str(WORK / "xdg-state")
    env.pop("JOBCTL_DATABASE_URL", None)
    return env


def write_spec(name: str, body: str) -> Path:
    path = WORK / f"{name}.yaml"
    path.write_text("version: 1\njobs:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return path


def run_jobctl(
    args: list[str], timeout: float = 1800, env: dict[str, str] | None = None
) -> tuple[float, str, dict[str, int]]:
    """Run a jobctl command; wall seconds, stdout, and peak RSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [JOBCTL, *args],
        env=jobctl_env() if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate(timeout=timeout)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"jobctl {' '.join(args)} exited {proc.returncode}: {err[-2000:]}")
    return seconds, out, memory.summary()


def job_times(stdout: str) -> tuple[float, dict[str, Any]]:
    """Seconds from job start to job end, from the store (status JSON)."""
    doc = json.loads(stdout)[0]
    started = dt.datetime.fromisoformat(doc["started_at"])
    finished = dt.datetime.fromisoformat(doc["finished_at"])
    return (finished - started).total_seconds(), doc


def peer(name: str, n: int, **kw: Any) -> Result:
    from bench.peers.run_peer import run_peer

    return run_peer(name, n, **kw)


# -- scenario 1: dispatch overhead ------------------------------------------------


def jobctl_noop(backend: str, tasks: int, workers: int) -> Result:
    spec = write_spec(
        "noop",
        f"""\
        - name: noop
          type: noop
          input: {{sequence: {tasks}}}
          executor: {{local: {{workers: {workers}}}}}
        """,
    )
    url = store_url(backend, "dispatch")
    args = ["run", str(spec), "--db", url, "--json"]
    seconds, out, _ = run_jobctl(args)
    dispatch_seconds, doc = job_times(out)
    assert doc["chunks"]["succeeded"] == tasks
    shown = url if backend == "sqlite" else "postgresql://.../bench_dispatch"
    return {
        "name": f"jobctl ({backend})",
        "tasks": tasks,
        "seconds": seconds,
        "per_second": tasks / seconds,
        "dispatch_per_second": tasks / dispatch_seconds,
        "command": f"jobctl run {spec.relative_to(REPO)} --db {shown}",
    }


def scenario_dispatch(rounds: int, tasks: int) -> list[Result]:
    contenders: list[tuple[str, Callable[[], Result]]] = [
        ("jobctl-postgres", lambda: jobctl_noop("postgres", tasks, 2)),
        ("jobctl-sqlite", lambda: jobctl_noop("sqlite", tasks, 2)),
    ]
    for name in ("gnu_parallel", "celery", "procrastinate", "pgqueuer", "dask", "mp_pool"):
        contenders.append((name, lambda name=name: peer(name, tasks)))  # type: ignore[misc]
    return interleave(contenders, rounds, "per_second", higher_is_better=True)


# -- scenario 2: data throughput -------------------------------------------------


def ensure_data(rows: int) -> tuple[Path, Path]:
    from bench.data import make_csv, make_parquet

    DATA.mkdir(parents=True, exist_ok=True)
    parquet = DATA / f"people-{rows}.parquet"
    csv = DATA / f"people-{rows}.csv"
    if not parquet.exists():
        make_parquet(parquet, rows=rows)
    if not csv.exists():
        make_csv(parquet, csv)
    return parquet, csv


def jobctl_convert(source: Path, rows: int, fmt: str) -> Result:
    out = WORK / f"out-jobctl-{fmt}"
    # Start from nothing, as the peers do (they delete their output first). The
    # store is new every round, so job ids restart at 1: a previous round's
    # output, whose _SUCCESS names job 1, would make publish believe it had
    # already run, and the round would skip publishing and leave its parts in
    # staging.
    for leftover in (out, WORK / f".{out.name}.jobctl-staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    spec = write_spec(
        f"convert-{fmt}",
        f"""\
        - name: convert-{fmt}
          type: convert
          input: {{path: "{source}", format: {fmt}}}
          chunking: {{rows: 250000}}
          output: {{path: "{out}", format: parquet, compression: zstd, mode: overwrite}}
          executor: {{local: {{workers: 2}}}}
        """,
    )
    url = store_url("postgres", f"convert_{fmt}")
    launched = time.time()
    to_exit, out_json, memory = run_jobctl(["run", str(spec), "--db", url, "--json"])
    _, doc = job_times(out_json)
    assert doc["rows_out"] == rows, doc
    # launch to output complete (publish done: the job's end in the store), as
    # for the peers; the process's exit (status JSON, worker shutdown, the
    # interpreter's teardown) comes after and is reported apart
    seconds = dt.datetime.fromisoformat(doc["finished_at"]).timestamp() - launched
    return {
        "name": "jobctl (2 workers)",
        "rows": rows,
        "seconds": seconds,
        "seconds_to_exit": to_exit,
        "rows_per_second": rows / seconds,
        "peak_rss_bytes": max(memory["coordinator_peak_rss"], memory["max_worker_peak_rss"]),
        "max_worker_peak_rss": memory["max_worker_peak_rss"],
        "coordinator_peak_rss": memory["coordinator_peak_rss"],
        "command": f"jobctl run {spec.relative_to(REPO)} --db postgresql://.../bench_convert_{fmt}",
    }


def scenario_convert(rounds: int, rows: int, fmt: str) -> list[Result]:
    parquet, csv = ensure_data(rows)
    source = parquet if fmt == "parquet" else csv
    contenders: list[tuple[str, Callable[[], Result]]] = [
        ("jobctl", lambda: jobctl_convert(source, rows, fmt)),
    ]
    for name in ("convert_pyarrow", "convert_duckdb", "convert_dask"):
        contenders.append(
            (name, lambda name=name: peer(name, rows, source=str(source), fmt=fmt))  # type: ignore[misc]
        )
    return interleave(
        contenders, rounds, "seconds", higher_is_better=False, before_each=lambda: warm_file(source)
    )


# -- scenario 3: resume cost --------------------------------------------------------


def interrupted_convert(parquet: Path, tag: str) -> Result:
    """One Parquet convert killed with SIGKILL at 50% of its chunks, then run
    again with the same run key (which resumes it): wall time of both runs and
    the chunks leased more than once."""
    out = WORK / "out-jobctl-resume"
    for leftover in (out, WORK / f".{out.name}.jobctl-staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    spec = write_spec(
        "resume",
        f"""\
        - name: resume
          type: convert
          input: {{path: "{parquet}"}}
          chunking: {{rows: 250000}}
          output: {{path: "{out}", format: parquet, compression: zstd, mode: overwrite}}
          executor: {{local: {{workers: 2}}}}
        """,
    )
    url = store_url("postgres", f"resume_{tag}")
    env = jobctl_env()
    launched = time.time()
    proc = subprocess.Popen(
        [JOBCTL, "run", str(spec), "--db", url, "--run-key", "r1", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Watch the job from this process (one store connection, a ~1 ms query
    # every 50 ms) rather than with `jobctl status` processes: a CLI process
    # per poll would take CPU from the run being measured on a 2-core machine.
    killed_at = watch_and_kill(proc, url, "resume", "r1")
    proc.wait()
    resumed = subprocess.run(
        [JOBCTL, "run", str(spec), "--db", url, "--run-key", "r1", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    if resumed.returncode != 0:
        raise RuntimeError(f"resume failed: {resumed.stderr[-2000:]}")
    doc = json.loads(resumed.stdout)[0]
    # first launch to output complete, as for the uninterrupted run
    seconds = dt.datetime.fromisoformat(doc["finished_at"]).timestamp() - launched
    events = json.loads(
        subprocess.run(
            [JOBCTL, "events", str(doc["id"]), "--db", url, "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    leased = sum(1 for event in events if event["kind"] == "chunk_leased")
    adopted = sum(
        1
        for event in events
        if event["kind"] == "chunk_succeeded"
        and str(event["detail"].get("worker", "")).startswith("adopted")
    )
    return {
        "name": "kill -9 at 50% + resume",
        "seconds": seconds,
        "killed_after_seconds": killed_at,
        # leased again: in flight at the kill (running or queued on a worker);
        # adopted: finished by the orphaned worker, committed without running again
        "leased_again": leased - doc["chunks_total"],
        "adopted": adopted,
        "repeated_chunks": leased - doc["chunks_total"] - adopted,
        "chunks": doc["chunks_total"],
        "rows_out": doc["rows_out"],
        "command": f"jobctl run {spec.relative_to(REPO)} --run-key r1 (killed, then again)",
    }


def scenario_resume(rows: int, rounds: int) -> list[Result]:
    """Uninterrupted and interrupted+resumed runs, interleaved; medians."""
    parquet, _ = ensure_data(rows)
    clean: list[Result] = []
    broken: list[Result] = []

    def ready() -> None:  # what interleave() does before each contender
        settle_disk()
        warm_file(parquet)

    for index in range(rounds):
        ready()
        clean.append(jobctl_convert(parquet, rows, "parquet"))
        ready()
        broken.append(interrupted_convert(parquet, str(index)))
        print(
            f"  round {index + 1}/{rounds}: uninterrupted {clean[-1]['seconds']:.2f} s,"
            f" interrupted {broken[-1]['seconds']:.2f} s"
            f" (killed after {broken[-1]['killed_after_seconds']:.2f} s,"
            f" {broken[-1]['leased_again']} chunks leased again,"
            f" {broken[-1]['adopted']} of them adopted)",
            flush=True,
        )
        if broken[-1]["rows_out"] != rows:
            raise RuntimeError(f"resumed job wrote {broken[-1]['rows_out']} rows, not {rows}")
    clean_s = statistics.median(r["seconds"] for r in clean)
    broken_s = statistics.median(r["seconds"] for r in broken)
    return [
        {
            "name": "uninterrupted",
            "seconds": clean_s,
            "rounds": [r["seconds"] for r in clean],
            "repeated_chunks": 0,
            "command": clean[0]["command"],
        },
        {
            **broken[0],
            "seconds": broken_s,
            "rounds": [r["seconds"] for r in broken],
            "killed_after_seconds": statistics.median(r["killed_after_seconds"] for r in broken),
            "ratio_to_uninterrupted": broken_s / clean_s,
            "repeated_chunks": max(r["repeated_chunks"] for r in broken),
            "leased_again": max(r["leased_again"] for r in broken),
            "adopted": min(r["adopted"] for r in broken),
        },
    ]


def watch_and_kill(proc: subprocess.Popen[Any], url: str, name: str, run_key: str) -> float:
    """SIGKILL ``proc`` once half of job ``name``'s chunks succeeded; seconds
    since the call when it was killed (or when it ended by itself)."""
    from orchestrator.states import ChunkState
    from orchestrator.store import open_store

    t0 = time.perf_counter()
    store = None
    try:
        while proc.poll() is None:
            try:
                store = store or open_store(url)
                job = store.find_job(name, run_key)
            except Exception:  # the run has not created the store or the job yet
                job = None
            if job is not None:
                progress = store.job_progress(job.id)  # type: ignore[union-attr]
                done = progress.chunks.get(ChunkState.SUCCEEDED, 0)
                if progress.total and done >= progress.total / 2:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        if store is not None:
            store.close()
    return time.perf_counter() - t0


# -- scenario 4: scale of the state ------------------------------------------------------


def status_seconds(job_id: int, url: str) -> float:
    """Wall seconds of one `jobctl status JOB --json` process, launch to exit
    (no memory sampling thread beside it, unlike :func:`run_jobctl`)."""
    started = time.perf_counter()
    done = subprocess.run(
        [JOBCTL, "status", str(job_id), "--db", url, "--json"],
        env=jobctl_env(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"jobctl status exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def scenario_state(chunks: int, total_rows: int) -> list[Result]:
    from orchestrator import api
    from orchestrator.store import open_store

    results = []
    for backend in ("postgres", "sqlite"):
        url = store_url(backend, "state")
        spec = write_spec(
            "state",
            f"""\
            - name: state
              type: noop
              input: {{sequence: {chunks}}}
            """,
        )
        timings = []
        for index in range(max(1, total_rows // chunks)):
            seconds, out, _ = run_jobctl(
                ["submit", str(spec), "--db", url, "--run-key", f"k{index}", "--json"]
            )
            timings.append(seconds)
        job_id = json.loads(out)[0]["job_id"]
        store = open_store(url)
        try:
            latencies = []
            for _ in range(5):
                t0 = time.perf_counter()
                api.job_status(store, store.get_job(job_id))
                latencies.append(time.perf_counter() - t0)
        finally:
            store.close()
        cli = [status_seconds(job_id, url) for _ in range(7)]
        results.append(
            {
                "name": f"jobctl ({backend})",
                "submit_seconds": statistics.median(timings),
                "chunk_rows": chunks * len(timings),
                "status_query_ms": statistics.median(latencies) * 1000,
                "status_cli_ms": statistics.median(cli) * 1000,
                "command": f"jobctl submit {spec.relative_to(REPO)} ({chunks} chunks) x{len(timings)}; "
                f"jobctl status JOB --json",
            }
        )
    return results


# -- scenario 5: SSH --------------------------------------------------------------


def ssh_job_spec(name: str, job: dict[str, Any]) -> Path:
    import yaml

    body = yaml.safe_dump([{"name": name, **job}], sort_keys=False, width=1000)
    return write_spec(name, body)


def jobctl_ssh(
    label: str, spec: Path, tag: str, env: dict[str, str] | None, home: Path | None
) -> Result:
    """One ``jobctl run`` on PostgreSQL; job seconds come from the store (start to end)."""
    url = store_url("postgres", tag)
    seconds, out, _ = run_jobctl(["run", str(spec), "--db", url, "--json"], env=env)
    job_seconds, doc = job_times(out)
    assert doc["chunks"]["succeeded"] == doc["chunks_total"], doc
    prefix = f"HOME={home.relative_to(REPO)} " if home else ""
    return {
        "name": label,
        "tasks": doc["chunks_total"],
        "seconds": job_seconds,
        "e2e_seconds": seconds,
        "command": f"{prefix}jobctl run {spec.relative_to(REPO)} --db postgresql://.../bench_{tag}",
    }


def scenario_ssh(rounds: int, tasks: int, mb: int) -> dict[str, Any]:
    """No-op chunks through 2 loopback sshd hosts, and push-mode MB/s beside ``cat``."""
    from bench import ssh_hosts

    reason = ssh_hosts.unavailable()
    if reason:
        print(f"  skipped: {reason}", flush=True)
        return {"skipped": reason}
    try:
        cluster = ssh_hosts.start_cluster(WORK / "ssh", 2)
    except Exception as exc:
        reason = f"loopback sshd hosts did not start: {type(exc).__name__}: {exc}"[:500]
        print(f"  skipped: {reason}", flush=True)
        return {"skipped": reason}
    try:
        env = ssh_hosts.client_env(cluster, jobctl_env())
        home = cluster.home

        def noop(executor: dict[str, Any]) -> dict[str, Any]:
            return {"type": "noop", "input": {"sequence": tasks}, "executor": executor}

        ssh_noop = ssh_job_spec(
            "ssh-noop", noop({"ssh": ssh_hosts.executor_section(cluster, "shared")})
        )
        local_noop = ssh_job_spec("ssh-noop-local", noop({"local": {"workers": 2}}))

        def overhead(label: str, spec: Path, tag: str, remote: bool) -> Result:
            row = jobctl_ssh(label, spec, tag, env if remote else None, home if remote else None)
            row["per_second"] = row["tasks"] / row["e2e_seconds"]
            row["dispatch_per_second"] = row["tasks"] / row["seconds"]
            return row

        print(f"ssh: {tasks} no-op chunks, 2 sshd hosts x 1 slot vs 2 local slots", flush=True)
        overhead_rows = interleave(
            [
                (
                    "ssh",
                    lambda: overhead("jobctl, 2 ssh hosts x 1 slot", ssh_noop, "ssh_noop", True),
                ),
                (
                    "local",
                    lambda: overhead("jobctl, 2 local slots", local_noop, "ssh_local", False),
                ),
            ],
            rounds,
            "per_second",
            higher_is_better=True,
        )

        source = DATA / f"ssh-push-{mb}mb.parquet"
        if not source.exists():
            DATA.mkdir(parents=True, exist_ok=True)
            ssh_hosts.make_parquet(source, mb)
        data_in = {"path": str(source), "format": "parquet"}
        chunking = {"rows": ssh_hosts.PUSH_CHUNK_ROWS}

        def output(name: str) -> dict[str, Any]:
            path = str(WORK / f"out-{name}")
            return {"path": path, "format": "parquet", "compression": "none", "mode": "overwrite"}

        push_section = ssh_hosts.executor_section(cluster, "push")
        specs = {
            "push-noop": {"type": "noop", "executor": {"ssh": push_section}},
            "push-convert": {
                "type": "convert",
                "output": output("ssh-push"),
                "executor": {"ssh": push_section},
            },
            "push-local": {
                "type": "convert",
                "output": output("ssh-local"),
                "executor": {"local": {"workers": 2}},
            },
        }
        paths = {
            name: ssh_job_spec(f"ssh-{name}", {**job, "input": data_in, "chunking": chunking})
            for name, job in specs.items()
        }
        blob = WORK / "ssh-push.arrow"
        size, chunks = ssh_hosts.push_payloads(paths["push-noop"], blob)
        target = str(cluster.hosts[0].root / "blob.copy")

        def rate(row: Result) -> Result:
            row["bytes"] = size
            row["mb_per_second"] = size / 1e6 / row["seconds"]
            return row

        def push(label: str, name: str) -> Result:
            remote = name != "push-local"
            tag = "ssh_" + name.replace("-", "_")
            return rate(
                jobctl_ssh(
                    label, paths[name], tag, env if remote else None, home if remote else None
                )
            )

        def openssh() -> Result:
            seconds = ssh_hosts.openssh_cat(cluster, blob, target)
            argv = ssh_hosts.openssh_cat_argv(cluster, target)
            *client, remote = argv  # local paths from the repo root; the remote one as run
            shown = " ".join(shlex.quote(a.replace(f"{REPO}/", "")) for a in client)
            shown += " " + shlex.quote(remote)
            command = f"HOME={home.relative_to(REPO)} {shown} < {blob.relative_to(REPO)}"
            return rate(
                {
                    "name": "ssh h1 'cat > file' (OpenSSH, 1 connection)",
                    "seconds": seconds,
                    "command": command,
                }
            )

        def paramiko_cat() -> Result:
            seconds = ssh_hosts.paramiko_cat(cluster, blob, target)
            command = (
                f"HostConnection(h1).run('cat > {target}', "
                f"stdin={blob.relative_to(REPO)} bytes) (paramiko, in the bench process)"
            )
            return rate(
                {
                    "name": "paramiko 'cat > file' (jobctl's connection, 1 channel)",
                    "seconds": seconds,
                    "command": command,
                }
            )

        print(f"ssh: push mode, {size / 1e6:.0f} MB of Arrow IPC in {chunks} chunks", flush=True)
        contenders: list[tuple[str, Callable[[], Result]]] = []
        if shutil.which("ssh"):
            contenders.append(("openssh-cat", openssh))
        contenders += [
            ("push-noop", lambda: push("jobctl push, noop (nothing comes back)", "push-noop")),
            (
                "push-convert",
                lambda: push("jobctl push, convert (parts come back)", "push-convert"),
            ),
            ("paramiko-cat", paramiko_cat),
            ("local-convert", lambda: push("jobctl convert, 2 local slots (no SSH)", "push-local")),
        ]
        push_rows = interleave(contenders, rounds, "mb_per_second", higher_is_better=True)
        if not shutil.which("ssh"):
            push_rows.append({"name": "ssh h1 'cat > file' (OpenSSH)", "skipped": "no ssh client"})
    finally:
        ssh_hosts.stop_cluster(cluster)
    return {
        "hosts": 2,
        "slots_per_host": 1,
        "tasks": tasks,
        "push_bytes": size,
        "push_chunks": chunks,
        "overhead": overhead_rows,
        "push": push_rows,
    }


# -- running and reporting ------------------------------------------------------------------


def settle_disk(limit: float = 60.0) -> None:
    """Flush the page cache's dirty data to disk (``sync``), waiting at most ``limit`` s.

    Not timed for anyone: it runs between contenders, the same for each.
    """
    flusher = threading.Thread(target=os.sync, daemon=True)
    flusher.start()
    flusher.join(limit)


def warm_file(path: Path, block: int = 16 * 1024 * 1024) -> None:
    """Read ``path`` once so its pages are in the page cache (untimed)."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(block)
        while f.readinto(buf):
            pass


def interleave(
    contenders: list[tuple[str, Callable[[], Result]]],
    rounds: int,
    key: str,
    higher_is_better: bool,
    before_each: Callable[[], None] | None = None,
) -> list[Result]:
    samples: dict[str, list[Result]] = {name: [] for name, _ in contenders}
    for round_no in range(rounds):
        for name, fn in contenders:
            settle_disk()
            if before_each is not None:
                before_each()
            try:
                result = fn()
            except Exception as exc:  # a peer that fails is reported, not fatal
                result = {"name": name, "error": f"{type(exc).__name__}: {exc}"[:500]}
            result["round"] = round_no
            samples[name].append(result)
            print(
                f"  round {round_no + 1}/{rounds} {name}: {result.get(key, result.get('error'))}",
                flush=True,
            )
    summary = []
    for runs in samples.values():
        good = [r for r in runs if key in r]
        if not good:
            summary.append(runs[-1])
            continue
        median = statistics.median(r[key] for r in good)
        best = min(good, key=lambda r: abs(r[key] - median))
        row = dict(best)
        row[key] = median
        row["rounds"] = len(good)
        for extra in (
            "dispatch_per_second",
            "seconds",
            "seconds_to_exit",
            "seconds_in_process",
            "rows_per_second",
            "peak_rss_bytes",
            "max_worker_peak_rss",
        ):
            if extra in best and extra != key:
                row[extra] = statistics.median(r[extra] for r in good if extra in r)
        summary.append(row)
    return summary


def markdown(results: dict[str, Any]) -> str:
    data_rounds = results.get("data_rounds", results["rounds"])  # older result files lack it
    lines = [
        f"Measured {results['date']} on {results['machine']} with `{results['invocation']}`.",
        "",
    ]
    if "dispatch" in results:
        base = next((r for r in results["dispatch"] if r["name"] == "jobctl (postgres)"), None)
        lines += [
            "**Dispatch overhead** (no-op chunks/tasks, 2 workers, median of "
            f"{results['rounds']} interleaved rounds)",
            "",
            "| contender | tasks/s (from first task to last; jobctl: job start to end in the store, its workers started by the CLI while it planned; peers: the clock each peer script's docstring names) | jobctl (postgres) is | jobctl end to end incl. CLI start, plan, submit | command |",
            "|---|---:|---:|---:|---|",
        ]
        for row in results["dispatch"]:
            if "error" in row:
                lines.append(f"| {row['name']} | failed: {row['error'][:80]} | | | |")
                continue
            rate = row.get("dispatch_per_second", row["per_second"])
            ratio = f"{base['dispatch_per_second'] / rate:.1f}x" if base else ""
            e2e = f"{row['per_second']:,.0f}" if "dispatch_per_second" in row else ""
            lines.append(f"| {row['name']} | {rate:,.0f} | {ratio} | {e2e} | `{row['command']}` |")
        lines.append("")
    for key, title in (("parquet", "Parquet to zstd Parquet"), ("csv", "CSV to zstd Parquet")):
        if key not in results:
            continue
        rows = results[key]
        base = next((r for r in rows if r["name"].startswith("jobctl")), None)
        lines += [
            f"**{title}** (seconds from launching the command until its output is complete:"
            " interpreter start, imports and planning included, for every contender; median of"
            f" {data_rounds} interleaved rounds; in brackets: jobctl until its process"
            " exited, a peer's own timing of its conversion)",
            "",
            "| contender | seconds | rows/s | its time / jobctl time | peak RSS (max process) | command |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in rows:
            if "error" in row:
                lines.append(f"| {row['name']} | failed: {row['error'][:80]} | | | | |")
                continue
            ratio = f"{row['seconds'] / base['seconds']:.2f}" if base and "seconds" in base else ""
            rss = f"{row.get('peak_rss_bytes', 0) / 2**20:,.0f} MiB"
            aside = row.get("seconds_to_exit", row.get("seconds_in_process"))
            shown = f"{row['seconds']:.2f}" + (f" ({aside:.2f})" if aside else "")
            lines.append(
                f"| {row['name']} | {shown} | {row.get('rows_per_second', 0):,.0f} | {ratio} | {rss} | `{row['command']}` |"
            )
        lines.append("")
    if "resume" in results:
        lines += [
            f"**Resume cost** (Parquet convert, median of {data_rounds} interleaved rounds; "
            "seconds from the first launch until the output is complete; the kill comes from "
            "the bench process once half the chunks succeeded)",
            "",
            "| run | seconds (median) | each round | ratio | chunks leased again (max) | of them adopted, not recomputed (min) | at most computed twice (max) |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for row in results["resume"]:
            each = ", ".join(f"{x:.2f}" for x in row.get("rounds", [row["seconds"]]))
            lines.append(
                f"| {row['name']} | {row['seconds']:.2f} | {each} | {row.get('ratio_to_uninterrupted', 1):.2f} | {row.get('leased_again', 0)} | {row.get('adopted', 0)} | {row['repeated_chunks']} |"
            )
        lines.append("")
    if "state" in results:
        lines += [
            "**Scale of the state** (submit: median of the submits; status query: median of 5"
            " in-process calls; `status --json` process: median of 7, launch to exit)",
            "",
            "| backend | submit (s) | chunk rows | status query (ms) | `status --json` process (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in results["state"]:
            lines.append(
                f"| {row['name']} | {row['submit_seconds']:.2f} | {row['chunk_rows']:,} | {row['status_query_ms']:.0f} | {row['status_cli_ms']:.0f} |"
            )
        lines.append("")
    if "ssh" in results:
        lines += ssh_markdown(results["ssh"], results["rounds"])
    return "\n".join(lines)


def ssh_markdown(ssh: dict[str, Any], rounds: int) -> list[str]:
    if "skipped" in ssh:
        return [f"**SSH**: skipped ({ssh['skipped']})", ""]
    lines = [
        f"**SSH overhead** ({ssh['tasks']:,} no-op chunks; {ssh['hosts']} loopback sshd hosts x "
        f"{ssh['slots_per_host']} slot vs 2 local slots; PostgreSQL store; median of {rounds} "
        "interleaved rounds)",
        "",
        "| contender | chunks/s (job start to end: SSH connect, worker start, dispatch, commits) | ms per chunk per slot | end to end incl. CLI start, plan, submit | command |",
        "|---|---:|---:|---:|---|",
    ]
    for row in ssh["overhead"]:
        if "error" in row:
            lines.append(f"| {row['name']} | failed: {row['error'][:80]} | | | |")
            continue
        rate = row["dispatch_per_second"]
        lines.append(
            f"| {row['name']} | {rate:,.0f} | {2000 / rate:.2f} | {row['per_second']:,.0f} | `{row['command']}` |"
        )
    lines += [
        "",
        f"**SSH push throughput** (the same {ssh['push_bytes'] / 1e6:,.0f} MB of Arrow IPC: what "
        f"push mode sends for {ssh['push_chunks']} chunks of the input; jobctl: 2 hosts x 1 slot, "
        "job start to end; `cat`: one connection to h1, connect included; MB = 10^6 bytes)",
        "",
        "| contender | MB/s | seconds | command |",
        "|---|---:|---:|---|",
    ]
    for row in ssh["push"]:
        if "error" in row or "skipped" in row:
            why = f"failed: {row['error'][:80]}" if "error" in row else f"skipped: {row['skipped']}"
            lines.append(f"| {row['name']} | {why} | | |")
            continue
        lines.append(
            f"| {row['name']} | {row['mb_per_second']:,.0f} | {row['seconds']:.2f} | `{row['command']}` |"
        )
    lines.append("")
    return lines


def update_readme(table: str) -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument(
        "--only",
        default="",
        help="comma list: dispatch,parquet,csv,resume,state,ssh "
        "(and, opt-in, transform,report,validate,realpath,scale,identity,shuffle)",
    )
    parser.add_argument(
        "--sizes",
        default="",
        help="realpath: comma list of chunk counts (default 1000,5000,20000; --quick: 1000)",
    )
    parser.add_argument(
        "--kinds",
        default="parquet_groups,small_files,csv_ranges",
        help="realpath: which of its scenarios to run (comma list)",
    )
    parser.add_argument(
        "--records",
        default="1000000",
        help="identity: comma list of record counts (default 1000000)",
    )
    parser.add_argument(
        "--contenders",
        default="splink,jobctl",
        help="identity: which of splink,jobctl to run (default both)",
    )
    parser.add_argument(
        "--identity-timeout",
        type=float,
        default=7200.0,
        help="identity: seconds a contender may run before it is stopped and"
        " reported as not finished (default 7200)",
    )
    parser.add_argument(
        "--shuffle-rows", default="", help="shuffle: rows (default 10000000; --quick: 200000)"
    )
    parser.add_argument(
        "--shuffle-tasks", default="dedupe,group_by", help="shuffle: which of dedupe,group_by"
    )
    parser.add_argument(
        "--shuffle-peers",
        default="duckdb,duckdb_1gb,polars,polars_streaming,pyarrow",
        help="shuffle: the single-process peers run beside jobctl (a big run may drop some)",
    )
    parser.add_argument(
        "--scale-jobs",
        type=int,
        default=1,
        help="scale: jobs of that many chunks in the store when the reads are timed (default 1)",
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--data-rounds",
        type=int,
        default=None,
        help="rounds of the convert and resume scenarios (default 5; --quick: 1)",
    )
    parser.add_argument("--no-readme", action="store_true", help="do not update README.md")
    args = parser.parse_args()
    only = {x for x in args.only.split(",") if x} or {
        "dispatch",
        "parquet",
        "csv",
        "resume",
        "state",
        "ssh",
    }
    rounds = args.rounds or (1 if args.quick else 3)
    # identical conversions differ by 10-20% from run to run on a small VM
    # (the dispatch rounds far less), so their medians take more rounds
    data_rounds = args.data_rounds or (1 if args.quick else 5)
    tasks = 2_000 if args.quick else 10_000
    rows = 1_000_000 if args.quick else 10_000_000
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "invocation": "scripts/bench " + " ".join(sys.argv[1:]),
        "rounds": rounds,
        "data_rounds": data_rounds,
    }
    if "dispatch" in only:
        print(f"dispatch: {tasks} no-op tasks, 2 workers", flush=True)
        results["dispatch"] = scenario_dispatch(rounds, tasks)
    for fmt in ("parquet", "csv"):
        if fmt in only:
            print(f"{fmt}: {rows:,} rows to zstd Parquet", flush=True)
            results[fmt] = scenario_convert(data_rounds, rows, fmt)
    if "resume" in only:
        print("resume: kill -9 at 50%, then resume", flush=True)
        results["resume"] = scenario_resume(rows, data_rounds)
    if "state" in only:
        chunks = 10_000 if args.quick else 100_000
        total = 100_000 if args.quick else 1_000_000
        print(f"state: submit {chunks} chunks, status with {total} chunk rows", flush=True)
        results["state"] = scenario_state(chunks, total)
    if "ssh" in only:
        print("ssh: 2 loopback sshd hosts", flush=True)
        results["ssh"] = scenario_ssh(rounds, tasks, 50 if args.quick else 200)
    if only & {"transform", "report"}:  # opt-in (bench/analytics.py): one run each
        from bench import analytics

        for key, run in (
            ("transform", analytics.scenario_transform),
            ("report", analytics.scenario_report),
        ):
            if key in only:
                print(f"{key}: {rows:,} rows, jobctl beside DuckDB alone", flush=True)
                results[key] = run(rows)
    if "validate" in only:  # opt-in (bench/validate_bench.py)
        from bench.validate_bench import scenario_validate

        print(f"validate: 6 rules over {rows:,} rows, jobctl vs pandera", flush=True)
        results["validate"] = scenario_validate(data_rounds, rows)
    extra: list[str] = []
    if "identity" in only:  # opt-in (bench/identity.py): one run per size
        from bench import identity

        results["identity"] = []
        for records in (int(x) for x in args.records.split(",")):
            done = identity.scenario_identity(
                records, tuple(args.contenders.split(",")), args.identity_timeout
            )
            results["identity"].append(done)
            extra += identity.markdown(done)
    if "realpath" in only:
        from bench.realpath import markdown as realpath_markdown
        from bench.realpath import scenario_realpath

        default = "1000" if args.quick else "1000,5000,20000"
        sizes = tuple(int(x) for x in (args.sizes or default).split(","))
        print(f"realpath: read + identity + part, 2 workers, N = {sizes}", flush=True)
        results["realpath"] = scenario_realpath(sizes, kinds=tuple(args.kinds.split(",")))
        extra += realpath_markdown(results["realpath"])
    if "shuffle" in only:  # opt-in (bench/shuffle_bench.py): one run
        from bench.shuffle_bench import markdown as shuffle_markdown
        from bench.shuffle_bench import scenario_shuffle

        shuffle_rows = int(args.shuffle_rows or (200_000 if args.quick else 10_000_000))
        print(f"shuffle: dedupe and group-by of {shuffle_rows:,} rows, jobctl vs peers", flush=True)
        results["shuffle"] = scenario_shuffle(
            shuffle_rows,
            tasks=tuple(args.shuffle_tasks.split(",")),
            peers=tuple(args.shuffle_peers.split(",")),
        )
        extra += shuffle_markdown(results["shuffle"])
    if "scale" in only:
        from bench.scale import markdown as scale_markdown
        from bench.scale import scenario_scale

        chunks = 100_000 if args.quick else 1_000_000
        print(f"scale: a {chunks:,}-chunk no-op job on both backends", flush=True)
        results["scale"] = scenario_scale(chunks, args.scale_jobs)
        extra += scale_markdown(results["scale"])
    # a partial or quick run never overwrites the day's full results, nor the README
    full = not args.only and not args.quick
    stamp = results["date"] if full else f"{results['date']}-{'-'.join(sorted(only))}"
    if "scale" in only and args.scale_jobs > 1:
        stamp += f"-{args.scale_jobs}-jobs"
    if "identity" in only:  # one file per size list, so a small check keeps the big run
        stamp += "-" + args.records.replace(",", "-")
    if "shuffle" in only and results["shuffle"]["rows"] != 10_000_000:  # one file per size
        stamp += f"-{results['shuffle']['rows']}"
    if args.quick:
        stamp += "-quick"
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results) + "\n".join(extra)
    if only & {"transform", "report"}:
        from bench import analytics

        table += "\n".join(analytics.markdown(results))
    if "validate" in results:
        from bench.validate_bench import markdown_lines

        table += "\n" + "\n".join(markdown_lines(results["validate"], data_rounds))
    if "identity" in results:
        table += "\n" + "\n".join(extra)
    (RESULTS / f"{stamp}.md").write_text(table + "\n")
    if full and not args.no_readme:
        update_readme(table)
    print(table)


if __name__ == "__main__":
    main()
