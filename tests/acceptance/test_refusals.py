"""A spec that cannot run is refused up front: exit 2, file:line, nothing stored.

Each case runs ``jobctl validate`` and ``jobctl submit`` as a user types them
and then looks into a real PostgreSQL store: no job row. The permission cases
run jobctl as the unprivileged user ``nobody`` (``setpriv``), since root may
write anywhere and would never see them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.store import open_store
from tests.acceptance.cli import cli_env, jobctl, jobctl_argv

NOBODY = 65534


def stored_jobs(db_url: str) -> list[str]:
    store = open_store(db_url)
    try:
        return [f"{job.name}:{job.state}" for job in store.list_jobs()]
    finally:
        store.close()


def spec_file(folder: Path, jobs: str) -> Path:
    path = folder / "jobs.yaml"
    path.write_text("version: 1\njobs:\n" + textwrap.dedent(jobs).strip("\n") + "\n")
    return path


def assert_refused(result: subprocess.CompletedProcess[str], where: str, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert where in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


CASES = {
    "job-type": (
        "  - {name: a, type: household, input: {sequence: 1}}",
        3,
        ["job type 'household'"],
    ),
    "strategy": (
        "  - {name: a, type: noop, input: {sequence: 1}, strategy: streaming}",
        3,
        ["strategy 'streaming'"],
    ),
    "output-uri": (
        "  - {name: a, type: noop, input: {sequence: 1}, output: {path: 's3://bucket/out/'}}",
        3,
        ["s3:// URIs"],
    ),
    "csv-zstd": (
        "  - {name: a, type: noop, input: {sequence: 1},\n"
        "     output: {path: out, format: csv, compression: zstd}}",
        4,
        ["csv supports compression none, gzip"],
    ),
    "workers": (
        "  - {name: a, type: noop, input: {sequence: 1}, executor: {local: {workers: 1}}}\n"
        "  - {name: b, type: noop, input: {sequence: 1}, executor: {local: {workers: 2}}}",
        4,
        ["one local pool"],
    ),
    "python-import": (
        "  - {name: a, python: 'nosuchmod:f', input: {sequence: 1}}",
        3,
        ["cannot import 'nosuchmod:f'", "spec's folder"],
    ),
    "command-missing": (
        "  - {name: a, command: [no-such-program-xyz], input: {sequence: 1}}",
        3,
        ["'no-such-program-xyz' was not found on PATH"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_at_validate_and_submit_with_nothing_stored(
    tmp_path: Path, pg_url: str, case: str
) -> None:
    jobs, line, words = CASES[case]
    spec = spec_file(tmp_path, jobs)
    env = cli_env(tmp_path, pg_url)
    for command in ("validate", "submit"):
        assert_refused(jobctl(command, str(spec), env=env, cwd=tmp_path), f"{spec}:{line}", *words)
    assert stored_jobs(pg_url) == []


def test_an_output_uri_is_never_written_to_a_local_folder(tmp_path: Path, pg_url: str) -> None:
    spec = spec_file(tmp_path, CASES["output-uri"][0])
    result = jobctl("run", str(spec), env=cli_env(tmp_path, pg_url), cwd=tmp_path)
    assert_refused(result, f"{spec}:3", "s3:// URIs")
    assert not (tmp_path / "s3:").exists()
    assert stored_jobs(pg_url) == []


def test_a_processor_next_to_the_spec_imports_without_pythonpath(
    tmp_path: Path, pg_url: str
) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "slowproc.py").write_text(
        "import pyarrow as pa\n\n"
        "def slow(table, ctx):\n"
        "    return pa.table({'seq': [ctx.chunk.seq]})\n"
    )
    spec = spec_file(
        folder,
        """
        - name: near
          python: slowproc:slow
          input: {sequence: 3}
          output: {path: out}
          executor: {local: {workers: 2}}
        """,
    )
    env = cli_env(tmp_path, pg_url)
    env.pop("PYTHONPATH")  # the installed package only; slowproc is found in the spec's folder
    assert jobctl("validate", str(spec), env=env, cwd=tmp_path).returncode == 0
    result = jobctl("run", str(spec), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((folder / "out").glob("part-*.parquet"))) == 3


# -- permissions, as a user who is not root ------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the user nobody can reach (pytest's tmp_path is root's, mode 700)."""
    if shutil.which("setpriv") is None or os.getuid() != 0:
        pytest.skip("needs root and setpriv to run jobctl as the user nobody")
    folder = Path(tempfile.mkdtemp(prefix="jobctl-refusals-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def as_nobody(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``jobctl ARGS`` run as the user nobody, with its own data dirs."""
    env = cli_env(home, db_url)
    env["HOME"] = str(home)
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *jobctl_argv(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
    )


def nobody_home(root: Path) -> Path:
    home = root / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    return home


@pytest.mark.parametrize("owned_output", [False, True], ids=["parent-555", "own-out-root-parent"])
def test_an_output_whose_parent_is_not_writable_is_refused(
    shared_dir: Path, pg_url: str, owned_output: bool
) -> None:
    home = nobody_home(shared_dir)
    locked = shared_dir / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    if owned_output:  # the user owns out/, but staging goes next to it, in locked/
        (locked / "out").mkdir()
        os.chown(locked / "out", NOBODY, NOBODY)
    spec = spec_file(
        home, f"  - {{name: a, type: noop, input: {{sequence: 2}}, output: {{path: {locked}/out}}}}"
    )
    for command in ("validate", "submit", "run"):
        result = as_nobody(home, pg_url, command, str(spec))
        assert_refused(result, f"{spec}:3", "a.output.path", f"{locked} is not writable")
    assert stored_jobs(pg_url) == []


def test_an_unwritable_output_directory_is_refused_not_replaced(
    shared_dir: Path, pg_url: str
) -> None:
    home = nobody_home(shared_dir)
    parent = shared_dir / "open"
    parent.mkdir()
    os.chown(parent, NOBODY, NOBODY)
    out = parent / "out"
    out.mkdir()
    out.chmod(0o555)  # empty, root-owned, read-only
    spec = spec_file(
        home, f"  - {{name: a, type: noop, input: {{sequence: 2}}, output: {{path: {out}}}}}"
    )
    for command in ("validate", "run"):
        result = as_nobody(home, pg_url, command, str(spec))
        assert_refused(result, f"{spec}:3", f"{out} exists and is not writable", "mode 555")
    info = out.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o555)
    assert stored_jobs(pg_url) == []
