"""Least privilege: user code never sees the store's credentials, and gets what
the job's `env:` section names (pass from the coordinator, set literally)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env, jobctl

SECRETS = {"PGPASSWORD": "not-for-user-code", "PGCONNECT_TIMEOUT": "7"}


def env_spec(tmp_path: Path) -> Path:
    data = tmp_path / "data.csv"
    data.write_text("id\n1\n2\n")
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\n"
        "jobs:\n"
        "  - name: py-env\n"
        "    python: tests.procs:dump_env\n"
        f"    params: {{out: '{tmp_path / 'py'}'}}\n"
        "    input: {path: data.csv, format: csv}\n"
        "    env: {pass: [AWS_PROFILE], set: {JOB_GREETING: hello}}\n"
        "  - name: cmd-env\n"
        "    command: [sh, -c, 'env > \"$0\"; cat', " + f"'{tmp_path / 'cmd.env'}']\n"
        "    input: {path: data.csv, format: csv}\n"
        "    env: {pass: [AWS_PROFILE], set: {JOB_GREETING: hello}}\n"
    )
    return spec


def test_user_code_gets_no_store_credentials_and_the_named_env(tmp_path: Path, pg_url: str) -> None:
    env = {**cli_env(tmp_path, pg_url), **SECRETS, "AWS_PROFILE": "dev", "OTHER_VAR": "kept"}
    result = jobctl("run", str(env_spec(tmp_path)), "--workers", "1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    python_env = json.loads((tmp_path / "py.0").read_text())
    lines = (tmp_path / "cmd.env").read_text().splitlines()
    command_env = dict(line.split("=", 1) for line in lines if "=" in line)
    for seen in (python_env, command_env):
        assert not [name for name in seen if name.startswith("PG")], seen
        assert "JOBCTL_DATABASE_URL" not in seen
        assert pg_url not in json.dumps(seen)
        assert seen["AWS_PROFILE"] == "dev" and seen["JOB_GREETING"] == "hello"
        assert seen["OTHER_VAR"] == "kept"  # the rest of the environment stays


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{pass: [JOBCTL_DATABASE_URL]}", "store's credential"),
        ("{keep: [HOME]}", "unknown key 'keep'"),
        ("{set: {API_TOKEN: abc}}", "credentials must not be written"),
        ("{set: {URL: 'postgresql://u:pw@h/db'}}", "credentials must not be written"),
        ("{pass: ['not a name']}", "not an environment variable name"),
    ],
)
def test_bad_env_sections_are_refused_at_validate(
    tmp_path: Path, section: str, message: str
) -> None:
    spec = tmp_path / "jobs.yaml"
    spec.write_text(
        "version: 1\njobs:\n  - name: a\n    type: noop\n    input: {sequence: 1}\n"
        f"    env: {section}\n"
    )
    result = jobctl("validate", str(spec), env=cli_env(tmp_path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "jobs.yaml:6" in result.stderr, result.stderr
