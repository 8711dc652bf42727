"""Fixtures shared by all tests: databases on both backends the service supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import fresh_database, postgres_server

# The real server and the browser, one of each for the whole run (tests/support/browser.py).
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server's `custos_test` database, started once per session.

    Set CUSTOS_TEST_POSTGRES_URL to use a server of your own instead of a throwaway one.
    """
    with postgres_server() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database of the test's own, on SQLite and on PostgreSQL.

    The PostgreSQL server starts only when the first test that needs it runs (so
    `-m "not postgres"` never starts one), and each test gets a new database on it.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'custos.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    with fresh_database(server_url) as url:
        yield url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where an installation under test keeps its key files."""
    return tmp_path / "keys"
