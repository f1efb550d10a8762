"""The spec refuses what this build cannot run: file:line, the field, and why."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.io.formats import SUPPORTED_COMPRESSIONS
from orchestrator.spec.loader import load_spec
from orchestrator.spec.local_paths import python_path
from orchestrator.spec.model import COMPRESSIONS, JOB_TYPES, OUTPUT_FORMATS
from orchestrator.spec.strategy_names import STRATEGIES
from orchestrator.spec.support import NOT_YET_STRATEGIES, NOT_YET_TYPES


def load_job(tmp_path: Path, job: str) -> Path:
    path = tmp_path / "jobs.yaml"
    body = textwrap.indent(textwrap.dedent(job).strip("\n"), "    ")
    path.write_text("version: 1\njobs:\n  - name: a\n" + body + "\n")
    return path


def refusal(tmp_path: Path, job: str) -> SpecIssue:
    path = load_job(tmp_path, job)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [issue] = info.value.issues
    assert issue.file == str(path) and issue.line is not None
    return issue


@pytest.mark.parametrize("job_type", sorted(NOT_YET_TYPES))
def test_a_job_type_without_a_processor_is_refused(tmp_path: Path, job_type: str) -> None:
    issue = refusal(tmp_path, f"type: {job_type}\ninput: {{sequence: 1}}")
    assert (issue.line, issue.field) == (4, "jobs[0].type")
    assert f"job type '{job_type}' is not available in this build" in issue.message
    available = issue.message.partition("(available: ")[2].partition(";")[0].split(", ")
    assert {"convert", "noop", "dedupe"} <= set(available)


@pytest.mark.parametrize("strategy", sorted(NOT_YET_STRATEGIES))
def test_a_strategy_without_a_planner_is_refused(tmp_path: Path, strategy: str) -> None:
    issue = refusal(tmp_path, f"type: noop\ninput: {{sequence: 1}}\nstrategy: {strategy}")
    assert (issue.line, issue.field) == (6, "jobs[0].strategy")
    assert f"strategy '{strategy}' is not available in this build" in issue.message


def test_what_runs_is_accepted(tmp_path: Path) -> None:
    spec = load_spec(
        load_job(tmp_path, "type: noop\ninput: {sequence: 1}\nstrategy: parallel_chunks")
    )
    assert spec.jobs[0].strategy == "parallel_chunks"
    runnable = set(JOB_TYPES) - NOT_YET_TYPES
    assert {"convert", "dedupe", "identity_match", "noop", "report", "transform"} <= runnable
    assert "validate" in runnable
    assert {"parallel_chunks", "map_reduce", "sequential"} <= set(STRATEGIES) - NOT_YET_STRATEGIES


@pytest.mark.parametrize("uri", ["s3://bucket/out/", "gs://b/o", "file:///tmp/out", "hdfs://nn/x"])
def test_an_output_uri_is_refused(tmp_path: Path, uri: str) -> None:
    issue = refusal(tmp_path, f'type: noop\ninput: {{sequence: 1}}\noutput: {{path: "{uri}"}}')
    assert (issue.line, issue.field) == (6, "jobs[0].output.path")
    assert "URIs is not available in this build" in issue.message
    assert not list(tmp_path.iterdir())[1:], "nothing is created next to the spec"


def test_the_spec_and_the_writer_share_one_format_table() -> None:
    assert set(OUTPUT_FORMATS) == set(SUPPORTED_COMPRESSIONS)
    assert set(COMPRESSIONS) == {c for cs in SUPPORTED_COMPRESSIONS.values() for c in cs}


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [(f, c) for f, cs in SUPPORTED_COMPRESSIONS.items() for c in cs],
)
def test_every_pair_the_writer_supports_validates(
    tmp_path: Path, fmt: str, compression: str
) -> None:
    spec = load_spec(
        load_job(
            tmp_path,
            f"type: noop\ninput: {{sequence: 1}}\n"
            f"output: {{path: out, format: {fmt}, compression: {compression}}}",
        )
    )
    output = spec.jobs[0].output
    assert output is not None and (output.format, output.compression) == (fmt, compression)


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [
        (f, c)
        for f in SUPPORTED_COMPRESSIONS
        for c in COMPRESSIONS
        if c not in SUPPORTED_COMPRESSIONS[f]
    ],
)
def test_a_pair_the_writer_cannot_produce_is_refused(
    tmp_path: Path, fmt: str, compression: str
) -> None:
    issue = refusal(
        tmp_path,
        f"type: noop\ninput: {{sequence: 1}}\noutput:\n  path: out\n  format: {fmt}\n"
        f"  compression: {compression}",
    )
    assert (issue.line, issue.field) == (9, "jobs[0].output.compression")
    assert f"output format {fmt} supports compression" in issue.message


@pytest.mark.parametrize(
    ("fmt", "default"), [("parquet", "zstd"), ("csv", "none"), ("arrow", "zstd")]
)
def test_each_format_has_its_own_default_compression(
    tmp_path: Path, fmt: str, default: str
) -> None:
    spec = load_spec(
        load_job(
            tmp_path, f"type: noop\ninput: {{sequence: 1}}\noutput: {{path: o, format: {fmt}}}"
        )
    )
    output = spec.jobs[0].output
    assert output is not None and output.compression == default


def test_jobs_of_one_file_must_agree_on_local_workers(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            defaults: {type: noop, input: {sequence: 1}}
            jobs:
              - {name: a, executor: {local: {workers: 2}}}
              - {name: b}
              - {name: c, executor: {local: {workers: 3}}}
            """
        )
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [issue] = info.value.issues
    assert (issue.line, issue.field) == (6, "jobs[2].executor.local.workers")
    assert "differs from jobs[0] (2)" in issue.message and "one local pool" in issue.message


def test_local_workers_set_once_in_defaults_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        "version: 1\n"
        "defaults: {type: noop, input: {sequence: 1}, executor: {local: {workers: 2}}}\n"
        "jobs: [{name: a}, {name: b, executor: {local: {workers: 2}}}]\n"
    )
    jobs = load_spec(path).jobs
    assert [job.executor.local.workers for job in jobs if job.executor.local] == [2, 2]


@pytest.mark.parametrize("name", ["base64", "rot13", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_is_refused(tmp_path: Path, name: str) -> None:
    issue = refusal(tmp_path, f"type: convert\ninput: {{path: x.csv, csv: {{encoding: {name}}}}}")
    assert (issue.line, issue.field) == (5, "jobs[0].input.csv.encoding")
    assert "is not a text encoding" in issue.message


def test_latin_1_is_an_encoding(tmp_path: Path) -> None:
    spec = load_spec(
        load_job(tmp_path, "type: convert\ninput: {path: x.csv, csv: {encoding: latin-1}}")
    )
    assert spec.jobs[0].input.csv.encoding == "latin-1"


def test_a_processor_is_looked_for_in_the_spec_folder(tmp_path: Path) -> None:
    assert python_path(str(tmp_path / "jobs.yaml")) == [str(tmp_path)]
    assert python_path("<stdin>") == [] and python_path(None) == []


def test_cron_lines_carry_pythonpath(tmp_path: Path) -> None:
    from orchestrator.scheduling.fire_times import crontab_lines

    path = load_job(tmp_path, "type: noop\ninput: {sequence: 1}\nschedule: '0 2 * * *'")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/srv/etl/lib"}
    [line] = crontab_lines(load_spec(path), "/opt/jobctl/bin/jobctl", tmp_path / "logs", env)
    assert "PYTHONPATH=/srv/etl/lib" in line.line and "PATH=/usr/bin:/bin" in line.line
