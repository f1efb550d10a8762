"""Run one peer of the benchmarks in the peers venv and return its result.

For ``scripts/bench`` (project venv, standard library only)::

    from bench.peers.run_peer import run_peer
    run_peer("celery", 10_000)               # dispatch: N no-op tasks, 2 workers
    run_peer("convert_duckdb", input=path)   # data: convert a .parquet/.csv file

or from a shell: ``.venv/bin/python bench/peers/run_peer.py celery --n 2000``.

A peer never raises here: a failure, a timeout or unparsable output gives
``{"name": ..., "error": ...}``. Every run is bounded by a timeout, after which
the peer's whole process group is terminated (then killed); the peers stop
their own workers, Redis keys and databases when they end or get SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peers.env import PEERS_DIR, ensure_debian, ensure_peer_env, ensure_redis

REPO_ROOT = PEERS_DIR.parents[1]

# name -> script; the dispatch peers take --n, the data peers --input
DISPATCH_PEERS: dict[str, str] = {
    "gnu_parallel": "peer_gnu_parallel.py",
    "celery": "peer_celery.py",
    "procrastinate": "peer_procrastinate.py",
    "pgqueuer": "peer_pgqueuer.py",
    "dask": "peer_dask.py",
    "mp_pool": "peer_mp_pool.py",
}
DATA_PEERS: dict[str, str] = {
    "convert_pyarrow": "convert_pyarrow.py",
    "convert_duckdb": "convert_duckdb.py",
    "convert_dask": "convert_dask.py",
    "validate_pandera": "validate_pandera.py",
}
PEERS: dict[str, str] = {**DISPATCH_PEERS, **DATA_PEERS}

CELERY_REDIS_DB = 13  # the celery peer flushes this Redis database before and after
DATA_TIMEOUT = 1800.0
KILL_GRACE = 20.0


def default_timeout(name: str, n: int | None) -> float:
    """Generous bound: set-up plus N tasks at no less than 20 per second."""
    if name in DATA_PEERS:
        return DATA_TIMEOUT
    return 120.0 + (n or 0) / 20.0


def _argv(kw: Mapping[str, Any]) -> list[str]:
    """``{"redis_url": "x", "keep": True}`` -> ``["--redis-url", "x", "--keep"]``."""
    out: list[str] = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is not None and value is not False:
            out += [flag, str(value)]
    return out


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _terminate(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM the peer's group (it cleans up), SIGKILL it after a grace period."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            return proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return "", ""


def run_peer(
    name: str,
    n: int | None = None,
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Run peer ``name`` in the peers venv; its JSON result, or ``{"name", "error"}``.

    ``n``: number of no-op tasks (dispatch peers; required), or the expected
    row count (data peers; checked against the output, optional).
    ``kw`` become the script's options: ``input=PATH`` (alias ``source``) and
    ``format="parquet"|"csv"`` (alias ``fmt``; default from the suffix) for the
    data peers; ``workers=2``, ``keep=True``, ``redis_url=...``, ``threads=2``.
    ``timeout``: wall-clock bound in seconds (default: ``default_timeout``).
    ``env``: extra environment (e.g. ``BENCH_PG_DSN``).
    The returned dict also has ``wall_seconds`` (the whole peer run, set-up included).
    A data peer's ``seconds`` run from its launch to the moment its output was
    complete (as jobctl's are); its own timing of its conversion is ``seconds_in_process``.
    """
    if name not in PEERS:
        return {"name": name, "error": f"unknown peer (known: {', '.join(PEERS)})"}
    bound = timeout if timeout is not None else default_timeout(name, n)
    try:
        python = ensure_peer_env()
        args = dict(kw)
        if name in DISPATCH_PEERS:
            if n is None:
                return {"name": name, "error": "n (the number of tasks) is required"}
            args = {"n": n, "timeout": max(10.0, bound - 60.0), **args}
        else:
            # Aliases: source= for input=, fmt= for format=; n is the expected row count.
            if "source" in args:
                args["input"] = args.pop("source")
            if "fmt" in args:
                args["format"] = args.pop("fmt")
            if n is not None:
                args.setdefault("rows", n)
            if "input" not in args:
                return {"name": name, "error": "input=PATH (a .parquet or .csv file) is required"}
        if name == "gnu_parallel":
            ensure_debian(["parallel"])
        if name == "celery" and "redis_url" not in args:
            args["redis_url"] = ensure_redis(db=CELERY_REDIS_DB)
    except Exception as exc:
        return {"name": name, "error": f"set-up failed: {type(exc).__name__}: {exc}"}

    cmd = [str(python), str(PEERS_DIR / PEERS[name]), *_argv(args)]
    t0 = time.perf_counter()
    launched = time.time()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return {"name": name, "error": f"cannot start {cmd[0]}: {exc}"}
    try:
        out, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        out, err = _terminate(proc)
        return {
            "name": name,
            "error": f"timed out after {bound:.0f} s",
            "stderr_tail": _tail(err),
        }
    except BaseException:
        _terminate(proc)
        raise
    wall = time.perf_counter() - t0
    result = _last_json(out)
    if proc.returncode != 0 or result is None:
        return {
            "name": name,
            "error": f"exit code {proc.returncode}"
            + ("" if result is not None else ", no JSON result line"),
            "stderr_tail": _tail(err),
        }
    result.setdefault("name", name)
    result["wall_seconds"] = round(wall, 3)
    if isinstance(result.get("done_epoch"), int | float):
        # launch to output complete: interpreter start and imports included,
        # the peer's own check of its output afterwards not
        result["seconds_in_process"] = result.get("seconds")
        result["seconds"] = round(result["done_epoch"] - launched, 4)
        if result["seconds"] > 0 and result.get("rows"):
            result["rows_per_second"] = round(result["rows"] / result["seconds"], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Run one benchmark peer and print its JSON result.")
    ap.add_argument("name", choices=sorted(PEERS))
    ap.add_argument("--n", type=int, default=None, help="no-op tasks (dispatch peers)")
    ap.add_argument("--input", type=Path, default=None, help="input file (data peers)")
    ap.add_argument("--timeout", type=float, default=None)
    args = ap.parse_args(argv)
    kw: dict[str, Any] = {"input": args.input} if args.input else {}
    result = run_peer(args.name, args.n, timeout=args.timeout, **kw)
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
