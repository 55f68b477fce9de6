"""Real databases for integration tests: SQLite files and a throwaway PostgreSQL cluster.

PostgreSQL tests need Debian's `postgresql` server binaries (CI installs them). Outside CI they
skip when no server is installed; under CI=true a skip fails the run (tests/conftest.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from tests.integration.postgres import cluster, server_binaries

_NAMES = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The base URL of a session-wide PostgreSQL cluster."""
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    with cluster() as url:
        yield url


def fresh_postgres_database(base_url: str) -> str:
    """A new empty database in the cluster; returns its URL."""
    name = f"il2_test_{next(_NAMES)}"
    admin = create_engine(f"{base_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base_url}/{name}"


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'il2.sqlite3'}"
    base: str = request.getfixturevalue("postgres_url")
    return fresh_postgres_database(base)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[App]:
    """il2 on a migrated database of each kind."""
    built = build_app(Settings(database_url=database_url), clock=clock)
    upgrade_database(built)
    yield built
    built.engine.dispose()
