"""A processor module's setup(ctx)/teardown() in one in-process Worker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.worker import Worker

SEQ0 = ChunkDescriptor(seq=0, kind="sequence", path=None, start=0, stop=1, est_rows=1).to_dict()

HOOKED = """
CALLS = []

def setup(ctx):
    CALLS.append(("setup", ctx.job_name, ctx.params["n"]))
    if ctx.params.get("fail_first") and CALLS.count(CALLS[-1]) == 1:
        raise RuntimeError("model file not there yet")
    return {"n": ctx.params["n"]}

def teardown():
    CALLS.append(("teardown",))

def run(table, ctx):
    CALLS.append(("chunk", ctx.resources["n"]))
    return None
"""


@pytest.fixture
def hooked(tmp_path: Path) -> Any:
    (tmp_path / "hooked_mod.py").write_text(HOOKED)
    (tmp_path / "bad_hooks.py").write_text("setup = 3\ndef run(t, ctx):\n    return None\n")
    yield lambda: sys.modules["hooked_mod"].CALLS
    for name in ("hooked_mod", "bad_hooks"):
        sys.modules.pop(name, None)


def _job(tmp_path: Path, key: str, ref: str = "hooked_mod:run", **params: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "python": ref,
        "python_path": [str(tmp_path)],
        "params": params,
    }


def test_setup_runs_once_per_job_and_teardown_when_the_worker_closes(
    tmp_path: Path, hooked: Any
) -> None:
    w = Worker()
    job = _job(tmp_path, "j1", n=5)
    for task in ("a", "b", "c"):
        assert w.run({"task": task, "job": job, "chunk": SEQ0})["ok"]
    calls = hooked()
    assert calls == [("setup", "j1", 5), ("chunk", 5), ("chunk", 5), ("chunk", 5)]
    w.close()
    assert calls[-1] == ("teardown",)
    w.close()  # nothing left to tear down
    assert calls.count(("teardown",)) == 1


def test_a_failing_setup_fails_the_chunk_and_the_next_chunk_tries_again(
    tmp_path: Path, hooked: Any
) -> None:
    w = Worker()
    job = _job(tmp_path, "j2", n=1, fail_first=True)
    first = w.run({"task": "a", "job": job, "chunk": SEQ0})
    assert not first["ok"] and "model file not there yet" in first["error"]
    assert w.run({"task": "b", "job": job, "chunk": SEQ0})["ok"]
    assert hooked()[-1] == ("chunk", 1)
    w.close()


def test_a_dropped_job_is_torn_down(tmp_path: Path, hooked: Any) -> None:
    w = Worker(cache_size=1)
    assert w.run({"task": "a", "job": _job(tmp_path, "j3", n=2), "chunk": SEQ0})["ok"]
    assert w.run({"task": "b", "job": {"key": "other", "type": "noop"}, "chunk": SEQ0})["ok"]
    assert hooked()[-1] == ("teardown",)


def test_a_setup_that_is_not_a_function_is_an_error(tmp_path: Path, hooked: Any) -> None:
    result = Worker().run(
        {"task": "a", "job": _job(tmp_path, "j4", "bad_hooks:run"), "chunk": SEQ0}
    )
    assert not result["ok"] and "bad_hooks.setup must be a function" in result["error"]
