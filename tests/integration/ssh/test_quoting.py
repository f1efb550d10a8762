"""Hostile names reach remote workers byte-exact and never run as shell code.

The input files, the remote workdir, an environment value and the output
folder carry spaces, quotes, ``$(touch /tmp/pwned)``, ``;``, a leading ``-``
and non-ASCII; the job runs on sshd hosts (shared storage, where the
transfer probe runs remote commands on these paths, and push).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.compute as pc
import pytest

from orchestrator.states import JobState
from orchestrator.store import open_store
from tests.integration.ssh.conftest import SshCluster
from tests.integration.ssh.jobs import pushed_sizes, read_output, run_spec, workers_of, write_spec

PWNED = Path("/tmp/pwned")
HOSTILE = [
    "with space.csv",
    "quote'single.csv",
    'quote"double.csv',
    "$(touch pwned).csv",
    "semi;colon; touch pwned.csv",
    "-leading-dash.csv",
    "`touch pwned`.csv",
    "ünïcødé-名前.csv",
]


@pytest.mark.parametrize("transfer", ["auto", "push"])
def test_hostile_names_arrive_byte_exact_and_nothing_runs(
    transfer: str,
    ssh_cluster: SshCluster,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed = pushed_sizes(monkeypatch)
    if PWNED.exists():
        PWNED.unlink()
    # the full path reads "...in $(touch /tmp/pwned) ; 'q" ü/..." (a '/' cannot be in a name)
    data = tmp_path / "in $(touch " / "tmp" / "pwned) ; 'q\" ü"
    data.mkdir(parents=True)
    expected = {}
    for index, name in enumerate(HOSTILE):
        path = data / name
        path.write_text("id,text\n" + "".join(f"{index * 100 + i},{name!r}\n" for i in range(30)))
        expected[str(path)] = 30
    odd = "$(touch pwned); `touch pwned` 'x\" -y ü"
    for host in ssh_cluster.hosts:
        workdir = host.root / f"-w {odd}"
        host.overrides = {
            "workdir": str(workdir),
            "env": {"PYTHONPATH": str(Path(__file__).resolve().parents[3]), "JOBCTL_ODD": odd},
        }
    out = tmp_path / "out $(touch pwned); ü"
    spec = write_spec(
        tmp_path / "jobs.yaml",
        inputs=str(data / "*.csv"),
        output=out,
        ssh=ssh_cluster.section(transfer=transfer),
        local_workers=None,
        python="tests.procs:tag_source",
        chunk_bytes="512B",
    )
    store = open_store(sqlite_url)
    try:
        job_id, state = run_spec(store, spec)
        assert state == JobState.SUCCEEDED
        assert set(workers_of(store, job_id)) == {"h1/0", "h2/0", "h3/0"}
    finally:
        store.close()
    # auto: the probe (remote commands on these paths) found shared storage
    assert bool(pushed) == (transfer == "push")
    table, _ = read_output(out)
    sources = table.column("source")
    seen = {path: pc.sum(pc.equal(sources, path)).as_py() for path in expected}
    assert seen == expected
    assert set(sources.to_pylist()) == set(expected)
    assert not PWNED.exists()
    places = [Path(os.environ["HOME"]), Path("/root"), tmp_path, data]
    for host in ssh_cluster.hosts:
        workdir = host.root / f"-w {odd}"
        assert workdir.is_dir()  # created by exactly that name
        places += [workdir, host.root]
    assert [p for p in places if (p / "pwned").exists()] == []
