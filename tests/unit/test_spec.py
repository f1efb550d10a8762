"""Loading job specs: valid files become JobSpecs, broken ones name file:line and field."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec import yaml_nodes
from orchestrator.spec.loader import load_spec, load_spec_text
from orchestrator.spec.model import JobSpec
from orchestrator.states import Priority

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["libyaml", "python"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's parser and with PyYAML's pure-Python fallback."""
    if request.param == "python":
        monkeypatch.setattr(yaml_nodes, "_Loader", yaml_nodes._PyLoader)
    return str(request.param)


def write(tmp_path: Path, text: str, name: str = "jobs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def issues_of(tmp_path: Path, text: str) -> list[SpecIssue]:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.issues, "a SpecError always carries issues"
    for issue in info.value.issues:
        assert issue.file == str(path)
    return info.value.issues


def only_issue(tmp_path: Path, text: str) -> SpecIssue:
    issues = issues_of(tmp_path, text)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


# --- valid specs --------------------------------------------------------------


def test_example_file_loads() -> None:
    spec = load_spec(REPO / "jobs.example.yaml")
    assert spec.version == 1
    [job] = spec.jobs
    assert job.name == "customers-to-parquet"
    assert job.type == "convert"
    assert job.input.path == str(REPO / "data" / "customers" / "*.csv")
    assert job.input.format == "csv"
    assert job.input.csv.header is True
    assert job.chunking.rows == 2000
    assert job.chunking.bytes is None
    assert job.output is not None
    assert job.output.path == str(REPO / "out" / "customers") + os.sep
    assert (job.output.format, job.output.compression, job.output.mode) == (
        "parquet",
        "zstd",
        "overwrite",
    )
    assert job.executor.local is not None and job.executor.local.workers is None
    assert (job.timeouts.chunk, job.timeouts.lease, job.timeouts.heartbeat) == (1800, 60, 20)
    assert job.retries.backoff_base == 2.0 and job.retries.backoff_max == 300.0
    assert job.schedule == "0 2 * * *"
    assert job.depends_on == ()


def test_defaults_are_deep_merged_and_the_job_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        defaults:
          priority: HIGH
          retries: {max_attempts: 3, backoff: {base: 1s, max: 1m}, jitter: false}
          chunking: {rows: 1000}
          type: convert
        jobs:
          - name: a
            input: {path: a.csv}
            retries: {max_attempts: 5}
          - name: b
            python: mypkg.clean:normalize
            priority: low
            chunking: {bytes: 64MiB}
            input: {path: b.csv}
        """,
    )
    a, b = load_spec(path).jobs
    assert a.retries.max_attempts == 5
    assert (a.retries.backoff_base, a.retries.backoff_max, a.retries.jitter) == (1, 60, False)
    assert a.priority is Priority.HIGH and a.type == "convert"
    assert a.chunking.rows == 1000
    # a job's choice of processor / chunk unit replaces the default's, not adds to it
    assert b.type is None and b.python == "mypkg.clean:normalize"
    assert b.chunking.rows is None and b.chunking.bytes == 64 * 1024**2
    assert b.priority is Priority.LOW
    assert b.retries.max_attempts == 3


def test_paths_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - name: rel
            type: convert
            input: {path: ../data/x.csv}
            output: {path: out}
          - name: home
            type: convert
            input: {path: ~/data/*.parquet}
            output: {path: ~/out}
          - name: uri
            type: convert
            input: {path: "file:///srv/in.csv"}
        """,
        name="sub/jobs.yaml",
    )
    rel, home, uri = load_spec(path).jobs
    assert rel.input.path == str(tmp_path / "data" / "x.csv")
    assert rel.output is not None and rel.output.path == str(tmp_path / "sub" / "out") + os.sep
    assert home.input.path == os.path.expanduser("~/data/*.parquet")
    assert home.output is not None and home.output.path == os.path.expanduser("~/out") + os.sep
    assert uri.input.path == "file:///srv/in.csv"
    assert uri.output is None


def test_durations_sizes_and_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - name: gen.v2_x
            command: ["./score.sh", "--x"]
            input: {sequence: 8}
            chunking: {bytes: 512KiB}
            executor: {local: {workers: 4}, ssh: {hosts: [w1, w2], user: batch}}
            timeouts: {chunk: 1h30m, lease: 90, heartbeat: 500ms}
            retries: {backoff: {base: 0, max: 1d}}
            schedule: "*/15 9-17 * jan-mar,dec mon-fri"
            concurrency: forbid
            queue: bulk
            strategy: parallel_chunks
            params: {threshold: 0.8, labels: [a, b], on: yes}
        """,
    )
    [job] = load_spec(path).jobs
    assert job.command == ("./score.sh", "--x")
    assert job.input.sequence == 8 and job.input.path is None
    assert job.chunking.bytes == 512 * 1024
    assert job.executor.local is not None and job.executor.local.workers == 4
    assert job.executor.ssh == {"hosts": ["w1", "w2"], "user": "batch"}
    assert (job.timeouts.chunk, job.timeouts.lease, job.timeouts.heartbeat) == (5400, 90, 0.5)
    assert (job.retries.backoff_base, job.retries.backoff_max) == (0, 86400)
    assert job.concurrency == "forbid" and job.queue == "bulk" and job.strategy == "parallel_chunks"
    # keys are names as written ("on" stays "on"); values follow YAML (yes -> True)
    assert job.params == {"threshold": 0.8, "labels": ["a", "b"], "on": True}


def test_ssh_only_executor_has_no_local_slots(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - {name: n, type: noop, input: {sequence: 1}, executor: {ssh: {hosts: [h]}}}
        """,
    )
    [job] = load_spec(path).jobs
    assert job.executor.local is None and job.executor.ssh == {"hosts": ["h"]}


def test_anchors_and_merge_keys_within_budget(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - &base
            name: one
            type: noop
            input: {sequence: 2}
          - <<: *base
            name: two
            depends_on: [one]
        """,
    )
    one, two = load_spec(path).jobs
    assert one.name == "one" and one.depends_on == ()
    assert two.type == "noop" and two.input.sequence == 2 and two.depends_on == ("one",)


def test_loaded_job_round_trips_through_to_dict(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - name: a
            command: [run, "--flag"]
            params: {nested: {list: [1, 2.5, null, "x"]}}
            priority: URGENT
            input: {path: in/*.csv, format: csv, csv: {delimiter: "\\t", header: false}}
            chunking: {bytes: 1GB}
            output: {path: out, format: csv, compression: none, mode: overwrite}
            executor: {ssh: {hosts: [h1]}}
            schedule: "@daily"
            depends_on: [b]
          - name: b
            type: noop
            input: {sequence: 3}
        """,
    )
    for job in load_spec(path).jobs:
        assert JobSpec.from_dict(job.to_dict()) == job
        stored = json.loads(json.dumps(job.to_dict()))
        assert JobSpec.from_dict(stored) == job
        assert JobSpec.from_dict(stored).spec_hash() == job.spec_hash()


def test_load_spec_text_uses_base_dir(tmp_path: Path) -> None:
    text = "version: 1\njobs: [{name: a, type: convert, input: {path: x.csv}}]\n"
    spec = load_spec_text(text, "<stdin>", base_dir=str(tmp_path))
    assert spec.jobs[0].input.path == str(tmp_path / "x.csv")
    assert spec.jobs[0].source.line == 2


# --- broken specs: one mistake each ---------------------------------------------

# (id, spec text, line, column or None, field, words the message must contain)
BROKEN: list[tuple[str, str, int | None, int | None, str, list[str]]] = [
    (
        "typo-key",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            chunkng: {rows: 10}
        """,
        6,
        5,
        "jobs[0].chunkng",
        ["unknown key 'chunkng'", "did you mean 'chunking'?"],
    ),
    (
        "wrong-type",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            chunking:
              rows: abc
        """,
        7,
        13,
        "jobs[0].chunking.rows",
        ["expected an integer, got string 'abc'"],
    ),
    (
        "bad-priority",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            priority: CRITICAL
            input: {path: x.csv}
        """,
        5,
        15,
        "jobs[0].priority",
        ["invalid priority 'CRITICAL'", "URGENT, HIGH, NORMAL, LOW"],
    ),
    (
        "negative-chunk",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            chunking: {rows: -5}
        """,
        6,
        22,
        "jobs[0].chunking.rows",
        ["must be positive, got -5"],
    ),
    (
        "zero-chunk-bytes",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            chunking: {bytes: 0}
        """,
        6,
        23,
        "jobs[0].chunking.bytes",
        ["must be a positive size"],
    ),
    (
        "rows-and-bytes",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            chunking: {rows: 10, bytes: 1MiB}
        """,
        6,
        26,
        "jobs[0].chunking.bytes",
        ["either rows or bytes, not both"],
    ),
    (
        "unknown-job-type",
        """
        version: 1
        jobs:
          - name: a
            type: convrt
            input: {path: x.csv}
        """,
        4,
        11,
        "jobs[0].type",
        ["unknown job type 'convrt'", "did you mean 'convert'?", "dedupe"],
    ),
    (
        "type-and-python",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            python: mypkg.clean:normalize
            input: {path: x.csv}
        """,
        5,
        5,
        "jobs[0].python",
        ["only one of type, python and command", "type and python"],
    ),
    (
        "no-processor",
        """
        version: 1
        jobs:
          - name: a
            input: {path: x.csv}
        """,
        3,
        5,
        "jobs[0]",
        ["set 'type'", "'python'", "'command'"],
    ),
    (
        "bad-python-ref",
        """
        version: 1
        jobs:
          - name: a
            python: mypkg.clean.normalize
            input: {path: x.csv}
        """,
        4,
        13,
        "jobs[0].python",
        ["expected 'package.module:function'"],
    ),
    (
        "command-not-a-list",
        """
        version: 1
        jobs:
          - name: a
            command: ./score.sh --x
            input: {path: x.csv}
        """,
        4,
        14,
        "jobs[0].command",
        ["expected a list of strings"],
    ),
    (
        "password-key",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            params:
              db_password: hunter2
        """,
        7,
        7,
        "jobs[0].params.db_password",
        ["looks like a credential", "environment", ".pgpass"],
    ),
    (
        "password-in-url",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            params: {target: "postgresql://app:hunter2@db.example.com/prod"}
        """,
        6,
        22,
        "jobs[0].params.target",
        ["contains a password", "environment", ".pgpass"],
    ),
    (
        "python-tag",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: !!python/object/apply:os.system ["echo pwned"]
        """,
        5,
        12,
        "jobs[0].input",
        ["!!python/object/apply:os.system", "not allowed", "safe_load"],
    ),
    (
        "custom-tag",
        """
        version: 1
        jobs:
          - name: a
            type: !include other.yaml
            input: {path: x.csv}
        """,
        4,
        11,
        "jobs[0].type",
        ["unsupported tag !include"],
    ),
    (
        "missing-input",
        """
        version: 1
        jobs:
          - name: a
            type: convert
        """,
        3,
        5,
        "jobs[0]",
        ["missing required key 'input'"],
    ),
    (
        "input-without-path",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {format: csv}
        """,
        5,
        12,
        "jobs[0].input",
        ["missing required key 'path'", "sequence"],
    ),
    (
        "empty-file",
        "\n# only a comment\n",
        None,
        None,
        "",
        ["empty"],
    ),
    (
        "not-yaml",
        """
        version: 1
        jobs:
          - name: a
            input: {path: x.csv
          - name: b
        """,
        5,
        9,
        "",
        ["not valid YAML"],
    ),
    (
        "top-level-list",
        """
        - name: a
          type: convert
        """,
        1,
        1,
        "",
        ["top level must be a mapping", "got a list"],
    ),
    (
        "unknown-version",
        """
        version: 2
        jobs:
          - {name: a, type: noop, input: {sequence: 1}}
        """,
        1,
        10,
        "version",
        ["unsupported spec version 2", "version 1"],
    ),
    (
        "duplicate-key",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            type: noop
        """,
        6,
        5,
        "jobs[0].type",
        ["duplicate key 'type'", "line 4"],
    ),
    (
        "duplicate-job-name",
        """
        version: 1
        jobs:
          - {name: a, type: noop, input: {sequence: 1}}
          - {name: a, type: noop, input: {sequence: 1}}
        """,
        4,
        12,
        "jobs[1].name",
        ["duplicate job name 'a'"],
    ),
    (
        "bad-job-name",
        """
        version: 1
        jobs:
          - {name: "-a b", type: noop, input: {sequence: 1}}
        """,
        3,
        12,
        "jobs[0].name",
        ["invalid name '-a b'"],
    ),
    (
        "unknown-dependency",
        """
        version: 1
        jobs:
          - {name: load, type: noop, input: {sequence: 1}}
          - {name: report, type: noop, input: {sequence: 1}, depends_on: [lod]}
        """,
        4,
        67,
        "jobs[1].depends_on[0]",
        ["'lod', which is not a job of this file", "did you mean 'load'?"],
    ),
    (
        "dependency-cycle",
        """
        version: 1
        jobs:
          - {name: a, type: noop, input: {sequence: 1}, depends_on: [c]}
          - {name: b, type: noop, input: {sequence: 1}, depends_on: [a]}
          - {name: c, type: noop, input: {sequence: 1}, depends_on: [b]}
        """,
        4,
        62,
        "jobs[1].depends_on[0]",
        ["dependency cycle: a -> c -> b -> a"],
    ),
    (
        "bad-cron",
        """
        version: 1
        jobs:
          - name: a
            type: noop
            input: {sequence: 1}
            schedule: "0 25 * * *"
        """,
        6,
        15,
        "jobs[0].schedule",
        ["invalid cron expression '0 25 * * *'", "hour", "0-23"],
    ),
    (
        "cron-field-count",
        """
        version: 1
        jobs:
          - {name: a, type: noop, input: {sequence: 1}, schedule: "0 2 * *"}
        """,
        3,
        59,
        "jobs[0].schedule",
        ["5 fields", "has 4"],
    ),
    (
        "heartbeat-too-slow",
        """
        version: 1
        jobs:
          - name: a
            type: noop
            input: {sequence: 1}
            timeouts: {lease: 60s, heartbeat: 45s}
        """,
        6,
        39,
        "jobs[0].timeouts.heartbeat",
        ["at most half the lease"],
    ),
    (
        "bad-duration",
        """
        version: 1
        jobs:
          - name: a
            type: noop
            input: {sequence: 1}
            timeouts: {chunk: 3x}
        """,
        6,
        23,
        "jobs[0].timeouts.chunk",
        ["invalid duration '3x': use e.g. 30s, 5m, 2h"],
    ),
    (
        "bad-output-mode",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            output: {path: out, mode: replace, compression: zstd}
        """,
        6,
        31,
        "jobs[0].output.mode",
        ["invalid mode 'replace'", "error_if_exists, overwrite"],
    ),
    (
        "bad-workers",
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: x.csv}
            executor: {local: {workers: 0}}
        """,
        6,
        33,
        "jobs[0].executor.local.workers",
        ["must be positive, got 0"],
    ),
    (
        "error-in-defaults-reported-once",
        """
        version: 1
        defaults:
          retries: {max_attempts: many}
        jobs:
          - {name: a, type: noop, input: {sequence: 1}}
          - {name: b, type: noop, input: {sequence: 1}}
        """,
        3,
        27,
        "defaults.retries.max_attempts",
        ["expected an integer, got string 'many'"],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in BROKEN],
)
def test_broken_spec(
    yaml_parser: str,
    tmp_path: Path,
    text: str,
    line: int | None,
    column: int | None,
    field: str,
    words: list[str],
) -> None:
    issue = only_issue(tmp_path, text)
    assert (issue.line, issue.column, issue.field) == (line, column, field), str(issue)
    for word in words:
        assert word in issue.message, str(issue)


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    issues = issues_of(
        tmp_path,
        """
        version: 1
        jobs:
          - name: a
            type: convert
            input: {path: "postgres://u:TOPSECRET1@h/db"}
            executor: {ssh: {hosts: [h], password: TOPSECRET2}}
            chunking: {rows: "mysql://root:TOPSECRET3@h"}
            api_token: TOPSECRET4
            params: {"redis://:TOPSECRET5@cache": 1, dsn: "host=db password=TOPSECRET6"}
        """,
    )
    text = str(SpecError(issues))
    assert "TOPSECRET" not in text
    fields = [i.field for i in issues]
    assert fields == [
        "jobs[0].input.path",
        "jobs[0].executor.ssh.password",
        "jobs[0].chunking.rows",  # once: no "expected an integer" on top
        "jobs[0].api_token",  # reported as a credential, not also as an unknown key
        "jobs[0].params.<key>",
        "jobs[0].params.dsn",
    ], text


def test_alias_bomb_is_refused_quickly(yaml_parser: str, tmp_path: Path) -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    issue = only_issue(tmp_path, "\n".join(levels) + "\n")
    assert time.monotonic() - started < 5
    assert "alias bomb" in issue.message
    assert issue.line == 6 and issue.field == "f"  # the first entry that blows the budget


def test_too_many_aliases_are_refused(yaml_parser: str, tmp_path: Path) -> None:
    text = "x: &x 1\nversion: 1\nmany: [" + ", ".join(["*x"] * 1001) + "]\n"
    issue = only_issue(tmp_path, text)
    assert issue.line == 3 and "more than 1000 aliases" in issue.message


def test_recursive_alias_is_refused(yaml_parser: str, tmp_path: Path) -> None:
    issue = only_issue(tmp_path, "version: 1\njobs: &j [*j]\n")
    assert issue.line == 2 and "recursive alias" in issue.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "missing.yaml")
    [issue] = info.value.issues
    assert "cannot read the spec file" in issue.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_bytes(b"version: 1\njobs:\n  - name: \xff\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [issue] = info.value.issues
    assert issue.line == 3 and "UTF-8" in issue.message


def test_every_error_of_a_file_is_reported(yaml_parser: str, tmp_path: Path) -> None:
    issues = issues_of(
        tmp_path,
        """
        version: 1
        defaults:
          retries: {max_attempts: 0}
        jobs:
          - name: a
            type: convrt
            priority: CRITICAL
            input: {path: x.csv, format: csvv}
            chunking: {rows: 0}
            output: {path: out, compresion: zstd}
            schedule: "61 * * * *"
            depends_on: [zz]
          - name: b
            type: noop
            python: x.y:z
            input: {sequence: -1}
            params: {api_key: abc}
            timeouts: {lease: 1m, heartbeat: 50s}
          - name: a
            type: noop
            input: {sequence: 1}
        """,
    )
    found = [(i.line, i.field) for i in issues]
    assert found == [
        (3, "defaults.retries.max_attempts"),
        (6, "jobs[0].type"),
        (7, "jobs[0].priority"),
        (8, "jobs[0].input.format"),
        (9, "jobs[0].chunking.rows"),
        (10, "jobs[0].output.compresion"),
        (11, "jobs[0].schedule"),
        (12, "jobs[0].depends_on[0]"),
        (15, "jobs[1].python"),
        (16, "jobs[1].input.sequence"),
        (17, "jobs[1].params.api_key"),
        (18, "jobs[1].timeouts.heartbeat"),
        (19, "jobs[2].name"),
    ], "\n".join(map(str, issues))
    message = str(SpecError(issues))
    assert message.startswith("13 error(s) in spec:")
    assert f"{issues[0].file}:3:27: defaults.retries.max_attempts: must be positive" in message


def test_the_example_file_documents_every_key() -> None:
    """jobs.example.yaml is the reference: every key the loader knows appears in it."""
    from orchestrator.spec.job_reader import JOB_KEYS

    text = (REPO / "jobs.example.yaml").read_text()
    for key in (
        *JOB_KEYS,
        "sequence",
        "quote_char",
        "encoding",
        "delimiter",
        "compression",
        "mode",
        "workers",
        "ssh",
        "heartbeat",
        "max_attempts",
        "jitter",
        "base",
        "max",
        "bytes",
        "rows",
    ):
        assert f"{key}:" in text, key


def test_retries_fail_fast(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        jobs:
          - {name: a, type: noop, input: {sequence: 1}, retries: {fail_fast: true}}
          - {name: b, type: noop, input: {sequence: 1}}
        """,
    )
    a, b = load_spec(path).jobs
    assert a.retries.fail_fast is True and b.retries.fail_fast is False
    assert JobSpec.from_dict(a.to_dict()).retries.fail_fast is True
    issue = only_issue(
        tmp_path,
        """
        version: 1
        jobs:
          - name: a
            type: noop
            input: {sequence: 1}
            retries: {fail_fast: sometimes}
        """,
    )
    assert (issue.line, issue.field) == (6, "jobs[0].retries.fail_fast"), str(issue)
    assert "true or false" in issue.message
