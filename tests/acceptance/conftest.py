from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.cli import cli_env


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh store URL of each backend."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return cli_env(tmp_path, db_url)
